import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeModel } from '../../../src/model/make-model.ts';
import { loadModelPackage } from '../../../src/model/package.ts';
import { DEFAULT_MODEL_DIR } from '../../../src/paths.ts';

describe('make-model', () => {
  it('rebuilds the committed default package byte for byte from its seed (no drift between code and models/)', async () => {
    const committed = JSON.parse(await readFile(join(DEFAULT_MODEL_DIR, 'manifest.json'), 'utf8'));
    const seed = Number(/seed (\d+)/.exec(committed.description)![1]);
    const dir = await mkdtemp(join(tmpdir(), 'xalma-make-'));
    try {
      const made = await makeModel({ outDir: dir, preset: 'tiny', seed, name: committed.name });
      expect(made.files).toEqual(committed.files);
      expect(made).toEqual(committed);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes a package that loads and verifies, marked demo, with 8 groups covering 49 languages', async () => {
    const pkg = await loadModelPackage(DEFAULT_MODEL_DIR);
    expect(pkg.manifest.demo).toBe(true);
    expect(pkg.manifest.groups).toHaveLength(8);
    expect(new Set(pkg.manifest.groups.flatMap((g) => g.languages)).size).toBe(49);
    const bytes = pkg.manifest.files.reduce((n, f) => n + f.bytes, 0);
    expect(bytes).toBeLessThan(40e6);
  });

  it('a different seed gives different weights', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xalma-make-'));
    try {
      const made = await makeModel({ outDir: dir, preset: 'tiny', seed: 7 });
      const committed = JSON.parse(await readFile(join(DEFAULT_MODEL_DIR, 'manifest.json'), 'utf8'));
      const sha = (m: { files: Array<{ path: string; sha256: string }> }, p: string) => m.files.find((f) => f.path === p)!.sha256;
      expect(sha(made, 'base.safetensors')).not.toBe(sha(committed, 'base.safetensors'));
      expect(sha(made, 'tokenizer.json')).toBe(sha(committed, 'tokenizer.json'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
