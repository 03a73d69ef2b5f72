import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeStepFlops, decodeStepShapes } from '../../../bench/lib/decode-shapes.ts';
import { peerRatios, type ServingCell } from '../../../bench/lib/peers-record.ts';
import { figuresFrom, medianFigures, percentile } from '../../../bench/lib/stats.ts';
import { buildSummary } from '../../../bench/lib/summary.ts';
import { MIXED_TARGETS, workItem } from '../../../bench/lib/workload.ts';
import { PRESETS } from '../../../src/model/make-model.ts';

describe('bench stats', () => {
  it('percentile uses the nearest rank, so p99 of few samples is the slowest', () => {
    const xs = [5, 1, 4, 2, 3];
    expect(percentile(xs, 50)).toBe(3);
    expect(percentile(xs, 99)).toBe(5);
    expect(percentile(xs, 0)).toBe(1);
  });

  it('medianFigures takes the median of each figure and the worst error counts', () => {
    const a = figuresFrom([100, 200], 1000, 64, 0, 0);
    const b = figuresFrom([300, 400], 2000, 64, 1, 0);
    const c = figuresFrom([500, 600], 4000, 64, 0, 2);
    const m = medianFigures([a, b, c]);
    expect(m.wallMs).toBe(2000);
    expect(m.tokensPerSec).toBeCloseTo(32);
    expect(m.shortRequests).toBe(1);
    expect(m.errors).toBe(2);
  });
});

describe('bench workload', () => {
  it('mixed traffic covers all 8 groups in every 8 consecutive requests', () => {
    const groups = new Set(Array.from({ length: 8 }, (_, i) => workItem(i + 5, 'mixed').group));
    expect(groups.size).toBe(MIXED_TARGETS.length);
  });

  it('single-group traffic stays on group 1 (the peer holds group 1 merged)', () => {
    expect(new Set(Array.from({ length: 20 }, (_, i) => workItem(i, 'single-group').group))).toEqual(new Set([1]));
  });
});

describe('decode step shapes', () => {
  it('counts every linear of every layer once and the lm head once', () => {
    const dims = PRESETS.bench.dims;
    const shapes = decodeStepShapes(dims);
    expect(shapes.reduce((n, s) => n + s.count, 0)).toBe(dims.numLayers * 7 + 1);
    const params = shapes.reduce((n, s) => n + s.k * s.n * s.count, 0);
    expect(decodeStepFlops(dims, 32)).toBe(2 * 32 * params);
  });
});

const cell = (system: string, mode: string, traffic: 'mixed' | 'single-group', concurrency: number, tokensPerSec: number, p50Ms = 100): ServingCell => ({
  system, mode, traffic, concurrency, runs: [], engineBusyFraction: 1, meanBatchRows: 1,
  median: { requests: 1, wallMs: 1, outputTokens: 1, tokensPerSec, p50Ms, p90Ms: p50Ms, p99Ms: p50Ms, shortRequests: 0, errors: 0 },
});

describe('peer ratios and the summary table', () => {
  it('computes the DESIGN 4 ratios from the cells', () => {
    const r = peerRatios({
      cells: [cell('xalma-serve', 'merged', 'single-group', 32, 400), cell('xalma-serve', 'merged', 'single-group', 1, 20, 80), cell('xalma-serve', 'all', 'single-group', 32, 300), cell('xalma-serve', 'all', 'mixed', 32, 270), cell('naive (batch 1)', 'merged', 'single-group', 32, 40)],
      peer: { system: 'transformers.js', loadMs: 0, repeats: 1, newTokens: 32, perConcurrency: { '1': { median: { ...cell('', '', 'mixed', 1, 1, 100).median }, runs: [], ortBusyFraction: 1, ortMsPerToken: 1 }, '32': { median: cell('', '', 'mixed', 32, 100).median, runs: [], ortBusyFraction: 1, ortMsPerToken: 1 } } },
    });
    expect(r.batchingMergedC32VsNaive).toBe(10);
    expect(r.peerMergedC32VsTransformersJs).toBe(4);
    expect(r.singleRequestLatencyMergedVsTransformersJs).toBe(0.8);
    expect(r.mixedVsSingleGroupAllC32).toBe(0.9);
  });

  it('lists every row, says "not measured" for missing files and flags misses', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-summary-'));
    try {
      await writeFile(join(dir, 'roofline.json'), JSON.stringify({ ratios: { engineEfficiency: 0.4 }, steps: [] }));
      const rows = await buildSummary(dir);
      const eff = rows.find((r) => r.area === 'Engine efficiency')!;
      expect(eff.measured).toBeCloseTo(40);
      expect(eff.pass).toBe(false);
      expect(rows.filter((r) => r.measured === null).every((r) => r.pass === null)).toBe(true);
      expect(rows.length).toBeGreaterThanOrEqual(15);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
