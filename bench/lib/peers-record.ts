/** The peers bench record (bench/results/peers.json) and the DESIGN 4 ratios read from it. */
import type { RunFigures } from './stats.ts';
import type { Traffic } from './workload.ts';

export interface ServingCell {
  system: string;
  mode: string;
  traffic: Traffic;
  concurrency: number;
  median: RunFigures;
  runs: RunFigures[];
  /** Engine batch time / wall time (server /metrics). */
  engineBusyFraction: number;
  meanBatchRows: number;
}

export interface PeerCell {
  median: RunFigures;
  runs: RunFigures[];
  /** Share of wall time with at least one ORT run in flight. */
  ortBusyFraction: number;
  /** ORT run time summed over calls, per generated token (ms). */
  ortMsPerToken: number;
}

export interface PeersRecord {
  bench: 'peers';
  date: string;
  commit: string;
  cpu: string;
  cores: number;
  command: string;
  model: string;
  newTokens: number;
  repeats: number;
  quick: boolean;
  serverFlags: string[];
  cells: ServingCell[];
  peer: { system: 'transformers.js'; loadMs: number; repeats: number; newTokens: number; perConcurrency: Record<string, PeerCell> } | null;
  ratios: Record<string, number>;
}

export function findCell(r: Pick<PeersRecord, 'cells'>, system: string, mode: string, traffic: Traffic, concurrency: number): ServingCell | undefined {
  return r.cells.find((c) => c.system === system && c.mode === mode && c.traffic === traffic && c.concurrency === concurrency);
}

const OURS = 'xalma-serve';
const NAIVE = 'naive (batch 1)';

/**
 * The ratios DESIGN 4 names, as far as this bench measures them (NaN when a part is missing):
 *   batching:  tokens/s at 32 concurrent requests / the naive server's (one at a time);
 *   peers:     our tokens/s / transformers.js tokens/s at 32; single-request latency ours / theirs;
 *   mixed:     all mode, mixed / single-group tokens/s at 32.
 */
export function peerRatios(r: Pick<PeersRecord, 'cells' | 'peer'>): Record<string, number> {
  const tps = (system: string, mode: string, traffic: Traffic, c: number) => findCell(r, system, mode, traffic, c)?.median.tokensPerSec ?? NaN;
  const p50 = (system: string, mode: string, c: number) => findCell(r, system, mode, 'single-group', c)?.median.p50Ms ?? NaN;
  const naive32 = tps(NAIVE, 'merged', 'single-group', 32);
  const peer32 = r.peer?.perConcurrency['32']?.median.tokensPerSec ?? NaN;
  const peer1p50 = r.peer?.perConcurrency['1']?.median.p50Ms ?? NaN;
  return {
    batchingMergedC32VsNaive: tps(OURS, 'merged', 'single-group', 32) / naive32,
    batchingAllMixedC32VsNaive: tps(OURS, 'all', 'mixed', 32) / naive32,
    peerMergedC32VsTransformersJs: tps(OURS, 'merged', 'single-group', 32) / peer32,
    peerAllC32VsTransformersJs: tps(OURS, 'all', 'single-group', 32) / peer32,
    singleRequestLatencyMergedVsTransformersJs: p50(OURS, 'merged', 1) / peer1p50,
    singleRequestLatencyAllVsTransformersJs: p50(OURS, 'all', 1) / peer1p50,
    mixedVsSingleGroupAllC32: tps(OURS, 'all', 'mixed', 32) / tps(OURS, 'all', 'single-group', 32),
  };
}
