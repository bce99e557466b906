// SPDX-License-Identifier: Apache-2.0
/**
 * OTLP transports through the OpenTelemetry SDK's export delegates, so headers, TLS,
 * compression, timeouts and the OTEL_EXPORTER_OTLP_* variables stay the SDK's
 * (convertLegacy*Options merge them). They get a pass-through serializer: a request is
 * already OTLP protobuf (src/export/encode.ts).
 *
 * HTTP: createOtlpHttpExportDelegate, the SDK's own request code. gRPC:
 * createOtlpNetworkExportDelegate with the SDK's gRPC configuration, over a channel of our
 * own (GrpcChannel below), because the SDK's gRPC transport takes no channel options and
 * (measured, issue 10) leaks a socket each time it replaces a client stuck on a peer that
 * accepts TCP and never answers, and after an outage waits out grpc-js's reconnect backoff
 * (up to 2 min; 6-20 s measured) before it tries the collector again.
 *
 * Each send resolves with what the endpoint answered, classified for the delivery loop
 * (src/export/delivery.ts): delivered (with any partial_success rejections), retryable (with
 * the server's RetryInfo or Retry-After delay when it gave one) or rejected for good.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { type ChannelCredentials, Client, connectivityState, credentials, Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { ExportResultCode } from '@opentelemetry/core';
import {
  CompressionAlgorithm,
  createOtlpNetworkExportDelegate,
  type ExportResponse,
  type IExporterTransport,
  type IOtlpExportDelegate,
} from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { convertLegacyOtlpGrpcOptions, createOtlpGrpcExporterMetrics } from '@opentelemetry/otlp-grpc-exporter-base';
import { VERSION } from '../version';
import type { AgentConfig } from '../config';
import { redactUrl } from '../config/redact';
import type { EncodedRequest } from './encode';

/** What one send came to. */
export type SendOutcome =
  | { kind: 'delivered'; rejectedPoints: number; rejectMessage: string }
  | { kind: 'retryable'; reason: string; error: string; retryAfterMs: number | null }
  | { kind: 'rejected'; reason: string; error: string };

export interface Transport {
  /** e.g. "otlp grpc http://localhost:4317/" (never a secret). */
  readonly describe: string;
  send(request: EncodedRequest): Promise<SendOutcome>;
  shutdown(): Promise<void>;
}

const GRPC_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

/**
 * gRPC codes the OTLP specification makes retryable. RESOURCE_EXHAUSTED only with RetryInfo
 * (the server says when to come back; without it the request is too big or over a quota).
 */
const GRPC_RETRYABLE = new Set([GrpcStatus.CANCELLED, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.ABORTED, GrpcStatus.OUT_OF_RANGE, GrpcStatus.UNAVAILABLE, GrpcStatus.DATA_LOSS]);

/** HTTP statuses the OTLP specification makes retryable. */
const HTTP_RETRYABLE = new Set([429, 502, 503, 504]);

// ---- a minimal protobuf reader for the responses -------------------------------------

interface Field {
  no: number;
  wire: number;
  /** varint value (wire 0) */
  value: number;
  /** length-delimited bytes (wire 2) */
  bytes: Uint8Array | null;
}

