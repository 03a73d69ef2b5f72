/** Percentiles and the per-run figure record shared by the load drivers. */

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

export function medianOf(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One measured run: a fixed number of requests at a fixed concurrency. */
export interface RunFigures {
  requests: number;
  wallMs: number;
  outputTokens: number;
  tokensPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Requests that did not return exactly the asked number of tokens (EOS before the cap). */
  shortRequests: number;
  errors: number;
}

/** The median of each figure over repeated runs (each figure on its own, as the issue asks). */
export function medianFigures(runs: readonly RunFigures[]): RunFigures {
  const pick = (k: keyof RunFigures) => medianOf(runs.map((r) => r[k]));
  return {
    requests: pick('requests'),
    wallMs: pick('wallMs'),
    outputTokens: pick('outputTokens'),
    tokensPerSec: pick('tokensPerSec'),
    p50Ms: pick('p50Ms'),
    p90Ms: pick('p90Ms'),
    p99Ms: pick('p99Ms'),
    shortRequests: Math.max(...runs.map((r) => r.shortRequests)),
    errors: Math.max(...runs.map((r) => r.errors)),
  };
}

export function figuresFrom(latenciesMs: readonly number[], wallMs: number, outputTokens: number, shortRequests: number, errors: number): RunFigures {
  return {
    requests: latenciesMs.length,
    wallMs,
    outputTokens,
    tokensPerSec: outputTokens / (wallMs / 1000),
    p50Ms: percentile(latenciesMs, 50),
    p90Ms: percentile(latenciesMs, 90),
    p99Ms: percentile(latenciesMs, 99),
    shortRequests,
    errors,
  };
}
