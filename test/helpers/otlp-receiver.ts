// SPDX-License-Identifier: Apache-2.0
/**
 * OTLP receivers on loopback for tests: gRPC (a @grpc/grpc-js server implementing
 * MetricsService/Export) and HTTP/protobuf (node:http), either with TLS if asked. Requests are decoded with the
 * OpenTelemetry project's own generated protobuf code (the dev dependency
 * `otlp-proto-decoders`, an npm alias of @opentelemetry/otlp-transformer 0.57.2), never with
 * hand-written definitions. Each request is flattened into points that tests can compare.
 *
 * Failure modes a test can switch on (fail(), delayMs, partial): gRPC status codes (with
 * RetryInfo in grpc-status-details-bin), HTTP statuses (with Retry-After), a slow peer,
 * partial_success; startBlackHole() is a TCP server that accepts and never answers.
 *
 * grpc-js decompresses gRPC messages itself and hides the grpc-encoding header and the
 * per-message compressed flag; startGrpcWireTap() is an HTTP/2 forwarder that sits in front of
 * the receiver and records what actually crossed the wire, for the compression test.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';

// The generated code is CommonJS (protobufjs static module); its typings are a bare Root.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const root = require('otlp-proto-decoders/build/src/generated/root') as GeneratedRoot;

interface ProtoType {
  decode(bytes: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
  toObject(message: object, options: Record<string, unknown>): Record<string, unknown>;
}
interface GeneratedRoot {
  opentelemetry: {
    proto: {
      collector: { metrics: { v1: { ExportMetricsServiceRequest: ProtoType; ExportMetricsServiceResponse: ProtoType } } };
    };
  };
}

const PROTO = root.opentelemetry.proto.collector.metrics.v1;
export const EXPORT_METHOD = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

export type AttrValue = string | number | boolean | null;
export type AttrKind = 'string' | 'int' | 'double' | 'bool' | 'other';

/** One data point, flattened with its metric's descriptor. */
export interface Point {
  metric: string;
  unit: string;
  description: string;
  /** gauge, sum, histogram, ... (the OTLP oneof) */
  kind: string;
  attributes: Record<string, AttrValue>;
  /** The AnyValue kind of each attribute: ebpf.map.id must be an int, not a string. */
  attributeKinds: Record<string, AttrKind>;
  value: number;
  /** asInt or asDouble */
  valueKind: 'int' | 'double';
  scope: { name: string; version: string };
  timeUnixNano: number;
  startTimeUnixNano: number;
}

export interface Received {
  transport: 'grpc' | 'http';
  /** The HTTP path (gRPC: the method path). */
  path: string;
  /** gRPC metadata or HTTP headers, lower-case names; multiple values joined with ", ". */
  headers: Record<string, string>;
  /** HTTP: Content-Encoding; gRPC: unknown here (see startGrpcWireTap). */
  contentEncoding: string | null;
  /** HTTP: the body as received (before any gunzip). */
  wireBody: Buffer | null;
  resource: Record<string, AttrValue>;
  resourceKinds: Record<string, AttrKind>;
  points: Point[];
}

type Obj = Record<string, unknown>;

function anyValue(v: Obj | undefined): { value: AttrValue; kind: AttrKind } {
  if (!v) return { value: null, kind: 'other' };
  if ('stringValue' in v) return { value: v.stringValue as string, kind: 'string' };
  if ('intValue' in v) return { value: Number(v.intValue), kind: 'int' };
  if ('doubleValue' in v) return { value: v.doubleValue as number, kind: 'double' };
  if ('boolValue' in v) return { value: v.boolValue as boolean, kind: 'bool' };
  return { value: JSON.stringify(v), kind: 'other' };
}