function* fields(b: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (pos >= b.length) throw new Error('truncated varint');
      const byte = b[pos++]!;
      v += (byte & 0x7f) * mul;
      if (byte < 0x80) return v;
      mul *= 128;
    }
  };
  while (pos < b.length) {
    const key = varint();
    const wire = key & 7;
    const no = Math.floor(key / 8);
    if (wire === 0) yield { no, wire, value: varint(), bytes: null };
    else if (wire === 2) {
      const len = varint();
      if (pos + len > b.length) throw new Error('truncated field');
      yield { no, wire, value: 0, bytes: b.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

/** ExportMetricsServiceResponse.partial_success: rejected_data_points (1), error_message (2). */
export function readPartialSuccess(b: Uint8Array | undefined): { rejectedPoints: number; message: string } {
  let rejectedPoints = 0;
  let message = '';
  if (!b || b.length === 0) return { rejectedPoints, message };
  for (const f of fields(b)) {
    if (f.no !== 1 || !f.bytes) continue;
    for (const g of fields(f.bytes)) {
      if (g.no === 1 && g.wire === 0) rejectedPoints = g.value;
      if (g.no === 2 && g.bytes) message = Buffer.from(g.bytes).toString('utf8');
    }
  }
  return { rejectedPoints, message };
}

/**
 * The retry delay of a google.rpc.Status (grpc-status-details-bin) holding a
 * google.rpc.RetryInfo, ms; null when there is none.
 */
export function readRetryInfo(statusBin: Uint8Array | undefined): number | null {
  if (!statusBin) return null;
  try {
    for (const f of fields(statusBin)) {
      if (f.no !== 3 || !f.bytes) continue; // Status.details: repeated Any
      let typeUrl = '';
      let value: Uint8Array | null = null;
      for (const g of fields(f.bytes)) {
        if (g.no === 1 && g.bytes) typeUrl = Buffer.from(g.bytes).toString('utf8');
        if (g.no === 2 && g.bytes) value = g.bytes;
      }
      if (!typeUrl.endsWith('google.rpc.RetryInfo') || !value) continue;
      for (const h of fields(value)) {
        if (h.no !== 1 || !h.bytes) continue; // retry_delay: Duration
        let seconds = 0;
        let nanos = 0;
        for (const d of fields(h.bytes)) {
          if (d.no === 1 && d.wire === 0) seconds = d.value;
          if (d.no === 2 && d.wire === 0) nanos = d.value;
        }
        return seconds * 1000 + nanos / 1e6;
      }
    }
  } catch {
    return null;
  }
  return null;
}

// ---- classification ------------------------------------------------------------------

interface GrpcError extends Error {
  code?: number | string;
  details?: string;
  metadata?: Metadata;
}

const firstLine = (e: Error | undefined) => (e?.message ?? 'unknown error').split('\n')[0]!;

function classifyGrpc(r: ExportResponse): SendOutcome {
  if (r.status === 'success') return delivered(r.data);
  const e = r.error as GrpcError | undefined;
  const code = typeof e?.code === 'number' ? e.code : undefined;
  if (code === undefined) return { kind: 'retryable', reason: (e?.code as string | undefined) ?? 'error', error: firstLine(e), retryAfterMs: null };
  const name = GrpcStatus[code] ?? String(code);
  const details = e?.metadata?.get('grpc-status-details-bin')[0];
  const retryAfterMs = readRetryInfo(typeof details === 'string' ? Buffer.from(details, 'binary') : details);
  if (GRPC_RETRYABLE.has(code) || (code === GrpcStatus.RESOURCE_EXHAUSTED && retryAfterMs !== null))
    return { kind: 'retryable', reason: name, error: firstLine(e), retryAfterMs };
  return { kind: 'rejected', reason: name, error: firstLine(e) };
}

interface HttpError extends Error {
  code?: number | string;
}

function classifyHttp(r: ExportResponse): SendOutcome {
  if (r.status === 'success') return delivered(r.data);
  if (r.status === 'retryable') {
    const e = r.error as HttpError | undefined;
    const reason = typeof e?.code === 'string' ? e.code : e ? 'timeout' : 'http retryable';
    return { kind: 'retryable', reason, error: e ? firstLine(e) : 'the endpoint answered a retryable status', retryAfterMs: r.retryInMillis !== undefined && r.retryInMillis >= 0 ? r.retryInMillis : null };
  }
  const e = r.error as HttpError;
  if (typeof e.code === 'number') {
    const reason = `http ${e.code}`;
    return HTTP_RETRYABLE.has(e.code) ? { kind: 'retryable', reason, error: firstLine(e), retryAfterMs: null } : { kind: 'rejected', reason, error: firstLine(e) };
  }
  // Network errors the SDK does not call retryable (a TLS failure, a refused header): they
  // may clear (a certificate renewed, a proxy back), so they are retried like an outage.
  return { kind: 'retryable', reason: typeof e.code === 'string' ? e.code : 'error', error: firstLine(e), retryAfterMs: null };
}

function delivered(data: Uint8Array | undefined): SendOutcome {
  try {
    const p = readPartialSuccess(data);
    return { kind: 'delivered', rejectedPoints: p.rejectedPoints, rejectMessage: p.message };
  } catch {
    return { kind: 'delivered', rejectedPoints: 0, rejectMessage: '' };
  }
}

// ---- the delegates -------------------------------------------------------------------

/** The request is already OTLP protobuf: the serializer hands it through. */
const PASS_THROUGH = {
  serializeRequest: (r: EncodedRequest) => r.bytes,
  // partial_success is read from the transport's response (see capture); the SDK's own
  // handler gets nothing to log twice.
  deserializeResponse: () => ({}),
};

const POINTS_HELPER = { name: 'metric_data_point' as const, countItems: (r: EncodedRequest) => r.points };

/**
 * Puts a recorder between the delegate and its transport: the raw response of each request
 * (retryable or not, RetryInfo, Retry-After, the response body) is what the delegate's
 * ExportResult flattens away. HTTP: the SDK's retrying wrapper is left out too, because the
 * delivery loop retries (with the queue), and the wrapper's retries within one timeout would
 * hide Retry-After. The delegate keeps its transport in `_transport` (0.223.0, pinned): the
 * check below fails loudly if that ever changes.
 */
function capture(delegate: IOtlpExportDelegate<EncodedRequest>, unwrapRetrying: boolean, responses: WeakMap<Uint8Array, ExportResponse>): void {
  const d = delegate as unknown as { _transport?: IExporterTransport & { _transport?: IExporterTransport } };
  let inner = d._transport;
  if (unwrapRetrying) inner = inner?._transport;
  if (!inner || typeof inner.send !== 'function') throw new Error('the OTLP export delegate has no transport where 0.223.0 keeps it');
  const transport = inner;
  d._transport = {
    send: (data, timeoutMillis) =>
      transport.send(data, timeoutMillis).then((r) => {
        responses.set(data, r);
        return r;
      }),
    shutdown: () => transport.shutdown(),
  };
}

/**
 * ChannelCredentials that also keep the sockets grpc-js connects with them: grpc-js never
 * destroys a socket whose HTTP/2 handshake is pending when its channel closes (the peer
 * accepted and never answered), so closing a channel is followed by destroying these.
 */
function trackingCredentials(inner: ChannelCredentials, sockets: Set<Socket>): ChannelCredentials {
  type Connector = { connect(socket: Socket): Promise<unknown> };
  const c = inner as unknown as { _createSecureConnector(...a: unknown[]): Connector };
  if (typeof c._createSecureConnector !== 'function') throw new Error('grpc-js ChannelCredentials lack _createSecureConnector');
  const wrapped = Object.create(inner) as typeof c;
  wrapped._createSecureConnector = (...args: unknown[]) => {
    const connector = c._createSecureConnector.apply(inner, args);
    const connect = connector.connect.bind(connector);
    connector.connect = (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      return connect(socket);
    };
    return connector;
  };
  return wrapped as unknown as ChannelCredentials;
}

/**
 * The gRPC channel under the delegate. After a failed call while the channel is not READY
 * (refused, reset, a handshake that never completes), the next send gets a fresh channel:
 * the delivery loop's backoff paces reconnects, not grpc-js's (which grows to 2 min), and
 * the old channel's sockets are destroyed, so a black-holed peer costs one socket at a time.
 */
class GrpcChannel implements IExporterTransport {
  readonly #address: string;
  readonly #credentials: () => ChannelCredentials;
  readonly #metadata: () => Metadata;
  readonly #options: Record<string, string | number>;
  #client: Client | null = null;
  #sockets = new Set<Socket>();
  #metadataValue: Metadata | null = null;

  constructor(o: { address: string; credentials: () => ChannelCredentials; metadata: () => Metadata; compression: 'gzip' | 'none'; userAgent?: string }) {
    this.#address = o.address;
    this.#credentials = o.credentials;
    this.#metadata = o.metadata;
    this.#options = {
      'grpc.default_compression_algorithm': o.compression === 'gzip' ? 2 : 0,
      'grpc.primary_user_agent': `${o.userAgent ? `${o.userAgent} ` : ''}ebpf-map-pressure/${VERSION}`,
      // Our own channel's subchannels: closing it closes them now, not after grpc-js's 10 s pool sweep.
      'grpc.use_local_subchannel_pool': 1,
      // The delivery loop retries; grpc-js must not retry behind it.
      'grpc.enable_retries': 0,
      'grpc.initial_reconnect_backoff_ms': 1000,
      'grpc.max_reconnect_backoff_ms': 5000,
      // Pings during a call find a peer that went silent mid-request.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    };
  }

  send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    let client: Client;
    try {
      this.#metadataValue ??= this.#metadata();
      client = this.#client ??= new Client(this.#address, trackingCredentials(this.#credentials(), this.#sockets), this.#options);
    } catch (error) {
      return Promise.resolve({ status: 'failure', error: error as Error });
    }
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        GRPC_PATH,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        this.#metadataValue!,
        { deadline: Date.now() + timeoutMillis },
        (err, response) => {
          if (!err) return resolve({ status: 'success', data: response });
          if (client.getChannel().getConnectivityState(false) !== connectivityState.READY) this.#reset(client);
          resolve({ status: 'failure', error: err });
        },
      );
    });
  }

  #reset(client: Client): void {
    if (this.#client !== client) return;
    this.#client = null;
    client.close();
    const sockets = this.#sockets;
    this.#sockets = new Set();
    for (const s of sockets) s.destroy();
  }

  shutdown(): void {
    if (this.#client) this.#reset(this.#client);
  }
}

