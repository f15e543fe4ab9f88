/** The secret scanner itself (test/secretscan.ts): the marker, registered secrets, and the root hook failing on a leak. */
import { expect } from 'chai';
import { findSecrets, mochaHooks, recordForScan, registerSecret } from './secretscan.js';

describe('secret scan (root hook)', () => {
  it('finds the SECRET- marker with context and registered secrets; clean text passes', () => {
    expect(findSecrets('{"level":30,"msg":"started","endpoint":"127.0.0.1:4318"}')).to.deep.equal([]);
    expect(findSecrets('error: bad key SECRET-abc123 for dd')).to.deep.equal([JSON.stringify('error: bad key SECRET-abc123 for dd')]);
    registerSecret('plainkey0123456789');
    expect(findSecrets('url http://plainkey0123456789@h/1')).to.deep.equal(['registered secret "plai"…']);
    expect(findSecrets('plainkey')).to.deep.equal([]);
  });

  it('the afterEach hook throws naming the test and where the secret showed; then the queue is empty', () => {
    recordForScan('metricport output', 'x\n{"msg":"send failed","error":"HTTP 403 for key SECRET-leak-1"}\n');
    const ctx = { currentTest: { fullTitle: () => 'some e2e test' } } as unknown as Mocha.Context;
    expect(() => mochaHooks.afterEach.call(ctx)).to.throw(/secret scan \(some e2e test\): .*\n {2}metricport output: ".*SECRET-leak-1/);
    expect(() => mochaHooks.afterEach.call(ctx)).to.not.throw();
  });
});
