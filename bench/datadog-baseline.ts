/**
 * The `datadog` baseline: a bare node:http server that reads a body and
 * parses it, nothing more: `JSON.parse` for /api/v1/series, protobufjs's
 * `MetricPayload.decode` (proto/datadog/agent_payload.proto) for
 * /api/v2/series; then answers 202 as the intake does. Run as a child
 * process by bench/datadog.ts.
 */
import { createServer } from 'node:http';
import { metricPayloadType } from '../receivers/datadog/schema.js';

const port = Number(process.argv[2]);
const payload = metricPayloadType();
const V1 = Buffer.from('{"status":"ok"}');
const V2 = Buffer.from('{"errors":[]}');
let sink = 0;
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    let out: Buffer;
    if (req.url === '/api/v2/series') {
      const m = payload.decode(body) as unknown as { series: unknown[] };
      sink += m.series.length;
      out = V2;
    } else {
      const d = JSON.parse(body.toString('utf8')) as { series: unknown[] };
      sink += d.series.length;
      out = V1;
    }
    res.writeHead(202, { 'content-type': 'application/json', 'content-length': out.length });
    res.end(out);
  });
}).listen(port, '127.0.0.1', () => process.send?.('ready'));
process.on('exit', () => {
  if (sink < 0) console.log(sink);
});
