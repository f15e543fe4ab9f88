/**
 * The `events` baseline: a bare node:http server that reads an NDJSON body and
 * JSON.parses every line (what any NDJSON endpoint has to do at least), then
 * answers 200. Run as a child process by bench/events.ts.
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const OK = Buffer.from('{"accepted":0,"rejected":0}');
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let n = 0;
    for (const line of text.split('\n'))
      if (line !== '') {
        JSON.parse(line);
        n++;
      }
    const body = n >= 0 ? OK : OK;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
}).listen(port, '127.0.0.1', () => process.send?.('ready'));
