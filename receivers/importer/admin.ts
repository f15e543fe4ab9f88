/**
 * POST /api/v1/importers/<name>/test on the admin server: the running
 * importer receiver holding an importer of that name runs its test query
 * (`?since=1h`, `?receiver=importer/x` when several have that name).
 */
import { parseDuration } from '../../src/config/schema.js';
import type { Service } from '../../src/service.js';
import { ImporterReceiver } from './receiver.js';

export async function testImporter(svc: Service, name: string, opts: { receiver?: string; since?: string } = {}): Promise<{ status: number; body: unknown }> {
  const found = svc
    .components('receiver', 'importer')
    .filter(
      (c) => (opts.receiver === undefined || c.id === opts.receiver) && c.component instanceof ImporterReceiver && c.component.importerNames().includes(name),
    );
  if (found.length === 0) {
    const all = svc
      .components('receiver', 'importer')
      .flatMap((c) => (c.component instanceof ImporterReceiver ? c.component.importerNames().map((n) => `${c.id}: ${n}`) : []));
    return {
      status: 404,
      body: { error: `no importer named ${JSON.stringify(name)}${opts.receiver !== undefined ? ` in ${opts.receiver}` : ''}`, importers: all },
    };
  }
  if (found.length > 1)
    return { status: 409, body: { error: `several receivers have an importer ${JSON.stringify(name)}: pass ?receiver=ID`, receivers: found.map((f) => f.id) } };
  let sinceMs: number | undefined;
  if (opts.since !== undefined) {
    sinceMs = parseDuration(opts.since);
    if (sinceMs === undefined || sinceMs <= 0) return { status: 400, body: { error: `since expects a duration like 2h, got ${JSON.stringify(opts.since)}` } };
  }
  const rcv = found[0]!.component as ImporterReceiver;
  const tooLong = sinceMs === undefined ? undefined : rcv.testSpanProblem(name, sinceMs);
  if (tooLong !== undefined) return { status: 400, body: { error: `since ${opts.since ?? ''} ${tooLong}` } };
  const r = await rcv.testQuery(name, sinceMs === undefined ? {} : { sinceMs });
  return { status: 200, body: { receiver: found[0]!.id, ...r } };
}
