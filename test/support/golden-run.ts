/**
 * Runs a package the way the engine does, for golden comparisons: a mode runner's prefill of
 * one prompt (its last-position logits), then greedy generation with EOS ignored.
 */
import { expect } from 'vitest';
import { generate, generateConfig } from '../../src/engine/generate.ts';
import { oneRow } from './one-row.ts';
import { createRunner } from '../../src/engine/modes.ts';
import { DEFAULT_DECODING, type LoadingMode } from '../../src/engine/types.ts';
import type { ModelPackage } from '../../src/model/package.ts';
import type { SafetensorsHeader } from '../../src/model/safetensors.ts';

/** Prefill of one prompt through a mode runner: last-position logits, then 16 greedy tokens. */
export async function runMode(p: ModelPackage, h: SafetensorsHeader, mode: LoadingMode, group: number, ids: number[], maxNewTokens: number) {
  const runner = await createRunner(mode, {
    pkg: p, header: h, session: { provider: 'cpu' }, maxResidentModules: 2, maxModuleBytes: 1024 ** 3, maxMergedSessions: 2, stackedKernel: 'onehot', verifyChecksums: true,
  });
  try {
    const { step, failed } = await runner.prepare([group]);
    expect(failed.size, [...failed.values()].join('; ')).toBe(0);
    const cfg = generateConfig(p.manifest);
    const logits = await oneRow(step!, cfg, group).prefill(ids);
    const [out] = await generate(step!, [{ promptIds: ids, options: { ...DEFAULT_DECODING, maxNewTokens, ignoreEos: true }, module: group }], cfg);
    runner.release([group]);
    return { logits, tokens: out.tokens };
  } finally {
    await runner.close();
  }
}

