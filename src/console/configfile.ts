/**
 * What every console change to the config file shares (export.ts, stores.ts):
 * reading and parsing the file, and writing the new text with a backup and
 * applying it by a reload, putting the previous file back when the reload
 * refuses it.
 */
import { copyFile, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseDocument, type Document } from '../vendor/yaml.js';
import { writeFileAtomic } from '../atomicfile.js';
import type { AdminContext, AdminReply } from '../extension.js';

export type FieldError = { path: string; message: string; field?: string };

export function bad(status: number, error: string, errors: FieldError[] = []): AdminReply {
  return { status, json: { status: 'rejected', error, errors } };
}

const unpad = (l: string): string => l.replace(/([[{]) +/g, '$1').replace(/ +([\]}])/g, '$1');

/**
 * The edited document's text with the file's own formatting where the YAML
 * library changed only that: it pads every single-line flow collection
 * (`[ otlp ]`), so a line that differs from one of the file's lines only by
 * that padding is put back as the file had it, and a changed line gets the
 * file's padding of flow sequences when it holds no quotes.
 */
export function keepFormatting(original: string, next: string): string {
  const lines = new Map<string, string>();
  for (const l of original.split('\n')) if (!lines.has(unpad(l))) lines.set(unpad(l), l);
  const padsSeqs = (original.match(/\[ \S/g)?.length ?? 0) > (original.match(/\[[^\s\]]/g)?.length ?? 0);
  return next
    .split('\n')
    .map((l) => {
      const kept = lines.get(unpad(l));
      if (kept !== undefined) return kept;
      if (padsSeqs || /['"]/.test(l)) return l;
      return l.replace(/\[ +/g, '[').replace(/ +\]/g, ']');
    })
    .join('\n');
}

/** The config file's text and its YAML document, or the answer saying why it cannot be edited. */
export async function readConfigDocument(file: string): Promise<{ text: string; doc: Document } | { reply: AdminReply }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { reply: bad(500, `cannot read the config file ${basename(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`) };
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return { reply: bad(409, `the config file does not parse as YAML (${doc.errors[0]!.message}); fix it first`) };
  return { text, doc };
}

/**
 * Keep `<file>.bak`, write `next` atomically and reload. `status` names the
 * success (exported, created); a refused reload puts `text` back and answers
 * 409 with the reload's errors.
 */
export async function writeAndReload(ctx: AdminContext, text: string, next: string, status: string, result: Record<string, unknown>): Promise<AdminReply> {
  const c = ctx.console;
  const file = c.configFile;
  const backup = `${file}.bak`;
  await copyFile(file, backup);
  await writeFileAtomic(file, next);
  if (c.reload === undefined) return { json: { status: 'written', ...result, backup: basename(backup), reload: null } };
  const outcome = await c.reload();
  if (!outcome.ok) {
    // the service kept the previous config: so does the file
    await writeFileAtomic(file, text);
    return {
      status: 409,
      json: {
        status: 'rejected',
        error: `the reload refused the new config (${String(outcome.error ?? 'unknown error')}); the previous file is back in place`,
        errors: outcome.errors ?? [],
      },
    };
  }
  return { json: { status, ...result, backup: basename(backup), reload: outcome } };
}
