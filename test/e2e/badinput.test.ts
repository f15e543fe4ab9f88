import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import { startMetricport, type Started } from './metricport.js';

const CONFIG = `
receivers:
  otlp:
    protocols: { http: { endpoint: "{{OTLP}}", max_request_body_size: 1MiB } }
exporters:
  nop: {}
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [nop] }
    events: { receivers: [otlp], exporters: [nop] }
`;

function goodBody(name = 'good', attrs: unknown[] = []): string {
  return JSON.stringify({
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              {
                name,
                gauge: {
                  dataPoints: [
                    { asDouble: 1.5, timeUnixNano: '1700000000123456789', attributes: attrs },
                    { asInt: '2', timeUnixNano: '1700000000123456789' },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

/** Sum of a counter's samples on /metrics whose labels include all of `labels`. */
async function counter(mp: Started, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${mp.adminUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

interface Case {
  name: string;
  reason: string;
  status: number;
  send: (url: string) => Promise<Response>;
  check?: (res: Response) => Promise<void>;
}

describe('e2e: bad input gets a clear status, is counted, and harms nothing else', function () {
  this.timeout(60_000);
  let mp: Started;
  before(async () => {
    mp = await startMetricport(CONFIG);
  });
  after(async () => {
    await mp?.stop();
  });

  const post = (url: string, body: string | Uint8Array, headers: Record<string, string>) => fetch(`${url}/v1/metrics`, { method: 'POST', headers, body });
  const cases: Case[] = [
    {
      name: 'malformed JSON',
      reason: 'malformed_json',
      status: 400,
      send: (u) => post(u, '{"resourceMetrics": [', { 'content-type': 'application/json' }),
      check: async (res) => {
        const s = (await res.json()) as { code: number; message: string };
        expect(s.code).to.equal(3);
        expect(s.message).to.match(/JSON/i);
      },
    },
    {
      name: 'truncated protobuf',
      reason: 'malformed_protobuf',
      status: 400,
      // ExportMetricsServiceRequest{resource_metrics (1): length 100, then only 3 bytes}
      send: (u) => post(u, new Uint8Array([0x0a, 0x64, 0x0a, 0x02, 0x0a]), { 'content-type': 'application/x-protobuf' }),
      check: async (res) => {
        expect(res.headers.get('content-type')).to.match(/application\/x-protobuf/);
      },
    },
    { name: 'wrong content type', reason: 'unsupported_media_type', status: 415, send: (u) => post(u, goodBody(), { 'content-type': 'text/plain' }) },
    {
      name: 'gzip bomb (small body, huge decompressed size)',
      reason: 'too_large',
      status: 413,
      send: (u) => post(u, gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)), { 'content-type': 'application/json', 'content-encoding': 'gzip' }),
    },
    { name: 'oversize body', reason: 'too_large', status: 413, send: (u) => post(u, 'x'.repeat(2 * 1024 * 1024), { 'content-type': 'application/json' }) },
    {
      name: 'invalid UTF-8',
      reason: 'invalid_utf8',
      status: 400,
      send: (u) =>
        post(
          u,
          Buffer.concat([Buffer.from('{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}]}]}')]),
          { 'content-type': 'application/json' },
        ),
    },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status}, counted as ${c.reason}`, async () => {
      const before = await counter(mp, 'metricport_receiver_bad_requests_total', { reason: c.reason });
      const res = await c.send(mp.otlpUrl);
      expect(res.status).to.equal(c.status);
      if (c.check) await c.check(res);
      else await res.arrayBuffer();
      const afterCount = await counter(mp, 'metricport_receiver_bad_requests_total', { reason: c.reason });
      expect(afterCount).to.equal(before + 1);
      const ok = await post(mp.otlpUrl, goodBody(), { 'content-type': 'application/json' });
      expect(ok.status).to.equal(200);
      expect((await fetch(`${mp.adminUrl}/healthz`)).status).to.equal(200);
    });
  }

  it('GET → 405', async () => {
    const res = await fetch(`${mp.otlpUrl}/v1/metrics`);
    expect(res.status).to.equal(405);
  });

  it('10,000 attributes on one point → 200 partialSuccess, that point rejected, the other kept', async () => {
    const attrs = Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i}`, value: { stringValue: 'v' } }));
    const rejectedBefore = await counter(mp, 'metricport_receiver_rejected_items_total', {});
    const acceptedBefore = await counter(mp, 'metricport_receiver_accepted_items_total', {});
    const res = await post(mp.otlpUrl, goodBody('many', attrs), { 'content-type': 'application/json' });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { partialSuccess?: { rejectedDataPoints: string; errorMessage: string } };
    expect(body.partialSuccess?.rejectedDataPoints).to.equal('1');
    expect(body.partialSuccess?.errorMessage).to.match(/attributes/);
    expect(await counter(mp, 'metricport_receiver_rejected_items_total', {})).to.equal(rejectedBefore + 1);
    expect(await counter(mp, 'metricport_receiver_accepted_items_total', {})).to.equal(acceptedBefore + 1);
  });

  it('deeply nested values → 200 partialSuccess for that point, no crash', async () => {
    // built as text: JSON.stringify itself would overflow the stack on this depth
    const depth = 15_000; // ≈ 700 KB: under the 1 MiB body limit, far past max_depth 16
    const deep = '{"kvlistValue":{"values":[{"key":"n","value":'.repeat(depth) + '{"stringValue":"leaf"}' + '}]}}'.repeat(depth);
    const res = await post(mp.otlpUrl, goodBody('deep', [{ key: 'deep', value: '@DEEP@' }]).replace('"@DEEP@"', deep), { 'content-type': 'application/json' });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { partialSuccess?: { rejectedDataPoints: string } };
    expect(body.partialSuccess?.rejectedDataPoints).to.equal('1');
    expect((await fetch(`${mp.adminUrl}/healthz`)).status).to.equal(200);
  });

  it('the service is still healthy and accepting after all of it', async () => {
    const res = await post(mp.otlpUrl, goodBody(), { 'content-type': 'application/json' });
    expect(res.status).to.equal(200);
    const status = (await (await fetch(`${mp.adminUrl}/api/v1/status`)).json()) as { receivers: Array<{ id: string; state: string }> };
    expect(status.receivers[0]).to.include({ id: 'otlp', state: 'running' });
    expect(mp.proc.exitCode).to.equal(null);
  });
});