function attributes(list: unknown): { values: Record<string, AttrValue>; kinds: Record<string, AttrKind> } {
  const values: Record<string, AttrValue> = {};
  const kinds: Record<string, AttrKind> = {};
  for (const kv of (list as Obj[] | undefined) ?? []) {
    const { value, kind } = anyValue(kv.value as Obj | undefined);
    values[kv.key as string] = value;
    kinds[kv.key as string] = kind;
  }
  return { values, kinds };
}

const METRIC_KINDS = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] as const;

/** Decodes one ExportMetricsServiceRequest into flat points (several resources are merged). */
export function decodeRequest(bytes: Uint8Array): Pick<Received, 'resource' | 'resourceKinds' | 'points'> {
  const message = PROTO.ExportMetricsServiceRequest.decode(bytes);
  const o = PROTO.ExportMetricsServiceRequest.toObject(message, { longs: Number, arrays: true, defaults: false });
  const out: Pick<Received, 'resource' | 'resourceKinds' | 'points'> = { resource: {}, resourceKinds: {}, points: [] };
  for (const rm of o.resourceMetrics as Obj[]) {
    const res = attributes((rm.resource as Obj | undefined)?.attributes);
    Object.assign(out.resource, res.values);
    Object.assign(out.resourceKinds, res.kinds);
    for (const sm of (rm.scopeMetrics as Obj[] | undefined) ?? []) {
      const scopeObj = (sm.scope as Obj | undefined) ?? {};
      const scope = { name: (scopeObj.name as string) ?? '', version: (scopeObj.version as string) ?? '' };
      for (const m of (sm.metrics as Obj[] | undefined) ?? []) {
        const kind = METRIC_KINDS.find((k) => m[k] !== undefined) ?? 'none';
        const data = (m[kind] as Obj | undefined) ?? {};
        for (const dp of (data.dataPoints as Obj[] | undefined) ?? []) {
          const a = attributes(dp.attributes);
          const isInt = dp.asInt !== undefined;
          out.points.push({
            metric: m.name as string,
            unit: (m.unit as string) ?? '',
            description: (m.description as string) ?? '',
            kind,
            attributes: a.values,
            attributeKinds: a.kinds,
            value: Number(isInt ? dp.asInt : (dp.asDouble ?? dp.sum ?? NaN)),
            valueKind: isInt ? 'int' : 'double',
            scope,
            timeUnixNano: Number(dp.timeUnixNano ?? 0),
            startTimeUnixNano: Number(dp.startTimeUnixNano ?? 0),
          });
        }
      }
    }
  }
  return out;
}

/** What a receiver answers instead of OK. */
export type Fault =
  | { grpc: number; details?: string; retryDelayMs?: number }
  | { http: number; retryAfter?: string; body?: string };

/** One request as it arrived, accepted or refused. */
export interface Attempt {
  /** ms since the epoch */
  time: number;
  accepted: boolean;
  /** The status answered (grpc code or http status); 0/200 when accepted. */
  status: number;
  /** Distinct collection times of the request's per-map points (what it carried). */
  times: number[];
}