class DelegateTransport implements Transport {
  readonly describe: string;
  readonly #delegate: IOtlpExportDelegate<EncodedRequest>;
  readonly #classify: (r: ExportResponse) => SendOutcome;
  readonly #responses = new WeakMap<Uint8Array, ExportResponse>();

  readonly #close: () => void;

  /** @param close ends what is in flight at shutdown (the gRPC channel), so shutdown never waits a timeout out */
  constructor(describe: string, delegate: IOtlpExportDelegate<EncodedRequest>, classify: (r: ExportResponse) => SendOutcome, unwrapRetrying: boolean, close: () => void = () => {}) {
    this.describe = describe;
    this.#delegate = delegate;
    this.#classify = classify;
    this.#close = close;
    capture(delegate, unwrapRetrying, this.#responses);
  }

  send(request: EncodedRequest): Promise<SendOutcome> {
    return new Promise((resolve) => {
      this.#delegate.export(request, (result) => {
        const raw = this.#responses.get(request.bytes);
        this.#responses.delete(request.bytes);
        if (raw) return resolve(this.#classify(raw));
        // The delegate failed before the transport ran (its concurrency limit).
        if (result.code === ExportResultCode.SUCCESS) return resolve({ kind: 'delivered', rejectedPoints: 0, rejectMessage: '' });
        resolve({ kind: 'retryable', reason: 'error', error: firstLine(result.error), retryAfterMs: null });
      });
    });
  }

