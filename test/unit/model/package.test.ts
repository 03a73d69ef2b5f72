import { readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isXalmaError } from '../../../src/errors.ts';
import type { ErrorCode } from '../../../src/errors.ts';
import { baseTensorShapes, tensorNames } from '../../../src/model/architecture.ts';
import { loadModelPackage, validateModuleFile, verifyModuleChecksum } from '../../../src/model/package.ts';
import { readSafetensors, writeSafetensors } from '../../../src/model/safetensors.ts';
import { randomTensors } from '../../support/reference-forward.ts';
import {
  FIXTURE_DIMS,
  FIXTURE_LORA,
  makePackage,
  readManifest,
  refreshEntry,
  writeManifest,
  writeModule,
} from './package-fixture.ts';

let dir: string;

beforeEach(async () => {
  dir = await makePackage();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof Error)) throw new Error('expected a rejection');
  return err;
}

async function expectCode(p: Promise<unknown>, code: ErrorCode, ...fragments: string[]): Promise<void> {
  const err = await rejection(p);
  expect(isXalmaError(err, code), `expected ${code}, got ${err.message}`).toBe(true);
  for (const f of fragments) expect(err.message).toContain(f);
}

async function editManifest(edit: (m: Record<string, any>) => void): Promise<void> {
  const m = (await readManifest(dir)) as unknown as Record<string, any>;
  edit(m);
  await writeManifest(dir, m);
}

/** Rewrites base.safetensors with `replace` applied, and fixes its manifest entry. */
async function rewriteBase(replace: (tensors: Map<string, { shape: number[]; data: Float32Array }>) => void): Promise<void> {
  const tensors = randomTensors(baseTensorShapes(FIXTURE_DIMS), 1);
  replace(tensors);
  await writeSafetensors(join(dir, 'base.safetensors'), [...tensors].map(([name, t]) => ({ name, ...t })));
  await refreshEntry(dir, 'base.safetensors');
}

describe('loadModelPackage', () => {
  it('loads a valid package and resolves its paths', async () => {
    const pkg = await loadModelPackage(dir);
    expect(pkg.manifest.name).toBe('fixture');
    expect(pkg.weightsPath).toBe(join(dir, 'base.safetensors'));
    expect(pkg.graphPath).toBe(join(dir, 'base.onnx'));
    expect(pkg.tokenizerPath).toBe(join(dir, 'tokenizer.json'));
    expect(pkg.modulePath(2)).toBe(join(dir, 'modules/group2.safetensors'));
  });

  it('answers MODULE_UNAVAILABLE for a group the manifest lacks', async () => {
    const pkg = await loadModelPackage(dir);
    expect(() => pkg.modulePath(9)).toThrow(expect.objectContaining({ code: 'MODULE_UNAVAILABLE' }));
  });

  it('reports a missing manifest.json as MODEL_FILE_MISSING', async () => {
    await unlink(join(dir, 'manifest.json'));
    await expectCode(loadModelPackage(dir), 'MODEL_FILE_MISSING', 'manifest.json');
  });

  it('reports a manifest.json that is not JSON as MODEL_MANIFEST_INVALID', async () => {
    await writeFile(join(dir, 'manifest.json'), '{ "format": ');
    await expectCode(loadModelPackage(dir), 'MODEL_MANIFEST_INVALID', 'not valid JSON');
  });

  it('reports a missing listed file as MODEL_FILE_MISSING naming it', async () => {
    await unlink(join(dir, 'base.onnx'));
    await expectCode(loadModelPackage(dir), 'MODEL_FILE_MISSING', 'base.onnx');
  });

  it('reports a wrong sha256 as MODEL_CHECKSUM_MISMATCH naming the file', async () => {
    await editManifest((m) => {
      m.files.find((f: { path: string }) => f.path === 'tokenizer.json').sha256 = 'f'.repeat(64);
    });
    await expectCode(loadModelPackage(dir), 'MODEL_CHECKSUM_MISMATCH', 'tokenizer.json', 'sha256');
  });

  it('detects a same-size corruption through the hash, and skips hashing when told to', async () => {
    const path = join(dir, 'tokenizer.json');
    const bytes = await readFile(path);
    bytes[bytes.length - 2] ^= 0x01;
    await writeFile(path, bytes);
    await expectCode(loadModelPackage(dir), 'MODEL_CHECKSUM_MISMATCH', 'tokenizer.json');
    await expect(loadModelPackage(dir, { verifyChecksums: false })).resolves.toBeDefined();
  });

  it('checks sizes even without hashing', async () => {
    await writeFile(join(dir, 'base.onnx'), 'a different length placeholder');
    await expectCode(loadModelPackage(dir, { verifyChecksums: false }), 'MODEL_CHECKSUM_MISMATCH', 'base.onnx', 'bytes');
  });

  it('reports a base tensor of the wrong shape as MODEL_SHAPE_MISMATCH with both shapes', async () => {
    const name = tensorNames.linear(1, 'gate_proj');
    await rewriteBase((t) => t.set(name, { shape: [12, 8], data: new Float32Array(96) }));
    await expectCode(loadModelPackage(dir), 'MODEL_SHAPE_MISMATCH', name, 'shape [12, 8]', 'expected [8, 12]');
  });

  it('reports a missing base tensor as MODEL_SHAPE_MISMATCH naming it', async () => {
    await rewriteBase((t) => t.delete(tensorNames.lmHead));
    await expectCode(loadModelPackage(dir), 'MODEL_SHAPE_MISMATCH', tensorNames.lmHead, 'missing');
  });

  it('reports a malformed base weights file as SAFETENSORS_INVALID', async () => {
    await writeFile(join(dir, 'base.safetensors'), Buffer.from('garbage, not safetensors'));
    await refreshEntry(dir, 'base.safetensors');
    await expectCode(loadModelPackage(dir), 'SAFETENSORS_INVALID', 'base.safetensors');
  });

  it('reports an unknown architecture as MODEL_UNKNOWN_ARCHITECTURE', async () => {
    await editManifest((m) => { m.architecture = 'falcon'; });
    await expectCode(loadModelPackage(dir), 'MODEL_UNKNOWN_ARCHITECTURE', 'falcon');
  });

  it('reports another format version as MODEL_UNSUPPORTED_VERSION', async () => {
    await editManifest((m) => { m.formatVersion = 0; });
    await expectCode(loadModelPackage(dir), 'MODEL_UNSUPPORTED_VERSION');
  });

  it('reports a schema violation as MODEL_MANIFEST_INVALID with the JSON path', async () => {
    await editManifest((m) => { m.lora.rank = 0; });
    await expectCode(loadModelPackage(dir), 'MODEL_MANIFEST_INVALID', '/lora/rank');
  });

  it('still loads when a module file is missing or corrupt: only that group fails later', async () => {
    await unlink(join(dir, 'modules/group1.safetensors'));
    await writeFile(join(dir, 'modules/group2.safetensors'), 'corrupt');
    await expect(loadModelPackage(dir)).resolves.toBeDefined();
  });
});

