/**
 * Weights beyond protobuf's 2 GiB limit: a package with 2.4 GiB of float32 weights (sparse
 * zero files, no disk used) loads and generates in all three modes, because every graph reads
 * its initializers in place from the package files (ONNX external data) and none carries
 * weights inline.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/engine/engine.ts';
import { DEFAULT_DECODING, type LoadingMode } from '../../../src/engine/types.ts';
import { isXalmaError } from '../../../src/errors.ts';
import { DEFAULT_MODEL_DIR } from '../../../src/paths.ts';
import { makeSparsePackage } from '../../support/sparse-package.ts';
import { readSafetensorsHeader } from '../../../src/model/safetensors.ts';

let dir: string;
let weightBytes: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xalma-over-2gib-'));
  ({ weightBytes } = await makeSparsePackage(dir, join(DEFAULT_MODEL_DIR, 'tokenizer.json')));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a model with more than 2 GiB of weights', () => {
  it('is bigger than the protobuf limit, and its last tensors lie past 4 GiB of offset', async () => {
    expect(weightBytes).toBeGreaterThan(2 ** 31);
    const header = await readSafetensorsHeader(join(dir, 'base.safetensors'));
    expect(Math.max(...[...header.tensors.values()].map((e) => e.end))).toBeGreaterThan(2 ** 32);
  });

  for (const mode of ['single', 'all', 'merged'] as LoadingMode[]) {
    it(`${mode} mode loads it and generates`, async () => {
      const engine = await createEngine({ modelDir: dir, mode, provider: 'cpu', verifyChecksums: false });
      try {
        const [out] = await engine.translateBatch([{ group: 2, sourceName: 'English', targetName: 'Spanish', text: 'hello', options: { ...DEFAULT_DECODING, maxNewTokens: 2, ignoreEos: true } }]);
        expect(isXalmaError(out), String(out)).toBe(false);
        expect(!isXalmaError(out) && out.outputTokens).toBe(2);
      } finally {
        await engine.close();
      }
    });
  }
});