export interface Receiver {
  readonly transport: 'grpc' | 'http';
  /** Every request that arrived, accepted or not, in order. */
  readonly attempts: Attempt[];
  /** The next `n` requests get `fault` (and are not put in `requests`). */
  fail(n: number, fault: Fault): void;
  /** Every answer waits this long (a slow peer). */
  delayMs: number;
  /** Accepted requests answer partial_success with this many rejected points. */
  partial: { rejected: number; message: string } | null;
  readonly port: number;
  /** What an agent's otlp.endpoint should be: http://127.0.0.1:PORT (grpc) or .../v1/metrics (http). */
  readonly endpoint: string;
  /** Every request received so far, in order. */
  readonly requests: Received[];
  /** Resolves with the first request (already received or not) that satisfies the predicate. */
  waitFor(predicate: (r: Received) => boolean, what: string, timeoutMs?: number): Promise<Received>;
  close(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

interface Waiter {
  predicate: (r: Received) => boolean;
  resolve: (r: Received) => void;
}

/** Shared bookkeeping of both receivers. */
class Inbox {
  readonly requests: Received[] = [];
  #waiters: Waiter[] = [];

  push(r: Received): void {
    this.requests.push(r);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.predicate(r)) return true;
      w.resolve(r);
      return false;
    });
  }

  waitFor(predicate: (r: Received) => boolean, what: string, timeoutMs = 30_000): Promise<Received> {
    const found = this.requests.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no OTLP request ${what} within ${timeoutMs} ms (${this.requests.length} received)`));
      }, timeoutMs);
      const done = (r: Received) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.#waiters.push({ predicate, resolve: done });
    });
  }
}

function flatHeaders(h: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.map(String).join(', ') : Buffer.isBuffer(v) ? v.toString('base64') : String(v);
  }
  return out;
}

const EMPTY_RESPONSE = Buffer.from(PROTO.ExportMetricsServiceResponse.encode({}).finish());

function response(partial: Receiver['partial']): Buffer {
  if (!partial) return EMPTY_RESPONSE;
  return Buffer.from(PROTO.ExportMetricsServiceResponse.encode({ partialSuccess: { rejectedDataPoints: partial.rejected, errorMessage: partial.message } }).finish());
}

/** Protobuf by hand for the one message the generated code here lacks: google.rpc.Status with RetryInfo. */
function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
const field = (no: number, body: Buffer) => Buffer.concat([varint((no << 3) | 2), varint(body.length), body]);
const num = (no: number, v: number) => Buffer.concat([varint(no << 3), varint(v)]);
export function retryInfoStatus(code: number, message: string, delayMs: number): Buffer {
  const duration = Buffer.concat([num(1, Math.floor(delayMs / 1000)), num(2, (delayMs % 1000) * 1e6)]);
  const retryInfo = field(1, duration);
  const any = Buffer.concat([field(1, Buffer.from('type.googleapis.com/google.rpc.RetryInfo')), field(2, retryInfo)]);
  return Buffer.concat([num(1, code), field(2, Buffer.from(message)), field(3, any)]);
}

/** Faults, delay and partial_success of one receiver, shared by both transports. */
class Control {
  readonly attempts: Attempt[] = [];
  #faults: Fault[] = [];
  delayMs = 0;
  partial: Receiver['partial'] = null;

  fail(n: number, fault: Fault): void {
    for (let i = 0; i < n; i++) this.#faults.push(fault);
  }

  next(): Fault | undefined {
    return this.#faults.shift();
  }

  record(accepted: boolean, status: number, decoded: Pick<Received, 'points'> | null): void {
    // ms from ns: rounded, the double holding ~1.8e18 ns is off by up to 256 ns.
    const times = decoded ? [...new Set(decoded.points.filter((p) => 'ebpf.map.id' in p.attributes).map((p) => Math.round(p.timeUnixNano / 1e6)))] : [];
    this.attempts.push({ time: Date.now(), accepted, status, times });
  }

  async wait(): Promise<void> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
  }
}

/**
 * An OTLP/gRPC receiver (grpc-js) on 127.0.0.1. port 0 (the default) picks a free one; a
 * given port lets a test bring a collector up where an agent is already trying to send.
 */
export async function startGrpcReceiver(t: Teardown, options: { port?: number; tls?: TlsIdentity } = {}): Promise<Receiver> {
  const inbox = new Inbox();
  const control = new Control();
  const server = new grpc.Server();
  const raw = (b: Buffer) => b;
  server.addService(
    {
      Export: {
        path: EXPORT_METHOD,
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    {
      Export: async (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        let decoded: ReturnType<typeof decodeRequest>;
        try {
          decoded = decodeRequest(call.request);
        } catch (e) {
          control.record(false, grpc.status.INVALID_ARGUMENT, null);
          callback({ code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message });
          return;
        }
        await control.wait();
        const fault = control.next();
        if (fault && 'grpc' in fault) {
          control.record(false, fault.grpc, decoded);
          const metadata = new grpc.Metadata();
          if (fault.retryDelayMs !== undefined) metadata.set('grpc-status-details-bin', retryInfoStatus(fault.grpc, fault.details ?? 'retry later', fault.retryDelayMs));
          callback({ code: fault.grpc, details: fault.details ?? grpc.status[fault.grpc] ?? 'fault', metadata });
          return;
        }
        control.record(true, 0, decoded);
        inbox.push({
          transport: 'grpc',
          path: EXPORT_METHOD,
          headers: flatHeaders(call.metadata.getMap()),
          contentEncoding: null,
          wireBody: null,
          ...decoded,
        });
        callback(null, response(control.partial));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `127.0.0.1:${options.port ?? 0}`,
      options.tls
        ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }])
        : grpc.ServerCredentials.createInsecure(),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  );
  let closed = false;
  const close = () =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      closed = true;
      server.tryShutdown(() => resolve());
      // An agent holding a connection open must not keep the test waiting.
      setTimeout(() => server.forceShutdown(), 2000).unref();
    });
  t.teardown(close);
  return withControl(control, {
    transport: 'grpc',
    port,
    endpoint: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests: inbox.requests,
    waitFor: (p, what, ms) => inbox.waitFor(p, what, ms),
    close,
  });
}

/** An OTLP/HTTP protobuf receiver (node:http) on 127.0.0.1; gunzips Content-Encoding gzip. */
export async function startHttpReceiver(t: Teardown, options: { port?: number; tls?: TlsIdentity } = {}): Promise<Receiver> {
  const inbox = new Inbox();
  const control = new Control();
  const handler: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const wireBody = Buffer.concat(chunks);
      const encoding = req.headers['content-encoding'] ?? null;
      let decoded: ReturnType<typeof decodeRequest>;
      try {
        if (req.method !== 'POST') throw new Error(`method ${req.method}`);
        decoded = decodeRequest(encoding === 'gzip' ? zlib.gunzipSync(wireBody) : wireBody);
      } catch (e) {
        control.record(false, 400, null);
        res.writeHead(400, { 'content-type': 'text/plain' }).end((e as Error).message);
        return;
      }
      await control.wait();
      const fault = control.next();
      if (fault && 'http' in fault) {
        control.record(false, fault.http, decoded);
        res.writeHead(fault.http, { 'content-type': 'text/plain', ...(fault.retryAfter !== undefined && { 'retry-after': fault.retryAfter }) }).end(fault.body ?? 'fault');
        return;
      }
      control.record(true, 200, decoded);
      inbox.push({
        transport: 'http',
        path: req.url ?? '',
        headers: flatHeaders(req.headers),
        contentEncoding: encoding,
        wireBody,
        ...decoded,
      });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(response(control.partial));
    });
  };
  const server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler) : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const close = () =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      closed = true;
      server.close(() => resolve());
      server.closeAllConnections();
    });
  t.teardown(close);
  return withControl(control, {
    transport: 'http',
    port,
    endpoint: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/v1/metrics`,
    requests: inbox.requests,
    waitFor: (p, what, ms) => inbox.waitFor(p, what, ms),
    close,
  });
}