  /**
   * Closes without waiting for requests in flight (the delegate's own shutdown waits for each
   * to settle, up to its timeout: a peer that never answers would hold the stop that long).
   */
  async shutdown(): Promise<void> {
    this.#close();
    void this.#delegate.shutdown().catch(() => {});
  }
}

export function describeOtlp(config: AgentConfig): string {
  return `otlp ${config.otlp.protocol} ${redactUrl(config.otlp.endpoint)}`;
}

/** The OTLP transport the configuration asks for. `concurrency`: requests in flight at most. */
export function createTransport(config: AgentConfig, concurrency: number): Transport {
  const o = config.otlp;
  const read = (f: string) => (f ? readFileSync(f) : undefined);
  const compression = o.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE;
  // A little above the loop's own bound, so the delegate never refuses one.
  const concurrencyLimit = concurrency + 1;
  if (o.protocol === 'grpc') {
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(o.headers)) metadata.set(k, v);
    const plaintext = o.endpoint.startsWith('http://') || o.insecure;
    const creds = plaintext
      ? credentials.createInsecure()
      : credentials.createSsl(read(o.certificate) ?? null, read(o.clientKey) ?? null, read(o.clientCertificate) ?? null);
    const options = convertLegacyOtlpGrpcOptions({ url: o.endpoint, metadata, credentials: creds, compression, timeoutMillis: o.timeoutMs, concurrencyLimit }, 'METRICS');
    const channel = new GrpcChannel({ address: options.url, credentials: options.credentials, metadata: options.metadata, compression: options.compression, ...(options.userAgent && { userAgent: options.userAgent }) });
    const delegate = createOtlpNetworkExportDelegate(options, PASS_THROUGH, createOtlpGrpcExporterMetrics('otlp_grpc_metric_exporter', POINTS_HELPER, options.url, undefined), channel);
    return new DelegateTransport(describeOtlp(config), delegate, classifyGrpc, false, () => channel.shutdown());
  }
  const ca = read(o.certificate);
  const key = read(o.clientKey);
  const cert = read(o.clientCertificate);
  const options = convertLegacyHttpOptions(
    {
      url: o.endpoint,
      headers: o.headers,
      compression,
      timeoutMillis: o.timeoutMs,
      concurrencyLimit,
      ...((ca || key || cert) && { httpAgentOptions: { ...(ca && { ca }), ...(key && { key }), ...(cert && { cert }) } }),
    },
    'METRICS',
    'v1/metrics',
    { 'Content-Type': 'application/x-protobuf' },
  );
  const delegate = createOtlpHttpExportDelegate(options, PASS_THROUGH, 'otlp_http_metric_exporter', POINTS_HELPER, undefined);
  return new DelegateTransport(describeOtlp(config), delegate, classifyHttp, true);
}
