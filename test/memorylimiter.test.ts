/**
 * The memory limiter: limits from the cgroup (v2, v1, none), the soft limit
 * refuses with 429 + Retry-After (a real service: OTLP answers 429, never
 * 500, and recovers when the limit is lifted), the hard limit sheds the
 * oldest half of in-memory queues (counted "memory_limit").
 */
import { expect } from 'chai';
import { MemoryQueue } from '../src/exporterhelper/queue.js';
import { MemoryLimiter, cgroupMemoryLimit, resolveLimits, DEFAULT_MEMORY_LIMITER, memoryLimiter } from '../src/memorylimiter.js';
import { startMetricport } from './e2e/metricport.js';

describe('memory limiter', function () {
  this.timeout(60_000);
  it('reads the cgroup v2 limit, then v1, and ignores "max" and v1 "unlimited"', () => {
    const files = (m: Record<string, string>) => (p: string) => {
      const v = m[p];
      if (v === undefined) throw new Error('ENOENT');
      return v;
    };
    expect(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory.max': '536870912\n' }))).to.equal(536_870_912);
    expect(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' }))).to.equal(undefined);
    expect(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '1073741824' }))).to.equal(1_073_741_824);
    expect(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' }))).to.equal(undefined);
    expect(cgroupMemoryLimit(files({}))).to.equal(undefined);
    expect(resolveLimits(DEFAULT_MEMORY_LIMITER, 1000)).to.deep.equal({ soft: 800, hard: 900, base: 1000 });
    expect(resolveLimits({ ...DEFAULT_MEMORY_LIMITER, soft_limit: 100, hard_limit: 200 }, 1000)).to.deep.equal({ soft: 100, hard: 200, base: 1000 });
  });

  it('soft limit → 429 refusals with Retry-After while above; hard limit → the oldest half of a memory queue dropped, counted', () => {
    const ml = new MemoryLimiter();
    let mem = 100;
    ml.sample = () => mem;
    ml.configure({ ...DEFAULT_MEMORY_LIMITER, soft_limit: 500, hard_limit: 800, retry_after: 7_000 }, 1000);
    expect(ml.refusal()).to.equal(undefined);
    mem = 600;
    ml.check();
    const r = ml.refusal();
    expect(r?.status).to.equal(429);
    expect(r?.retryAfterSeconds).to.equal(7);
    expect(ml.refusedRequests).to.equal(1);
    const dropped: Array<[number, string]> = [];
    const q = new MemoryQueue<number>({ capacity: 100, numConsumers: 1, dropPolicy: 'refuse' }, (item, _s, reason) => dropped.push([item, reason]));
    for (let i = 0; i < 10; i++) q.offer(i, 1);
    ml.register(() => q.shed());
    mem = 900;
    ml.check();
    expect(dropped).to.deep.equal([
      [0, 'memory_limit'],
      [1, 'memory_limit'],
      [2, 'memory_limit'],
      [3, 'memory_limit'],
      [4, 'memory_limit'],
    ]);
    expect(q.size()).to.equal(5);
    expect(ml.droppedItems).to.equal(5);
    mem = 100;
    ml.check();
    expect(ml.refusal()).to.equal(undefined);
    ml.stop();
    memoryLimiter.stop();
  });

  it('a real service above its soft limit answers OTLP with 429 + Retry-After, never 500', async () => {
    const mp = await startMetricport(`
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  debug: {}
service:
  memory_limiter: { soft_limit: 1MiB, hard_limit: 2MiB, retry_after: 3s }
  pipelines:
    metrics: { receivers: [otlp], exporters: [debug] }
`);
    try {
      const body = JSON.stringify({
        resourceMetrics: [
          {
            resource: { attributes: [] },
            scopeMetrics: [
              {
                scope: { name: 'm' },
                metrics: [{ name: 'x', gauge: { dataPoints: [{ asDouble: 1, timeUnixNano: String(BigInt(Date.now()) * 1_000_000n) }] } }],
              },
            ],
          },
        ],
      });
      const r = await fetch(`${mp.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await r.text();
      expect(r.status, text).to.equal(429);
      expect(r.headers.get('retry-after')).to.equal('3');
      expect(text).to.contain('memory limit');
    } finally {
      await mp.stop();
    }
  });
});
