/**
 * The baseline: a bare node:http server that only reads the body and parses
 * it (JSON.parse, or protobufjs reflection decode of the OTLP schema), then
 * answers 200 {}. Run as a child process by bench/run.ts.
 */
import { createServer } from 'node:http';
import { loadOtlpProtos } from '../src/otlp/schema.js';

const port = Number(process.argv[2]);
const Req = loadOtlpProtos().lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
const OK = Buffer.from('{}');
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if ((req.headers['content-type'] ?? '').startsWith('application/json')) JSON.parse(body.toString('utf8'));
    else Req.decode(body);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': OK.length });
    res.end(OK);
  });
}).listen(port, '127.0.0.1', () => process.send?.('ready'));
