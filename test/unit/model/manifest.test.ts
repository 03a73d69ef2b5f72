import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isXalmaError } from '../../../src/errors.ts';
import type { ErrorCode } from '../../../src/errors.ts';
import { buildFileEntry, parseManifest, sha256File } from '../../../src/model/manifest.ts';
import { sampleManifest } from './package-fixture.ts';

function codeOf(fn: () => unknown): ErrorCode | string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return isXalmaError(err) ? err.code : String(err);
  }
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

/** A sample manifest with one edit applied. */
function edited(edit: (m: Record<string, any>) => void): unknown {
  const m = sampleManifest() as unknown as Record<string, any>;
  edit(m);
  return m;
}

describe('parseManifest', () => {
  it('accepts a valid manifest and returns it', () => {
    const m = sampleManifest();
    expect(parseManifest(JSON.parse(JSON.stringify(m)), 'm.json')).toEqual(m);
  });

  it('rejects another format version with MODEL_UNSUPPORTED_VERSION', () => {
    expect(codeOf(() => parseManifest(edited((m) => { m.formatVersion = 2; }), 'm.json'))).toBe('MODEL_UNSUPPORTED_VERSION');
  });

  it('reports the version before schema problems (a v2 manifest may have another schema)', () => {
    const bad = edited((m) => { m.formatVersion = 99; delete m.dims; m.extra = true; });
    expect(codeOf(() => parseManifest(bad, 'm.json'))).toBe('MODEL_UNSUPPORTED_VERSION');
  });

  it('rejects an unknown architecture with MODEL_UNKNOWN_ARCHITECTURE even when the rest does not fit the schema', () => {
    expect(codeOf(() => parseManifest(edited((m) => { m.architecture = 'gpt2'; }), 'm.json'))).toBe('MODEL_UNKNOWN_ARCHITECTURE');
    const bad = edited((m) => { m.architecture = 'mamba'; delete m.dims; delete m.lora; });
    expect(codeOf(() => parseManifest(bad, 'm.json'))).toBe('MODEL_UNKNOWN_ARCHITECTURE');
    expect(messageOf(() => parseManifest(bad, 'm.json'))).toContain('"mamba"');
  });

  it.each([
    ['a missing required field', (m: Record<string, any>) => { delete m.dims; }, "(root) must have required property 'dims'"],
    ['a wrong type', (m: Record<string, any>) => { m.dims.hiddenSize = '8'; }, '/dims/hiddenSize must be integer'],
    ['an unknown field (typo)', (m: Record<string, any>) => { m.dims.hiddenSzie = 8; }, '/dims must NOT have additional properties (hiddenSzie)'],
    ['an unknown LoRA target', (m: Record<string, any>) => { m.lora.targets = ['qkv_proj']; }, '/lora/targets/0'],
    ['a malformed sha256', (m: Record<string, any>) => { m.files[0].sha256 = 'abc'; }, '/files/0/sha256'],
    ['a path escaping the package', (m: Record<string, any>) => { m.weights = '../elsewhere/base.safetensors'; }, '/weights'],
    ['an absolute path', (m: Record<string, any>) => { m.graph = '/etc/base.onnx'; }, '/graph'],
    ['a wrong format tag', (m: Record<string, any>) => { m.format = 'other'; }, '/format'],
    ['heads not a multiple of kv heads', (m: Record<string, any>) => { m.dims.numHeads = 3; m.dims.numKvHeads = 2; }, 'numKvHeads'],
    ['an odd head dim', (m: Record<string, any>) => { m.dims.headDim = 5; }, 'headDim'],
    ['a token id outside the vocabulary', (m: Record<string, any>) => { m.tokenizer.eosId = 16; }, '/tokenizer/eosId'],
    ['a repeated group id', (m: Record<string, any>) => { m.groups[1].id = 1; }, '/groups/1/id'],
    ['a language in two groups', (m: Record<string, any>) => { m.groups[1].languages.push('de'); }, '"de" is also in group 1'],
    ['a module not listed in files', (m: Record<string, any>) => { m.files.pop(); }, '/groups/1/module'],
    ['the weights not listed in files', (m: Record<string, any>) => { m.files.shift(); }, '/weights'],
  ])('rejects %s with MODEL_MANIFEST_INVALID naming the place', (_label, edit, fragment) => {
    const bad = edited(edit);
    expect(codeOf(() => parseManifest(bad, 'pkg/manifest.json'))).toBe('MODEL_MANIFEST_INVALID');
    const message = messageOf(() => parseManifest(bad, 'pkg/manifest.json'));
    expect(message).toContain('pkg/manifest.json');
    expect(message).toContain(fragment);
  });

  it('rejects a non-object with MODEL_MANIFEST_INVALID', () => {
    expect(codeOf(() => parseManifest([], 'm.json'))).toBe('MODEL_MANIFEST_INVALID');
    expect(codeOf(() => parseManifest(null, 'm.json'))).toBe('MODEL_MANIFEST_INVALID');
  });
});

describe('file entries', () => {
  it('sha256File streams the same digest as hashing in memory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xalma-sha-'));
    try {
      // 3 MiB + 1: spans several read chunks.
      const data = Buffer.alloc(3 * 1024 * 1024 + 1);
      for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
      await writeFile(join(dir, 'blob'), data);
      expect(await sha256File(join(dir, 'blob'))).toBe(createHash('sha256').update(data).digest('hex'));
      await writeFile(join(dir, 'abc'), 'abc');
      expect(await sha256File(join(dir, 'abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('buildFileEntry records the relative path, size and digest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xalma-entry-'));
    try {
      await writeFile(join(dir, 'abc'), 'abc');
      expect(await buildFileEntry(dir, 'abc')).toEqual({
        path: 'abc',
        bytes: 3,
        sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
