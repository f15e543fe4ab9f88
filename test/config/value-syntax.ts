/**
 * Inputs for durations, sizes and endpoints with what the loader makes of
 * them (undefined = rejected). The loader's tests (config.test.ts) and the
 * JSON Schema's (jsonschema.test.ts) use the same table, so the schema's
 * patterns accept exactly what the loader does.
 */
export const DURATION_CASES: ReadonlyArray<[unknown, number | undefined]> = [
  ['250ms', 250], ['10s', 10_000], ['1h30m', 5_400_000], [5, 5000], ['7d', 604_800_000], ['soon', undefined],
  ['0', 0], ['0s', 0], ['1.5s', 1500], [' 10 s ', 10_000], ['10 ms', 10], ['2w', 1_209_600_000], ['100ns', 0.0001], ['3us', 0.003], ['3µs', 0.003],
  ['1m30s', 90_000], ['1h0m0.5s', 3_600_500], ['-0', -0], ['-0s', -0], [0.25, 250], [0, 0],
  ['-1s', undefined], [-1, undefined], ['1h 30m', undefined], ['1.s', undefined], ['.5s', undefined], ['1x', undefined], ['s', undefined], ['', undefined],
  ['1H', undefined], ['1e3s', undefined], ['1,5s', undefined], ['+1s', undefined], ['1h30', undefined], ['ms', undefined], ['10sec', undefined],
];

export const BYTES_CASES: ReadonlyArray<[unknown, number | undefined]> = [
  ['64MiB', 64 * 1024 * 1024], ['512KB', 512_000], [100, 100], ['lots', undefined],
  ['1000', 1000], ['1.5KiB', 1536], [' 2 mb ', 2_000_000], ['1k', 1024], ['1K', 1024], ['1G', 1024 ** 3], ['1gb', 1e9], ['1GiB', 1024 ** 3], ['7b', 7], ['7B', 7], ['0', 0], [0, 0], [2.9, 2], ['1kIb', 1024],
  ['-1', undefined], [-1, undefined], ['1 TB', undefined], ['1KiBs', undefined], ['MiB', undefined], ['', undefined], ['1.KiB', undefined], ['1e3', undefined], ['1_000', undefined],
];

export const ENDPOINT_CASES: ReadonlyArray<[string, boolean]> = [
  ['127.0.0.1:4318', true], [':4318', true], ['0.0.0.0:0', true], ['[::1]:4318', true], ['localhost:65535', true], [' host:80 ', true], ['h:00080', true],
  ['localhost', false], ['host:65536', false], ['host:123456', false], ['[::1]', false], ['::1:80', false], ['host:', false], ['[zz]:80', false], ['a:b:80', false], ['host:8o', false],
];
