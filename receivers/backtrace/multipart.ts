/**
 * The one part of a `multipart/form-data` body that matters: the report in
 * part `upload_file` (Backtrace SDKs; attachments in `attachment_*` parts are
 * skipped without being decoded). Bytes in, bytes out.
 */

/** The boundary of a multipart Content-Type, undefined when it is not multipart/form-data with one. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  if (!/^\s*multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m === null ? undefined : (m[1] ?? m[2]);
}

export type PartResult = { ok: true; body: Buffer } | { ok: false; error: string };

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** The body of the part named `name` (first one). */
export function findPart(body: Buffer, boundary: string, name: string): PartResult {
  const delim = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delim);
  if (pos < 0) return { ok: false, error: 'multipart body has no boundary line' };
  const nameRe = new RegExp(`;\\s*name="?${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?(?:;|\\s|$)`, 'i');
  let parts = 0;
  for (;;) {
    pos += delim.length;
    // "--" after the boundary ends the body
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break;
    const hEnd = body.indexOf(CRLFCRLF, pos);
    if (hEnd < 0) return { ok: false, error: `multipart part ${parts} has no header end` };
    const headers = body.toString('latin1', pos, hEnd);
    const start = hEnd + 4;
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), start);
    if (next < 0) return { ok: false, error: `multipart part ${parts} is not terminated by a boundary` };
    const disp = /^content-disposition:\s*form-data(.*)$/im.exec(headers);
    if (disp !== null && nameRe.test(disp[1] as string)) return { ok: true, body: body.subarray(start, next) };
    parts++;
    pos = next + 2;
  }
  return { ok: false, error: `multipart body has no "${name}" part` };
}
