// SPDX-License-Identifier: Apache-2.0
/**
 * Loopback HTTP servers standing in for webhook receivers: one that answers 200, one that
 * answers 500, one that holds every request without answering (slow), and a URL where nothing
 * listens (connection refused). Each records what it received; all close at test end.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type SinkMode = 'ok' | 'error' | 'slow';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Parsed JSON body (null if not JSON). */
  json: unknown;
  /** Sequence number across all sinks of this process: orders events without clocks. */
  seq: number;
}

export interface Sink {
  /** The URL to configure, with a secret-looking path and query. */
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** Requests held open right now (slow mode). */
  readonly held: number;
  mode: SinkMode;
  /** Resolves once `n` requests have arrived (rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  /** Answers every held request with 200 (e.g. to let a slow sink go). */
  release(): void;
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

let seq = 0;
/** The next number in the process-wide sequence shared with the sinks' requests. */
export function nextSeq(): number {
  return ++seq;
}

export const SECRET = 'S3cr3tT0ken';

export async function startSink(t: Teardown, mode: SinkMode, name = 'hook'): Promise<Sink> {
  const requests: ReceivedRequest[] = [];
  const held = new Set<http.ServerResponse>();
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json, seq: nextSeq() });
      for (let i = waiters.length - 1; i >= 0; i--) if (requests.length >= waiters[i]!.n) waiters.splice(i, 1)[0]!.resolve();
      if (sink.mode === 'ok') res.writeHead(200).end('ok');
      else if (sink.mode === 'error') res.writeHead(500).end('broken');
      else {
        held.add(res);
        res.on('close', () => held.delete(res));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const sink: Sink = {
    url: `http://127.0.0.1:${port}/services/${name}/${SECRET}?token=${SECRET}`,
    requests,
    get held() {
      return held.size;
    },
    mode,
    waitFor(n, timeoutMs = 30_000) {
      if (requests.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: ${requests.length} requests, waited for ${n}`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    release() {
      for (const res of held) res.writeHead(200).end('late');
    },
  };
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return sink;
}

/** A URL on loopback where nothing listens: connections are refused. */
export async function refusingUrl(name = 'refused'): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/services/${name}/${SECRET}?token=${SECRET}`;
}
