/**
 * Bad input to the importer: every case fails with a coded error that names the file (and the
 * tensor where there is one), and leaves neither the output folder nor a partial one behind.
 * Inputs are the shared fixture, copied and damaged in a temp folder.
 */
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isXalmaError, type ErrorCode } from '../../../src/errors.ts';
import { importCheckpoint, type ImportOptions } from '../../../src/import/importer.ts';
import { readHfConfig } from '../../../src/import/hf-config.ts';
import { readAdapterConfig } from '../../../src/import/peft-adapter.ts';
import { readSafetensors, writeSafetensors } from '../../../src/model/safetensors.ts';
import { FIXTURES_DIR, haveFixtures, SHARDED } from '../../support/hf-fixtures.ts';

const HAVE = haveFixtures('the importer error tests');
let work: string;

async function copyFixture(name: string): Promise<string> {
  const dst = join(work, `${name}-${Math.random().toString(36).slice(2)}`);
  await cp(join(SHARDED, name), dst, { recursive: true });
  for (const f of await readdir(dst)) await chmod(join(dst, f), 0o644);
  return dst;
}

function options(overrides: Partial<ImportOptions> = {}): ImportOptions {
  return {
    base: join(SHARDED, 'base'),
    adapters: [{ group: 1, dir: join(SHARDED, 'adapter-group-a') }],
    dtype: 'float32',
    out: join(work, 'out', `pkg-${Math.random().toString(36).slice(2)}`),
    ...overrides,
  };
}

