/**
 * Child process of lazy.test.ts: imports the registry and, when asked,
 * loads one factory's implementation (`receiver otlp`), nothing else.
 */
import { registry } from '../../src/registry.js';

const [kind, type] = process.argv.slice(2);
if (kind !== undefined && type !== undefined) {
  const m = kind === 'receiver' ? registry.receivers : kind === 'processor' ? registry.processors : registry.exporters;
  const f = m.get(type);
  if (f === undefined) throw new Error(`no ${kind} ${type}`);
  await f.load?.();
}
