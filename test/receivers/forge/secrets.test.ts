/**
 * The API token never appears in a log line, an error or the status output,
 * even when the gateway echoes it back in every kind of failure. Plus config
 * validation with precise messages.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { validateSchema } from '../../../src/config/schema.js';
import { forgeReceiverFactory } from '../../../receivers/forge/factory.js';
import { EMAIL, rig, TOKEN } from './helpers.js';

const BASIC = Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64');

describe('forge receiver: secrets and config', () => {
  it('no log line, error, status or last_error contains the token or the Basic credential', async () => {
    const r = await rig({ config: { history: '2h', timeout: '5s' } });
    const echo = `token=${TOKEN} auth=Basic ${BASIC}`;
    const errors: string[] = [];
    try {
      const failures = [
        { kind: 'queryError', statusCode: 403, message: `denied for ${echo}`, identifier: TOKEN, errorType: BASIC },
        { kind: 'graphqlErrors', errors: [{ message: `bad ${echo}`, extensions: { errorType: TOKEN } }] },
        { kind: 'http', status: 401, body: `{"message":"${echo}"}` },
        { kind: 'http', status: 418, body: echo },
        { kind: 'raw', body: `not json ${echo}` },
      ] as const;
      for (const f of failures) {
        r.gw.script.push(f as never);
        await r.rcv.catchUp().catch((e: Error) => errors.push(`${e.message} ${String((e as any).cause?.message)} ${e.stack}`));
        errors.push(JSON.stringify(r.rcv.status()));
      }
      // retryable ones then success (logs for each kind)
      r.gw.script.push({ kind: 'queryError', statusCode: 429, message: echo }, { kind: 'http', status: 502, body: echo }, { kind: 'sample' });
      await r.rcv.catchUp().catch((e: Error) => errors.push(e.message));
      errors.push(JSON.stringify(r.rcv.status()));
    } finally {
      await r.rcv.shutdown(AbortSignal.timeout(1000));
      await r.gw.stop();
      rmSync(r.stateDir, { recursive: true, force: true });
    }
    const all = [...r.lines, ...errors].join('\n');
    expect(errors.length).to.be.greaterThan(8);
    expect(r.lines.length).to.be.greaterThan(3);
    expect(all).to.contain('[REDACTED]'); // the echoes were there, scrubbed
    expect(all).to.not.contain(TOKEN);
    expect(all).to.not.contain(BASIC);
    expect(all).to.not.contain(TOKEN.slice(0, 16));
  });

  it('config: defaults, and precise messages for a bad app_id, environment, metric, interval and history', () => {
    const ok = validateSchema(
      forgeReceiverFactory.configSchema,
      {
        app_id: 'ari:cloud:ecosystem::app/8ce114f4-d82c-45e2-b4fb-c6a0751d7d57',
        environments: ['8cb293d5-be08-47ae-a75c-95b89da5ad1d'],
        email: 'a@b.c',
        api_token: 'x',
      },
      '',
    );
    expect(ok.issues).to.deep.equal([]);
    expect(ok.value).to.deep.include({
      endpoint: 'https://api.atlassian.com/graphql',
      interval: 300_000,
      history: 3_600_000,
      delay: 60_000,
      timeout: 30_000,
      metrics: [
        'FORGE_API_REQUEST_COUNT',
        'FORGE_API_REQUEST_LATENCY',
        'FORGE_BACKEND_INVOCATION_COUNT',
        'FORGE_BACKEND_INVOCATION_ERRORS',
        'FORGE_BACKEND_INVOCATION_LATENCY',
      ],
    });
    const bad = validateSchema(
      forgeReceiverFactory.configSchema,
      {
        app_id: '8ce114f4-d82c-45e2-b4fb-c6a0751d7d57',
        environments: ['production'],
        metrics: ['FORGE_CPU'],
        email: 'a@b.c',
        api_token: 'sekrit-value',
        interval: '30s',
        history: '15d',
      },
      'receivers.forge',
    );
    const msgs = bad.issues.map((i) => `${i.path}: ${i.message}`);
    expect(msgs).to.deep.equal([
      'receivers.forge.app_id: "8ce114f4-d82c-45e2-b4fb-c6a0751d7d57" does not match ari:cloud:ecosystem::app/<uuid> (lower-case hex, as in the app\'s manifest.yml)',
      'receivers.forge.environments[0]: "production" does not match an environment UUID (8-4-4-4-12 lower-case hex)',
      'receivers.forge.metrics[0]: expected one of "FORGE_API_REQUEST_COUNT", "FORGE_API_REQUEST_LATENCY", "FORGE_BACKEND_INVOCATION_COUNT", "FORGE_BACKEND_INVOCATION_ERRORS", "FORGE_BACKEND_INVOCATION_LATENCY", got string "FORGE_CPU"',
      'receivers.forge.interval: must be at least 1m, got "30s"',
      'receivers.forge.history: must be at most 14d, got "15d"',
    ]);
    expect(msgs.join('\n')).to.not.contain('sekrit');
    const missing = validateSchema(forgeReceiverFactory.configSchema, {}, 'r').issues.map((i) => i.path);
    expect(missing).to.deep.equal(['r.app_id', 'r.environments', 'r.email', 'r.api_token']);
    expect(
      forgeReceiverFactory.validate!({ ...(ok.value as any), environments: ['8cb293d5-be08-47ae-a75c-95b89da5ad1d', '8cb293d5-be08-47ae-a75c-95b89da5ad1d'] }),
    ).to.deep.equal([{ path: 'environments[1]', message: 'duplicate environment "8cb293d5-be08-47ae-a75c-95b89da5ad1d"', severity: 'error' }]);
  });
});