/** The import fails with `code`, its message contains every `parts`, and nothing is left in out's folder. */
async function expectRefused(opts: ImportOptions, code: ErrorCode, parts: string[]): Promise<void> {
  const err = await importCheckpoint(opts).then(() => undefined, (e: unknown) => e);
  expect(isXalmaError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  for (const p of parts) expect((err as Error).message).toContain(p);
  const left = await readdir(join(work, 'out')).catch(() => []);
  expect(left.filter((f) => opts.out.endsWith(f) || f.includes('.partial-'))).toEqual([]);
}

beforeAll(async () => {
  if (!HAVE) return;
  work = await mkdtemp(join(tmpdir(), 'xalma-import-errors-'));
  await mkdir(join(work, 'out'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(!HAVE)('importer: bad checkpoints are refused with a coded error and leave nothing behind', () => {
  it('a truncated shard names the shard and the tensor that runs past its end', async () => {
    const base = await copyFixture('base');
    await truncate(join(base, 'model-00002-of-00002.safetensors'), 1_000_000);
    await expectRefused(options({ base }), 'CHECKPOINT_INVALID', ['model-00002-of-00002.safetensors', 'tensor ', 'out of range']);
  });

  it('a missing tensor names it', async () => {
    const base = await copyFixture('base');
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const f of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
      for (const [k, v] of await readSafetensors(join(base, f))) tensors.set(k, v);
      await rm(join(base, f));
    }
    await rm(join(base, 'model.safetensors.index.json'));
    tensors.delete('model.layers.1.mlp.up_proj.weight');
    await writeSafetensors(join(base, 'model.safetensors'), [...tensors].map(([name, t]) => ({ name, ...t })));
    await expectRefused(options({ base }), 'CHECKPOINT_INVALID', ['model.safetensors', 'model.layers.1.mlp.up_proj.weight is missing']);
  });

  it('a shape that config.json contradicts names the tensor and both shapes', async () => {
    const base = await copyFixture('base');
    const config = JSON.parse(await readFile(join(base, 'config.json'), 'utf8'));
    await writeFile(join(base, 'config.json'), JSON.stringify({ ...config, intermediate_size: 48 }));
    await expectRefused(options({ base }), 'CHECKPOINT_INVALID', ['model-00001-of-00002.safetensors', 'model.layers.0.mlp.down_proj.weight', 'has shape [32, 64]', 'implies [32, 48]']);
  });

  it('an unknown dtype names the tensor', async () => {
    const base = await copyFixture('base');
    const shard = join(base, 'model-00002-of-00002.safetensors');
    const bytes = await readFile(shard);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    header['model.norm.weight'].dtype = 'F24';
    const text = Buffer.from(JSON.stringify(header).padEnd(n, ' '));
    expect(text.length).toBe(n);
    text.copy(bytes, 8);
    await writeFile(shard, bytes);
    await expectRefused(options({ base }), 'CHECKPOINT_INVALID', ['model-00002-of-00002.safetensors', 'model.norm.weight', 'F24']);
  });

  it('a shard whose bytes do not match its Hub-cache sha256 is refused; the right sha256 imports', async () => {
    // The Hub cache layout: snapshots/<rev>/<file> -> ../../blobs/<sha256 of the file>.
    const hub = join(work, `hub-${Math.random().toString(36).slice(2)}`);
    const snap = join(hub, 'snapshots', 'abc123');
    await mkdir(join(hub, 'blobs'), { recursive: true });
    await cp(join(SHARDED, 'base'), snap, { recursive: true });
    for (const f of await readdir(snap)) await chmod(join(snap, f), 0o644);
    const name = 'model-00001-of-00002.safetensors';
    const data = await readFile(join(snap, name));
    const sha = createHash('sha256').update(data).digest('hex');
    const link = async (blob: string, bytes: Buffer) => {
      await writeFile(join(hub, 'blobs', blob), bytes);
      await rm(join(snap, name));
      await symlink(join('..', '..', 'blobs', blob), join(snap, name));
    };
    const corrupted = Buffer.from(data);
    corrupted[corrupted.length - 3] ^= 0x40; // one bit of the last tensor's data: the header stays valid
    await link(sha, corrupted);
    await expectRefused(options({ base: snap }), 'CHECKPOINT_INVALID', [name, 'sha256', sha]);
    await link(sha, data);
    const ok = await importCheckpoint(options({ base: snap }));
    expect(ok.tensors).toBe(21);
  });

  it('an output folder that exists is never overwritten', async () => {
    const out = join(work, 'out', 'taken');
    await mkdir(out);
    const err = await importCheckpoint(options({ out })).then(() => undefined, (e: unknown) => e);
    expect(isXalmaError(err, 'IMPORT_OUTPUT_EXISTS')).toBe(true);
    await rm(out, { recursive: true });
  });

  it('an interrupted import (Ctrl-C) leaves no package and no partial folder', async () => {
    const controller = new AbortController();
    const opts = options({ signal: controller.signal, onProgress: () => controller.abort(new Error('interrupted')) });
    await expect(importCheckpoint(opts)).rejects.toThrow('interrupted');
    const left = await readdir(join(work, 'out'));
    expect(left.filter((f) => f.includes('.partial-') || opts.out.endsWith(f))).toEqual([]);
  });
});

describe.skipIf(!HAVE)('importer: adapters that change the math in ways not implemented are refused', () => {
  async function adapterWith(edit: (c: Record<string, unknown>) => void): Promise<string> {
    const dir = await copyFixture('adapter-group-a');
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    edit(config);
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify(config));
    return dir;
  }

  for (const [what, edit, needle] of [
    ['DoRA', (c: Record<string, unknown>) => (c.use_dora = true), 'use_dora'],
    ['rsLoRA', (c: Record<string, unknown>) => (c.use_rslora = true), 'use_rslora'],
    ['a rank pattern', (c: Record<string, unknown>) => (c.rank_pattern = { q_proj: 8 }), 'rank_pattern'],
    ['an alpha pattern', (c: Record<string, unknown>) => (c.alpha_pattern = { q_proj: 8 }), 'alpha_pattern'],
    ['a target other than the 7 projections', (c: Record<string, unknown>) => (c.target_modules = ['q_proj', 'lm_head']), 'lm_head'],
  ] as const) {
    it(`${what}`, async () => {
      const dir = await adapterWith(edit);
      await expectRefused(options({ adapters: [{ group: 1, dir }] }), 'CHECKPOINT_UNSUPPORTED', [join(dir, 'adapter_config.json'), needle]);
    });
  }

  it('an adapter made for another base (dims do not match) names the factor and both shapes', async () => {
    const base = join(FIXTURES_DIR, 'tiny-random-llama-basaran');
    const dir = join(SHARDED, 'adapter-group-a');
    // basaran: hidden 4, head_dim 2; adapter-group-a was trained on hidden 32.
    await expectRefused(options({ base, adapters: [{ group: 1, dir }] }), 'CHECKPOINT_INVALID', ['adapter_model.safetensors', 'layer 0 q_proj lora_A', 'need [4, 4]']);
  });
});

describe.skipIf(!HAVE)('importer: the real X-ALMA-13B config files', () => {
  const REAL = join(FIXTURES_DIR, 'xalma-reference', 'real-configs');

  it('config.json gives the 13B dims, eps, theta and ids', async () => {
    const dir = join(work, 'real-config');
    await mkdir(dir, { recursive: true });
    await cp(join(REAL, 'X-ALMA-13B-Group4.config.json'), join(dir, 'config.json'));
    const c = await readHfConfig(dir);
    expect(c.dims).toEqual({ vocabSize: 32000, hiddenSize: 5120, intermediateSize: 13824, numLayers: 40, numHeads: 40, numKvHeads: 40, headDim: 128, maxPositions: 4096, rmsNormEps: 1e-5, ropeTheta: 10000 });
    expect([c.bosId, c.eosId, c.padId, c.tiedEmbeddings, c.torchDtype]).toEqual([1, 2, 0, false, 'float16']);
  });

  it('adapter_config.json (PEFT >= 0.10 key set) gives r 512, scale 2 and the 7 targets in our order', async () => {
    const dir = join(work, 'real-adapter');
    await mkdir(dir, { recursive: true });
    await cp(join(REAL, 'X-ALMA-13B-Group1.adapter_config.json'), join(dir, 'adapter_config.json'));
    expect(await readAdapterConfig(dir)).toEqual({ rank: 512, scale: 2, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] });
  });
});
