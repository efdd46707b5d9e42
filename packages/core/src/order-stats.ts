/**
 * The one definition of the order statistics curate reports (token lengths in `curate tokens`, in the manifest and
 * in the HTML report): nearest rank, so every percentile, the median included, is a value some record really has.
 * The median is p50: for [10, 20, 30, 1000] it is 20 everywhere, never an interpolated 25 in one place and 20 in
 * another.
 */

/**
 * The nearest-rank `p`th percentile of ascending `sorted` values: the smallest value with at least p% of the
 * values at or below it; 0 for no values.
 * @example nearestRank(Uint32Array.of(10, 20, 30, 1000), 50); // 20
 */
export function nearestRank(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
}

/**
 * The median as curate reports it: the nearest-rank p50 (a real record's value, never the mean of two).
 * @example median(Uint32Array.of(10, 20, 30, 1000)); // 20
 */
export function median(sorted: ArrayLike<number>): number {
  return nearestRank(sorted, 50);
}
