/**
 * Etsy statsd's flush arithmetic (statsd 0.9.0 lib/process_metrics.js and
 * backends/graphite.js, legacy namespace), as pure functions, so that
 * dashboards built on Etsy statsd read the same numbers from metricport.
 */

/** Etsy's key sanitising (stats.js sanitizeKeyName with keyNameSanitize on). */
export function etsySanitize(key: string): string {
  return key
    .replace(/\s+/g, '_')
    .replace(/\//g, '-')
    .replace(/[^a-zA-Z_\-0-9.;=]/g, '');
}

/** The suffix Etsy gives a percentile threshold: 90 → "90", 99.9 → "99_9", -10 → "top10". */
export function etsyPctName(pct: number): string {
  return String(pct).replace('.', '_').replace('-', 'top');
}

/**
 * The timer statistics Etsy statsd writes for one timer and one flush, from
 * the sorted raw values and the sample-rate-weighted count. Keys in Etsy's
 * order; [] values (count 0) give only `count` and `count_ps`.
 */
export function etsyTimerStats(
  sorted: ArrayLike<number>,
  n: number,
  weightedCount: number,
  pcts: readonly number[],
  flushIntervalMs: number,
): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  if (n === 0) {
    out.push(['count', 0], ['count_ps', 0]);
    return out;
  }
  const min = sorted[0] as number;
  const max = sorted[n - 1] as number;
  const cumul = new Float64Array(n);
  const cumulSq = new Float64Array(n);
  cumul[0] = min;
  cumulSq[0] = min * min;
  for (let i = 1; i < n; i++) {
    const v = sorted[i] as number;
    cumul[i] = v + (cumul[i - 1] as number);
    cumulSq[i] = v * v + (cumulSq[i - 1] as number);
  }
  let sum = min;
  let sumSquares = min * min;
  let mean = min;
  let boundary = max;
  for (const pct of pcts) {
    let inThreshold = n;
    if (n > 1) {
      inThreshold = Math.round((Math.abs(pct) / 100) * n);
      if (inThreshold === 0) continue;
      if (pct > 0) {
        boundary = sorted[inThreshold - 1] as number;
        sum = cumul[inThreshold - 1] as number;
        sumSquares = cumulSq[inThreshold - 1] as number;
      } else {
        boundary = sorted[n - inThreshold] as number;
        sum = (cumul[n - 1] as number) - (n - inThreshold - 1 >= 0 ? (cumul[n - inThreshold - 1] as number) : 0);
        sumSquares = (cumulSq[n - 1] as number) - (n - inThreshold - 1 >= 0 ? (cumulSq[n - inThreshold - 1] as number) : 0);
      }
      mean = sum / inThreshold;
    }
    const p = etsyPctName(pct);
    out.push(
      [`count_${p}`, inThreshold],
      [`mean_${p}`, mean],
      [`${pct > 0 ? 'upper' : 'lower'}_${p}`, boundary],
      [`sum_${p}`, sum],
      [`sum_squares_${p}`, sumSquares],
    );
  }
  sum = cumul[n - 1] as number;
  sumSquares = cumulSq[n - 1] as number;
  mean = sum / n;
  let diffs = 0;
  for (let i = 0; i < n; i++) {
    const d = (sorted[i] as number) - mean;
    diffs += d * d;
  }
  const mid = Math.floor(n / 2);
  const median = n % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  out.push(
    ['std', Math.sqrt(diffs / n)],
    ['upper', max],
    ['lower', min],
    ['count', weightedCount],
    ['count_ps', weightedCount / (flushIntervalMs / 1000)],
    ['sum', sum],
    ['sum_squares', sumSquares],
    ['mean', mean],
    ['median', median],
  );
  return out;
}

/** Nearest-rank percentile of sorted values, as Etsy's upper_<pct> (pct in (0, 100]). */
export function nearestRank(sorted: ArrayLike<number>, n: number, pct: number): number {
  if (n === 0) return NaN;
  if (n === 1) return sorted[0] as number;
  const k = Math.round((pct / 100) * n);
  return sorted[Math.min(n - 1, Math.max(0, k - 1))] as number;
}
