/**
 * The `events` baseline: a bare node:http server that reads an NDJSON body and
 * JSON.parses every line (what any NDJSON endpoint has to do at least), then
 * answers 200. Run as a child process by bench/events.ts.
 *
 * `node events-baseline.js <port>`: the body decoded as one string, then split
 * (the obvious code, and the scenario's anchor). `... <port> lines`: each line
 * decoded from the bytes on its own, so no string is over V8's 128 KiB
 * large-object size (the same parse without the cost of one large string).
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const perLine = process.argv[3] === 'lines';
const OK = Buffer.from('{"accepted":0,"rejected":0}');
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const buf = Buffer.concat(chunks);
    let n = 0;
    if (perLine) {
      for (let start = 0; start < buf.length;) {
        let end = buf.indexOf(10, start);
        if (end < 0) end = buf.length;
        if (end > start) {
          JSON.parse(buf.toString('utf8', start, end));
          n++;
        }
        start = end + 1;
      }
    } else
      for (const line of buf.toString('utf8').split('\n'))
        if (line !== '') {
          JSON.parse(line);
          n++;
        }
    const body = n >= 0 ? OK : OK;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
}).listen(port, '127.0.0.1', () => process.send?.('ready'));
