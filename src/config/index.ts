// SPDX-License-Identifier: Apache-2.0
/**
 * The configuration, one concern per file: formats.ts (value formats and their parsers),
 * schema.ts (every key, with its default), types.ts (AgentConfig, derived from the schema),
 * sources.ts (environment, flags, file), load.ts (merging, validation, the messages) and
 * redact.ts (secrets kept out of output). docs/configuration.md is generated from the schema.
 */
export { COPYABLE_OWNER_ATTRIBUTES, parseDuration, parseHeaders, parseSize } from './formats';
export { type LoadOptions, loadConfig } from './load';
export { redactUrl } from './redact';
export { describeDefault, SCHEMA, type SchemaLeaf, schemaLeaves } from './schema';
export { configFlags, effectiveEnv, nearestFlag, TOOLING_ENV } from './sources';
export type { AgentConfig } from './types';