describe('module files', () => {
  it('accepts a valid module and its checksum', async () => {
    const pkg = await loadModelPackage(dir);
    const header = await validateModuleFile(pkg.modulePath(1), pkg.manifest, 1);
    expect(header.tensors.size).toBe(FIXTURE_DIMS.numLayers * FIXTURE_LORA.targets.length * 2);
    await expect(verifyModuleChecksum(pkg, 1)).resolves.toBeUndefined();
  });

  it('reports a missing module file as MODULE_UNAVAILABLE', async () => {
    const pkg = await loadModelPackage(dir);
    await unlink(pkg.modulePath(1));
    await expectCode(validateModuleFile(pkg.modulePath(1), pkg.manifest, 1), 'MODULE_UNAVAILABLE', 'group 1');
    await expectCode(verifyModuleChecksum(pkg, 1), 'MODULE_UNAVAILABLE', 'group 1');
    // The other group is unaffected.
    await expect(validateModuleFile(pkg.modulePath(2), pkg.manifest, 2)).resolves.toBeDefined();
  });

  it('reports a module that is not safetensors as MODULE_INVALID', async () => {
    const pkg = await loadModelPackage(dir);
    await writeFile(pkg.modulePath(2), 'not a safetensors file at all');
    await expectCode(validateModuleFile(pkg.modulePath(2), pkg.manifest, 2), 'MODULE_INVALID', 'group 2');
  });

  it('reports a module trained with another rank as MODULE_INVALID naming the rank', async () => {
    const pkg = await loadModelPackage(dir);
    await writeModule(pkg.modulePath(1), FIXTURE_DIMS, { ...FIXTURE_LORA, rank: 3 }, 5);
    await expectCode(validateModuleFile(pkg.modulePath(1), pkg.manifest, 1), 'MODULE_INVALID', 'lora_A', 'rank 3', 'manifest says 2');
  });

  it('reports a module missing a tensor as MODULE_INVALID naming it', async () => {
    const pkg = await loadModelPackage(dir);
    const tensors = await readSafetensors(pkg.modulePath(1));
    const dropped = tensorNames.loraB(1, 'down_proj');
    tensors.delete(dropped);
    await writeSafetensors(pkg.modulePath(1), [...tensors].map(([name, t]) => ({ name, ...t })));
    await expectCode(validateModuleFile(pkg.modulePath(1), pkg.manifest, 1), 'MODULE_INVALID', dropped, 'missing');
  });

  it('reports a module whose bytes changed as MODULE_INVALID on checksum', async () => {
    const pkg = await loadModelPackage(dir);
    const bytes = await readFile(pkg.modulePath(2));
    bytes[bytes.length - 1] ^= 0x40;
    await writeFile(pkg.modulePath(2), bytes);
    await expectCode(verifyModuleChecksum(pkg, 2), 'MODULE_INVALID', 'sha256');
    // Same size, still structurally valid: only the checksum can tell.
    await expect(validateModuleFile(pkg.modulePath(2), pkg.manifest, 2)).resolves.toBeDefined();
  });
});
