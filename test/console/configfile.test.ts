import { expect } from 'chai';
import { keepFormatting } from '../../src/console/configfile.js';

describe('console: keepFormatting (the YAML library pads flow collections; the file keeps its own style)', () => {
  const original = ['a: { receivers: [otlp], exporters: [prometheus, influxdb] } # c', 'b: [x, y]', "q: ['[ kept ]']", ''].join('\n');

  it('puts back untouched lines as the file had them, and unpads a changed flow sequence the file writes unpadded', () => {
    const next = ['a: { receivers: [ otlp ], exporters: [ prometheus ] } # c', 'b: [ x, y ]', "q: [ '[ kept ]' ]", 'n: [ z ]', ''].join('\n');
    expect(keepFormatting(original, next)).to.equal(
      ['a: { receivers: [otlp], exporters: [prometheus] } # c', 'b: [x, y]', "q: ['[ kept ]']", 'n: [z]', ''].join('\n'),
    );
  });

  it('leaves padding alone in a file that pads its sequences, and lines with quotes it cannot match', () => {
    const padded = 'b: [ x, y ]\nc: [ 1 ]\n';
    expect(keepFormatting(padded, 'b: [ x, y ]\nd: [ 2 ]\n')).to.equal('b: [ x, y ]\nd: [ 2 ]\n');
    expect(keepFormatting(original, "r: [ 'a b' ]")).to.equal("r: [ 'a b' ]");
  });
});
