/**
 * The e2e harness itself (test/e2e/metricport.ts): a child that never turns
 * healthy is killed, and the error says what it printed.
 */
import { expect } from 'chai';
import { canConnect, freePort, waitFor } from '../harness/ports.js';
import { startMetricport } from './metricport.js';

const CONFIG = `
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  nop: {}
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [nop] }
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

describe('e2e harness: startMetricport', function () {
  this.timeout(40_000);

  it('kills a child whose /healthz never answers 200 and quotes what it printed', async () => {
    // the admin server listens on another port than the one the harness polls (the last flag wins)
    const elsewhere = await freePort();
    let err: (Error & { pid?: number; output?: string }) | undefined;
    try {
      await startMetricport(CONFIG, { args: ['--admin-endpoint', `127.0.0.1:${elsewhere}`], healthyTimeoutMs: 8_000 });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err, 'startMetricport rejects').to.be.instanceOf(Error);
    expect(err!.message).to.match(/did not answer GET http:\/\/127\.0\.0\.1:\d+\/healthz with 200 within 8000 ms/);
    expect(err!.pid).to.be.a('number');
    // the child ran (it printed its start line, quoted in the error) and is gone now
    expect(err!.output).to.match(/started|listening|pipeline/i);
    expect(err!.message).to.contain(err!.output!.trim().split('\n')[0]);
    await waitFor(() => !alive(err!.pid!), { timeoutMs: 5_000, intervalMs: 20, what: `pid ${err!.pid} to be gone` });
    expect(await canConnect(elsewhere), 'its admin port is free again').to.equal(false);
  });
});
