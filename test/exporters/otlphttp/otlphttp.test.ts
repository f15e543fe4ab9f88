import { expect } from 'chai';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { CreateSettings, Signal } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { PermanentError, RefusedError } from '../../../src/errors.js';
import type { HelperExporter } from '../../../src/exporterhelper/exporter.js';
import type { MetricsBatch } from '../../../src/model/index.js';
import { decodeMetricsJson, encodeExportResponseJson } from '../../../src/otlp/json.js';
import { decodeMetricsProto, encodeExportResponseProto, encodeStatusProto } from '../../../src/otlp/proto.js';
import { metricsUrl, validateOtlpHttp } from '../../../exporters/otlphttp/config.js';
import { otlphttpExporterFactory } from '../../../exporters/otlphttp/factory.js';
import { buildMetricsRequest, parseExportResponse, parseStatusMessage } from '../../../exporters/otlphttp/request.js';
import { host, never, sampleMetrics, settings, waitFor } from '../../exporterhelper/fakes.js';

// the registry is lazy: the implementation is imported on first use
await otlphttpExporterFactory.load();

interface Received {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  batch: MetricsBatch | undefined;
}
interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** A real OTLP/HTTP endpoint: records and decodes each request, answers from a script (then 200). */
class FakeOtlpServer {
  readonly received: Received[] = [];
  readonly replies: Reply[] = [];
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        const ct = req.headers['content-type'] ?? '';
        const batch =
          ct === 'application/x-protobuf'
            ? decodeMetricsProto(body).data
            : ct === 'application/json'
              ? decodeMetricsJson(body.toString('utf8')).data
              : undefined;
        this.received.push({ at: Date.now(), method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, batch });
        const r = this.replies.shift() ?? { status: 200 };
        res.writeHead(r.status, { 'content-type': ct || 'application/json', ...(r.headers ?? {}) });
        res.end(r.body ?? (ct === 'application/x-protobuf' ? Buffer.alloc(0) : '{}'));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

function cfg(input: Record<string, unknown>): any {
  const r = validateSchema(otlphttpExporterFactory.configSchema, input, 'exporters.otlphttp');
  expect(r.issues).to.deep.equal([]);
  expect(otlphttpExporterFactory.validate!(r.value as any)).to.deep.equal([]);
  return r.value;
}

function create(set: CreateSettings, c: any, signal: Signal = 'metrics'): HelperExporter<MetricsBatch> {
  return otlphttpExporterFactory.create(set, c, signal) as HelperExporter<MetricsBatch>;
}

const fastRetry = { initial_interval: '10ms', max_interval: '50ms', randomization_factor: 0 };

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('exporters/otlphttp', () => {
  let srv: FakeOtlpServer;
  beforeEach(async () => {
    srv = new FakeOtlpServer();
    await srv.start();
  });
  afterEach(async () => {
    await srv.stop();
  });

  describe('config', () => {
    it('declares its factory contract and defaults', () => {
      expect(otlphttpExporterFactory.kind).to.equal('exporter');
      expect(otlphttpExporterFactory.type).to.equal('otlphttp');
      expect(otlphttpExporterFactory.signals).to.deep.equal(['metrics']);
      const c = cfg({ endpoint: 'http://h:4318' });
      expect(c).to.deep.include({ endpoint: 'http://h:4318', encoding: 'proto', compression: 'gzip', headers: {}, timeout: 5000 });
      expect(c.retry_on_failure).to.deep.equal({
        enabled: true,
        initial_interval: 5000,
        max_interval: 30000,
        max_elapsed_time: 300000,
        multiplier: 1.5,
        randomization_factor: 0.5,
      });
      expect(c.sending_queue).to.deep.equal({ enabled: true, num_consumers: 2, queue_size: 1000, sizer: 'requests', drop_policy: 'refuse' });
    });

    it('appends /v1/metrics to endpoint unless metrics_endpoint is given', () => {
      expect(metricsUrl({ endpoint: 'http://h:4318' }).href).to.equal('http://h:4318/v1/metrics');
      expect(metricsUrl({ endpoint: 'https://h/otlp/' }).href).to.equal('https://h/otlp/v1/metrics');
      expect(metricsUrl({ endpoint: 'http://h:4318', metrics_endpoint: 'http://m:1/custom' }).href).to.equal('http://m:1/custom');
    });

    it('validates endpoints and headers', () => {
      const base = validateSchema(otlphttpExporterFactory.configSchema, {}, '').value as any;
      expect(validateOtlpHttp(base).map((i) => i.path)).to.deep.equal(['endpoint']);
      const bad = validateOtlpHttp({ ...base, endpoint: 'http://h', headers: { 'Content-Type': 'x', 'bad header': 'v', 'x-ok': 'a\r\nb' } });
      expect(bad.map((i) => i.path)).to.deep.equal(['headers.Content-Type', 'headers.bad header', 'headers.x-ok']);
      expect(JSON.stringify(bad)).not.to.contain('a\\r\\nb');
      expect(validateSchema(otlphttpExporterFactory.configSchema, { endpoint: 'ftp://h' }, '').issues.map((i) => i.path)).to.deep.equal(['endpoint']);
    });

    it('documents every option and marks header values secret', () => {
      const walk = (s: Record<string, any>): void => {
        for (const f of Object.values(s)) {
          expect(f.doc).to.be.a('string').and.not.equal('');
          if (f.type === 'object') walk(f.fields);
        }
      };
      walk(otlphttpExporterFactory.configSchema);
      expect((otlphttpExporterFactory.configSchema.headers as { secretValues?: boolean }).secretValues).to.equal(true);
    });

    it('refuses the events signal', () => {
      expect(() => otlphttpExporterFactory.create(settings(), cfg({ endpoint: 'http://h' }), 'events')).to.throw(/events/);
    });
  });

  describe('request and response translation', () => {
    it('encodes proto+gzip and json without compression', () => {
      const b = sampleMetrics(3);
      const p = buildMetricsRequest(b, { encoding: 'proto', compression: 'gzip' });
      expect(p.headers).to.deep.include({ 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip' });
      expect(decodeMetricsProto(gunzipSync(p.body)).data).to.deep.equal(b);
      const j = buildMetricsRequest(b, { encoding: 'json', compression: 'none' });
      expect(j.headers['Content-Type']).to.equal('application/json');
      expect(j.headers['Content-Encoding']).to.equal(undefined);
      expect(decodeMetricsJson(j.body.toString('utf8')).data).to.deep.equal(b);
      expect(j.rawBytes).to.equal(j.body.length);
    });

    it('reads partial success and status messages in both encodings', () => {
      expect(parseExportResponse(Buffer.from(encodeExportResponseProto('metrics', 3, 'bad')), 'application/x-protobuf')).to.deep.equal({
        rejected: 3,
        message: 'bad',
      });
      expect(parseExportResponse(Buffer.from(encodeExportResponseJson('metrics', 4, 'worse')), 'application/json')).to.deep.equal({
        rejected: 4,
        message: 'worse',
      });
      expect(parseExportResponse(Buffer.from('{"partialSuccess":{"rejectedDataPoints":2}}'), undefined)).to.deep.equal({ rejected: 2, message: '' });
      expect(parseExportResponse(Buffer.alloc(0), 'application/x-protobuf')).to.deep.equal({ rejected: 0, message: '' });
      expect(parseExportResponse(Buffer.from([0x0a, 0xff]), 'application/x-protobuf')).to.deep.equal({ rejected: 0, message: '' });
      expect(parseStatusMessage(Buffer.from(encodeStatusProto(3, 'invalid metric')), 'application/x-protobuf')).to.equal('invalid metric');
      expect(parseStatusMessage(Buffer.from('{"code":3,"message":"nope"}'), 'application/json')).to.equal('nope');
    });
  });

  describe('against a local OTLP/HTTP server', () => {
    it('POSTs gzip-compressed protobuf with the configured headers; the server decodes the same batch', async () => {
      const set = settings('otlphttp');
      const exp = create(set, cfg({ endpoint: srv.url, headers: { 'x-api-key': 'sekret-123', Authorization: 'Bearer tok-456' } }));
      await exp.start(host(set));
      const b = sampleMetrics(5);
      await exp.consume(b);
      await waitFor(() => exp.status().sent === 5, 'sent');
      expect(srv.received).to.have.length(1);
      const r = srv.received[0]!;
      expect(r.method).to.equal('POST');
      expect(r.path).to.equal('/v1/metrics');
      expect(r.headers['content-type']).to.equal('application/x-protobuf');
      expect(r.headers['content-encoding']).to.equal('gzip');
      expect(r.headers['x-api-key']).to.equal('sekret-123');
      expect(r.headers.authorization).to.equal('Bearer tok-456');
      expect(r.headers['content-length']).to.equal(String(r.raw.length));
      expect(r.batch).to.deep.equal(b);
      const st = exp.status();
      expect(st).to.include({ endpoint: `127.0.0.1:${srv.port}`, encoding: 'proto', compression: 'gzip', requests: 1 });
      expect(JSON.stringify(st)).not.to.match(/sekret|tok-456/);
      await exp.shutdown(never());
    });

    it('POSTs uncompressed JSON to metrics_endpoint', async () => {
      const set = settings('otlphttp');
      const exp = create(set, cfg({ metrics_endpoint: `${srv.url}/custom/path`, encoding: 'json', compression: 'none', sending_queue: { enabled: false } }));
      await exp.start(host(set));
      const b = sampleMetrics(4);
      await exp.consume(b);
      const r = srv.received[0]!;
      expect(r.path).to.equal('/custom/path');
      expect(r.headers['content-type']).to.equal('application/json');
      expect(r.headers['content-encoding']).to.equal(undefined);
      expect(r.batch).to.deep.equal(b);
      expect(decodeMetricsJson(r.raw.toString('utf8')).data.resourceMetrics[0]!.scopeMetrics[0]!.metrics[1]!.points[0]!.timeUnixNano).to.equal(
        1700000000123456789n,
      );
      await exp.shutdown(never());
    });

    it('retries 503 honouring Retry-After, then succeeds', async () => {
      srv.replies.push({ status: 503, headers: { 'retry-after': '1' } });
      const set = settings('otlphttp');
      const exp = create(set, cfg({ endpoint: srv.url, retry_on_failure: { ...fastRetry, initial_interval: '1ms' } }));
      await exp.start(host(set));
      await exp.consume(sampleMetrics(2));
      await waitFor(() => exp.status().sent === 2, 'sent');
      expect(srv.received).to.have.length(2);
      const gap = srv.received[1]!.at - srv.received[0]!.at;
      expect(gap).to.be.at.least(950);
      expect(gap).to.be.below(5000);
      expect(srv.received[1]!.batch).to.deep.equal(srv.received[0]!.batch);
      expect(exp.status().failed).to.equal(2);
      await exp.shutdown(never());
    });

    it('retries 429, 502, 503 and 504, then succeeds', async () => {
      for (const status of [429, 502, 503, 504]) srv.replies.push({ status });
      const set = settings('otlphttp');
      const exp = create(set, cfg({ endpoint: srv.url, retry_on_failure: fastRetry }));
      await exp.start(host(set));
      await exp.consume(sampleMetrics(1));
      await waitFor(() => exp.status().sent === 1, 'sent');
      expect(srv.received).to.have.length(5);
      expect(set.telemetry.exporterTotals.get('otlphttp|metrics')).to.deep.include({
        'failed.http_429': 1,
        'failed.http_502': 1,
        'failed.http_503': 1,
        'failed.http_504': 1,
        sent: 1,
      });
      await exp.shutdown(never());
    });

    it('does not retry 400 or 500: consume rejects with PermanentError (synchronous mode)', async () => {
      for (const status of [400, 500]) {
        srv.received.length = 0;
        srv.replies.push({ status, headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(encodeStatusProto(3, `server says ${status}`)) });
        const set = settings('otlphttp');
        const exp = create(set, cfg({ endpoint: srv.url, retry_on_failure: fastRetry, sending_queue: { enabled: false } }));
        await exp.start(host(set));
        const err = await rejection(exp.consume(sampleMetrics(2)));
        expect(err).to.be.instanceOf(PermanentError);
        expect((err as { status?: number }).status).to.equal(status);
        expect(srv.received).to.have.length(1);
        expect(exp.status().last_error).to.equal(`HTTP ${status} ${status === 400 ? 'Bad Request' : 'Internal Server Error'} from 127.0.0.1:${srv.port}`);
        expect(set.logger.lines.some((l) => l.obj.server_message === `server says ${status}`)).to.equal(true);
        await exp.shutdown(never());
      }
    });

    it('gives up at max_elapsed_time on a backend that keeps answering 503, counting the batch dropped', async () => {
      for (let i = 0; i < 100; i++) srv.replies.push({ status: 503 });
      const set = settings('otlphttp');
      const exp = create(
        set,
        cfg({ endpoint: srv.url, headers: { 'x-api-key': 'sekret-123' }, retry_on_failure: { ...fastRetry, max_elapsed_time: '150ms' } }),
      );
      await exp.start(host(set));
      await exp.consume(sampleMetrics(3));
      await waitFor(() => exp.status().dropped.retries_exhausted === 3, 'dropped');
      expect(srv.received.length).to.be.within(2, 20);
      expect(exp.healthy()).to.equal(false);
      expect(exp.status().last_error).to.match(new RegExp(`^giving up after \\d+ attempts: HTTP 503 Service Unavailable from 127\\.0\\.0\\.1:${srv.port}$`));
      expect(set.logger.text()).not.to.contain('sekret');
      await exp.shutdown(never());
    });

    it('synchronous mode answers exhausted retries with RefusedError', async () => {
      srv.replies.push({ status: 429, headers: { 'retry-after': '120' } });
      const set = settings('otlphttp');
      const exp = create(set, cfg({ endpoint: srv.url, retry_on_failure: { ...fastRetry, max_elapsed_time: '10s' }, sending_queue: { enabled: false } }));
      await exp.start(host(set));
      const err = await rejection(exp.consume(sampleMetrics(1)));
      expect(err).to.be.instanceOf(RefusedError);
      expect((err as RefusedError).retryAfterSeconds).to.equal(120);
      expect(srv.received).to.have.length(1);
      await exp.shutdown(never());
    });

    it('counts a partial success as dropped points, without retrying', async () => {
      srv.replies.push({
        status: 200,
        headers: { 'content-type': 'application/x-protobuf' },
        body: Buffer.from(encodeExportResponseProto('metrics', 2, 'two bad points')),
      });
      const set = settings('otlphttp');
      const exp = create(set, cfg({ endpoint: srv.url }));
      await exp.start(host(set));
      await exp.consume(sampleMetrics(5));
      await waitFor(() => exp.status().sent === 3, 'sent');
      expect(exp.status().dropped).to.deep.equal({ partial_success: 2 });
      expect(srv.received).to.have.length(1);
      expect(set.logger.lines.some((l) => l.obj.message === 'two bad points')).to.equal(true);
      await exp.shutdown(never());
    });

    it('treats a refused connection as retryable', async () => {
      const port = srv.port;
      await srv.stop();
      const set = settings('otlphttp');
      // no time budget (max_elapsed_time 0: retry until shutdown): how many
      // attempts fit in a budget depends on how loaded the machine is; that it
      // retries does not
      const exp = create(set, cfg({ endpoint: `http://127.0.0.1:${port}`, retry_on_failure: { ...fastRetry, max_elapsed_time: '0s' } }));
      await exp.start(host(set));
      await exp.consume(sampleMetrics(1));
      await waitFor(() => exp.status().failed >= 3, 'three failed attempts', 10_000);
      expect(exp.status().last_error).to.contain(`cannot send to 127.0.0.1:${port}: ECONNREFUSED`);
      expect(exp.status().dropped.retries_exhausted ?? 0, 'still retrying').to.equal(0);
      await exp.shutdown(AbortSignal.timeout(200));
      srv = new FakeOtlpServer();
      await srv.start();
    });

    it('times out a hanging backend per attempt', async () => {
      const hang = createServer(() => undefined);
      await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
      const port = (hang.address() as AddressInfo).port;
      const set = settings('otlphttp');
      const exp = create(
        set,
        cfg({ endpoint: `http://127.0.0.1:${port}`, timeout: '50ms', retry_on_failure: { enabled: false }, sending_queue: { enabled: false } }),
      );
      await exp.start(host(set));
      const start = Date.now();
      const err = await rejection(exp.consume(sampleMetrics(1)));
      expect(err).to.be.instanceOf(RefusedError);
      expect(Date.now() - start).to.be.below(2000);
      expect(exp.status().last_error).to.contain('timed out after 50 ms');
      await exp.shutdown(never());
      hang.closeAllConnections();
      await new Promise<void>((r) => hang.close(() => r()));
    });

    it('shutdown drains the queue to the server; twice and without start are fine', async () => {
      const set = settings('otlphttp');
      const exp = create(set, cfg({ endpoint: srv.url }));
      const batches = [sampleMetrics(2, 'a'), sampleMetrics(3, 'b'), sampleMetrics(4, 'c')];
      await exp.start(host(set));
      for (const b of batches) await exp.consume(b);
      await exp.shutdown(never());
      await exp.shutdown(never());
      expect(srv.received.map((r) => r.batch!.resourceMetrics[0]!.resource.attributes['host.id']).sort()).to.deep.equal(['a', 'b', 'c']);
      expect(exp.status().sent).to.equal(9);
      const idle = create(settings('otlphttp'), cfg({ endpoint: srv.url }));
      await idle.shutdown(never());
      await idle.shutdown(never());
      expect(idle.status().sent).to.equal(0);
    });
  });
});
