// SPDX-License-Identifier: Apache-2.0
/**
 * A local OTLP/HTTP sink for the running agent: accepts every POST on 127.0.0.1, answers an
 * empty ExportMetricsServiceResponse (200), and keeps the size and time of each request body.
 * It does not decode: what it measures is what the agent puts on the wire.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SinkRequest {
  /** ms since the epoch */
  time: number;
  bytes: number;
}

export interface OtlpSink {
  readonly url: string;
  readonly requests: SinkRequest[];
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const requests: SinkRequest[] = [];
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      requests.push({ time: Date.now(), bytes });
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/metrics`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
