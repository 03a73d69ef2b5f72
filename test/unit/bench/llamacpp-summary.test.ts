import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSummary } from '../../../bench/lib/summary.ts';
import { sequencesNeeded } from '../../../bench/lib/llamacpp-load.ts';

describe('llama.cpp peer rows of the benchmark summary', () => {
  it('reads bench/llamacpp.ts ratios per precision with the issue\'s goals (>= 1x throughput, <= 1.5x latency) and the load average', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-llamacpp-'));
    try {
      await writeFile(join(dir, 'llamacpp.json'), JSON.stringify({
        loadAverage: { start: [3.2, 2, 1] },
        ratios: { 'f32.c32TokensPerSec': 1.2, 'f32.singleP50': 1.6, 'q8_0.c32TokensPerSec': 0.8, 'q8_0.singleP50': 1.1, 'f32.mixedC32TokensPerSec': 2.5 },
      }));
      const rows = (await buildSummary(dir)).filter((r) => r.area === 'llama.cpp peer');
      expect(rows).toHaveLength(7);
      const find = (s: string) => rows.find((r) => r.ratio.includes(s))!;
      expect(find('32 concurrent, fp32 vs f32')).toMatchObject({ measured: 1.2, pass: true, note: 'load average 3.2 at start (shared machine)' });
      expect(find('latency vs llama.cpp, fp32 vs f32')).toMatchObject({ measured: 1.6, pass: false });
      expect(find('32 concurrent, int8 vs q8_0')).toMatchObject({ measured: 0.8, pass: false });
      expect(find('int4 vs q4_0 (merged')).toMatchObject({ measured: null, pass: null });
      expect(find('mixed groups')).toMatchObject({ measured: 2.5, pass: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('llama.cpp contexts offer enough sequences for the concurrency spread over them', () => {
    expect(sequencesNeeded(32, 1)).toBe(32);
    expect(sequencesNeeded(32, 8)).toBe(4);
    expect(sequencesNeeded(1, 8)).toBe(1);
  });
});