type BaseReceiver = Omit<Receiver, 'attempts' | 'fail' | 'delayMs' | 'partial'>;

function withControl(control: Control, r: BaseReceiver): Receiver {
  return {
    ...r,
    attempts: control.attempts,
    fail: (n, fault) => control.fail(n, fault),
    get delayMs() {
      return control.delayMs;
    },
    set delayMs(ms: number) {
      control.delayMs = ms;
    },
    get partial() {
      return control.partial;
    },
    set partial(p) {
      control.partial = p;
    },
  };
}

/** A TCP server on 127.0.0.1 that accepts every connection and never writes a byte. */
export async function startBlackHole(t: Teardown): Promise<{ port: number; open(): number; accepted(): number }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.resume(); // read and discard, answer nothing
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, open: () => sockets.size, accepted: () => accepted };
}

/** A gRPC message as it crossed the wire: the 5-byte prefix of the gRPC framing. */
export interface WireMessage {
  path: string;
  /** The request's grpc-encoding header (gzip, identity) or null. */
  grpcEncoding: string | null;
  /** The message's compressed flag (1 = compressed with grpcEncoding). */
  compressed: boolean;
  /** Length of the message on the wire. */
  length: number;
  /** The message bytes, decompressed when compressed (so a test can decode them too). */
  message: Buffer;
}

