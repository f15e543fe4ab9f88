/**
 * Suite-wide secret scan (a mocha root hook plugin, registered in
 * .mocharc.json `require`).
 *
 * Convention: every secret a test configures (API keys, passwords, bearer
 * tokens, DSN keys, submission tokens) contains the marker `SECRET-`, e.g.
 * `SECRET-dd-key-5c1e9a7b3d`; secrets that cannot carry it (a fixed format)
 * are registered with `registerSecret()`. The service never has a reason to
 * print a configured secret, so the marker must never appear in what it
 * writes or answers.
 *
 * What is scanned: everything the e2e helpers record — each child process's
 * whole output (test/e2e/metricport.ts and test/reliability/child.ts record
 * it when the process stops) and its GET /api/v1/status and /metrics
 * answers taken just before the stop. Each root `afterEach` scans what was
 * recorded during the test (the failure names the test); the root
 * `afterAll` scans what `after` hooks recorded last.
 */

const MARKER = 'SECRET-';
const registered = new Set<string>();
interface Record {
  what: string;
  text: string;
}
let pending: Record[] = [];
let scanned = 0;
const leaks: string[] = [];

/** a secret that cannot contain the marker (e.g. a fixed-format key) */
export function registerSecret(secret: string): void {
  if (secret.length >= 6) registered.add(secret);
}

/** text the service wrote or answered (output, status, /metrics), scanned after the current test */
export function recordForScan(what: string, text: string): void {
  if (text.length > 0) pending.push({ what, text });
}

/** the leaks in `text`: each marker occurrence with a little context, and each registered secret found */
export function findSecrets(text: string): string[] {
  const out: string[] = [];
  let i = text.indexOf(MARKER);
  while (i >= 0 && out.length < 5) {
    out.push(JSON.stringify(text.slice(Math.max(0, i - 40), i + 40)));
    i = text.indexOf(MARKER, i + MARKER.length);
  }
  for (const s of registered) if (text.includes(s)) out.push(`registered secret ${JSON.stringify(s.slice(0, 4))}…`);
  return out;
}

function scan(where: string): void {
  const batch = pending;
  pending = [];
  const found: string[] = [];
  for (const r of batch) {
    scanned++;
    for (const f of findSecrets(r.text)) found.push(`${r.what}: ${f}`);
  }
  if (found.length > 0) {
    leaks.push(...found);
    throw new Error(`secret scan (${where}): a configured secret appears in what metricport wrote or answered:\n  ${found.join('\n  ')}`);
  }
}

export function secretScanStats(): { scanned: number; leaks: number } {
  return { scanned, leaks: leaks.length };
}

export const mochaHooks = {
  afterEach(this: Mocha.Context): void {
    scan(this.currentTest?.fullTitle() ?? 'a test');
  },
  afterAll(): void {
    scan('after the suite');
  },
};
