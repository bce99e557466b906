// SPDX-License-Identifier: Apache-2.0
/** Which maps the agent reports: include/exclude by name glob and by type. */

export interface FilterConfig {
  includeNames: readonly string[];
  excludeNames: readonly string[];
  includeTypes: readonly string[];
  excludeTypes: readonly string[];
}

/** A shell-style glob (`*`, `?`) as an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

export type MapFilter = (name: string, type: string) => boolean;

/** Whether the configuration filters anything out at all. */
export function filters(config: FilterConfig): boolean {
  return config.includeNames.length + config.excludeNames.length + config.includeTypes.length + config.excludeTypes.length > 0;
}

export function makeFilter(config: FilterConfig): MapFilter {
  const include = config.includeNames.map(globToRegExp);
  const exclude = config.excludeNames.map(globToRegExp);
  const includeTypes = new Set(config.includeTypes);
  const excludeTypes = new Set(config.excludeTypes);
  return (name, type) => {
    if (includeTypes.size > 0 && !includeTypes.has(type)) return false;
    if (excludeTypes.has(type)) return false;
    if (include.length > 0 && !include.some((re) => re.test(name))) return false;
    return !exclude.some((re) => re.test(name));
  };
}