/** Splits a gRPC request body into length-prefixed messages. */
function grpcMessages(body: Buffer): Array<{ compressed: boolean; bytes: Buffer }> {
  const out: Array<{ compressed: boolean; bytes: Buffer }> = [];
  let off = 0;
  while (off + 5 <= body.length) {
    const len = body.readUInt32BE(off + 1);
    out.push({ compressed: body[off] === 1, bytes: body.subarray(off + 5, off + 5 + len) });
    off += 5 + len;
  }
  if (off !== body.length) throw new Error(`trailing ${body.length - off} bytes in a gRPC body`);
  return out;
}

/**
 * An HTTP/2 forwarder on 127.0.0.1 in front of a gRPC receiver: records every request
 * message as it crossed the wire (grpc-encoding header, compressed flag, size), then passes
 * the request and the response through unchanged.
 */
export async function startGrpcWireTap(t: Teardown, targetPort: number): Promise<{ port: number; endpoint: string; messages: WireMessage[] }> {
  const messages: WireMessage[] = [];
  const upstream = http2.connect(`http://127.0.0.1:${targetPort}`);
  upstream.on('error', () => {});
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const forward: http2.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':') || k === ':method' || k === ':path') forward[k] = v;
    const up = upstream.request(forward);
    const chunks: Buffer[] = [];
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('data', (c: Buffer) => {
      chunks.push(c);
      up.write(c);
    });
    stream.on('end', () => {
      up.end();
      const encoding = (headers['grpc-encoding'] as string | undefined) ?? null;
      for (const m of grpcMessages(Buffer.concat(chunks))) {
        messages.push({
          path: String(headers[':path']),
          grpcEncoding: encoding,
          compressed: m.compressed,
          length: m.bytes.length,
          message: m.compressed && encoding === 'gzip' ? zlib.gunzipSync(m.bytes) : Buffer.from(m.bytes),
        });
      }
    });
    up.on('response', (h) => {
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') || k === ':status') out[k] = v;
      stream.respond(out, { waitForTrailers: true });
    });
    up.on('data', (c: Buffer) => stream.write(c));
    up.on('trailers', (h) => (trailers = h));
    up.on('end', () => stream.end());
    up.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('wantTrailers', () => {
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(trailers)) if (!k.startsWith(':')) out[k] = v;
      stream.sendTrailers(out);
    });
    stream.on('error', () => up.close());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        upstream.close();
        server.close(() => resolve());
        setTimeout(resolve, 2000).unref();
      }),
  );
  return { port, endpoint: `http://127.0.0.1:${port}`, messages };
}

/** A server's TLS identity: PEM certificate and key. */
export interface TlsIdentity {
  cert: Buffer;
  key: Buffer;
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost (openssl), written to dir as
 * cert.pem (which is also the CA a client must trust) and key.pem.
 */
export function selfSignedCert(dir: string): TlsIdentity & { certFile: string } {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), certFile };
}

/** A port that was free a moment ago on 127.0.0.1 (for a receiver started later). */
export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Points of one metric, optionally only those of one map id. */
export function pointsOf(r: Pick<Received, 'points'>, metric: string, mapId?: number): Point[] {
  return r.points.filter((p) => p.metric === metric && (mapId === undefined || p.attributes['ebpf.map.id'] === mapId));
}
