/**
 * YAML parsing with positions, and `${env:NAME}` / `${env:NAME:-default}` /
 * `${file:PATH}` expansion of scalar values (`${file:…}`: the file's content
 * without its trailing newline, a relative path taken from the config file's
 * folder: how the console stores a secret typed into it). Positions let every config issue name its file
 * line and column.
 */
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node as YNode } from '../vendor/yaml.js';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ConfigIssue } from '../errors.js';

export interface ParsedYaml {
  /** false when the text is not valid YAML (then value is null) */
  syntaxOk: boolean;
  value: unknown;
  issues: ConfigIssue[];
  /** 1-based line:column of the node at a key path, or of the nearest existing parent */
  locate(path: string, preferKey?: boolean): { line: number; column: number } | undefined;
}

export function parseYaml(text: string, file: string, env: NodeJS.ProcessEnv = process.env): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, strict: true });
  const issues: ConfigIssue[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const pos = e.linePos?.[0];
    issues.push({
      path: '',
      file,
      line: pos?.line,
      column: pos?.col,
      severity: doc.errors.includes(e as never) ? 'error' : 'warning',
      message: `YAML: ${e.message.split('\n')[0]}`,
    });
  }
  const locate = (path: string, preferKey = true) => {
    const range = locateRange(doc, path, preferKey);
    if (range === undefined) return undefined;
    const p = lineCounter.linePos(range);
    return { line: p.line, column: p.col };
  };
  let value: unknown = null;
  if (doc.errors.length === 0) {
    value = doc.toJS({ maxAliasCount: 100 });
    value = expandEnv(value, '', env, issues, file, locate);
  }
  return { syntaxOk: doc.errors.length === 0, value, issues, locate };
}

const ENV_RE = /\$\$|\$\{([^}]*)\}/g;

/** Expand `${env:NAME}`, `${env:NAME:-default}`, `${file:PATH}`; `$$` is a literal `$`. */
function expandString(s: string, path: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[], file: string): { value: unknown; whole: boolean } {
  if (!s.includes('$')) return { value: s, whole: false };
  let whole = false;
  const trimmed = s.trim();
  const m0 = /^\$\{([^}]*)\}$/.exec(trimmed);
  if (m0) whole = true;
  const out = s.replace(ENV_RE, (m, inner: string | undefined) => {
    if (m === '$$') return '$';
    const ref = inner ?? '';
    if (ref.startsWith('file:') && ref.length > 5) {
      const target = resolve(dirname(file), ref.slice(5));
      try {
        return readFileSync(target, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        issues.push({
          path,
          severity: 'error',
          message: `cannot read ${ref.slice(5)} (referenced as \${${ref}}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; create the file or change the reference`,
        });
        return '';
      }
    }
    const mm = /^env:([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(ref);
    if (!mm) {
      issues.push({
        path,
        severity: 'error',
        message: `unsupported reference "\${${ref}}": use \${env:NAME}, \${env:NAME:-default} or \${file:PATH} (write $$ for a literal $)`,
      });
      return '';
    }
    const name = mm[1] as string;
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (mm[2] !== undefined) return mm[2];
    if (v === '') return '';
    issues.push({
      path,
      severity: 'error',
      message: `environment variable ${name} is not set (referenced as \${env:${name}}); set it or give a default with \${env:${name}:-value}`,
    });
    return '';
  });
  return { value: out, whole };
}

function expandEnv(v: unknown, path: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[], file: string, locate: ParsedYaml['locate']): unknown {
  if (typeof v === 'string') {
    const before = issues.length;
    const { value, whole } = expandString(v, path, env, issues, file);
    for (let i = before; i < issues.length; i++) {
      const issue = issues[i] as ConfigIssue;
      const pos = locate(path, false);
      issue.file = file;
      if (pos) {
        issue.line = pos.line;
        issue.column = pos.column;
      }
    }
    // A value that is entirely one reference is re-read as a YAML scalar, so
    // `port: ${env:PORT}` gives a number (as the Collector does).
    if (whole && typeof value === 'string' && value !== v) {
      if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
      if (value === 'true') return true;
      if (value === 'false') return false;
    }
    return value;
  }
  if (Array.isArray(v)) return v.map((x, i) => expandEnv(x, `${path}[${i}]`, env, issues, file, locate));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const kp = path === '' ? k : `${path}.${k}`;
      if (k === '__proto__')
        Object.defineProperty(out, k, { value: expandEnv(x, kp, env, issues, file, locate), enumerable: true, writable: true, configurable: true });
      else out[k] = expandEnv(x, kp, env, issues, file, locate);
    }
    return out;
  }
  return v;
}

/** Find the source offset of the node at a dotted path (keys may themselves contain dots). */
function locateRange(doc: Document, path: string, preferKey: boolean): number | undefined {
  let node: unknown = doc.contents;
  let rest = path;
  let last: number | undefined = (doc.contents as YNode | null)?.range?.[0];
  while (rest !== '') {
    if (rest.startsWith('[')) {
      const m = /^\[(\d+)\]\.?/.exec(rest);
      if (!m || !isSeq(node)) return last;
      const item = node.items[Number(m[1])] as YNode | undefined;
      if (item === undefined) return last;
      node = item;
      last = item.range?.[0] ?? last;
      rest = rest.slice(m[0].length);
      continue;
    }
    if (!isMap(node)) return last;
    let best: { key: string; pair: unknown } | undefined;
    for (const pair of node.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const k = String(pair.key.value);
      if ((rest === k || rest.startsWith(k + '.') || rest.startsWith(k + '[')) && (best === undefined || k.length > best.key.length)) best = { key: k, pair };
    }
    if (best === undefined) return last;
    const pair = best.pair as { key: YNode; value: YNode | null };
    rest = rest.slice(best.key.length);
    if (rest.startsWith('.')) rest = rest.slice(1);
    if (rest === '') {
      if (preferKey || pair.value === null) return pair.key.range?.[0] ?? last;
      return pair.value.range?.[0] ?? pair.key.range?.[0] ?? last;
    }
    last = pair.value?.range?.[0] ?? pair.key.range?.[0] ?? last;
    node = pair.value;
  }
  return last;
}
