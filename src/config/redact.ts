// SPDX-License-Identifier: Apache-2.0
/**
 * Secrets kept out of what is printed and logged: header values, URL passwords and query
 * values, webhook URLs past their host (their path is often the secret itself).
 */
import { redactWebhookUrl } from '../pressure/settings';
import { parseHeaders } from './formats';

/** A URL without its password and query values, for logs. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = 'redacted';
    for (const k of [...url.searchParams.keys()]) url.searchParams.set(k, 'redacted');
    return url.toString();
  } catch {
    return value;
  }
}

/** The effective configuration as JSON (keys as the schema writes them), secrets redacted. */
export function printableConfig(raw: Record<string, any>): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  const copy = JSON.parse(JSON.stringify(raw));
  const names = Object.keys(parseHeaders(copy.otlp.headers));
  copy.otlp.headers = Object.fromEntries(names.map((n) => [n, '[redacted]']));
  if (copy.otlp.endpoint) copy.otlp.endpoint = redactUrl(copy.otlp.endpoint);
  copy.webhook.urls = copy.webhook.urls.map(redactWebhookUrl);
  if (copy.owners.kubelet.url) copy.owners.kubelet.url = redactUrl(copy.owners.kubelet.url);
  return JSON.stringify(copy, null, 2);
}
