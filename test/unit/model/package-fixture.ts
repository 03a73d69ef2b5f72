/**
 * A tiny but complete model package written to a temp folder, for the manifest and package
 * tests: real base weights and modules (random values), placeholder graph and tokenizer
 * (the package loader only hashes those).
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseTensorShapes, LORA_TARGETS, loraTensorShapes } from '../../../src/model/architecture.ts';
import type { LlamaDims, LoraConfig } from '../../../src/model/architecture.ts';
import { buildFileEntry } from '../../../src/model/manifest.ts';
import { PACKAGE_FORMAT_VERSION } from '../../../src/model/manifest-types.ts';
import type { Manifest } from '../../../src/model/manifest-types.ts';
import { writeSafetensors } from '../../../src/model/safetensors.ts';
import { randomTensors } from '../../support/reference-forward.ts';

export const FIXTURE_DIMS: LlamaDims = {
  vocabSize: 16,
  hiddenSize: 8,
  intermediateSize: 12,
  numLayers: 2,
  numHeads: 2,
  numKvHeads: 1,
  headDim: 4,
  maxPositions: 32,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
};

export const FIXTURE_LORA: LoraConfig = { rank: 2, scale: 2, targets: [...LORA_TARGETS] };

/** A valid manifest with placeholder file entries (for parseManifest tests). */
export function sampleManifest(): Manifest {
  const zero = '0'.repeat(64);
  return {
    format: 'xalma-package',
    formatVersion: PACKAGE_FORMAT_VERSION,
    name: 'fixture',
    demo: true,
    description: 'test fixture',
    architecture: 'llama',
    dims: { ...FIXTURE_DIMS },
    dtype: 'float32',
    tokenizer: { file: 'tokenizer.json', bosId: 1, eosId: 2, padId: 0 },
    promptTemplate: '[INST] Translate this from {source} to {target}:\n{source}: {text}\n{target}: [/INST]',
    lora: { ...FIXTURE_LORA, targets: [...FIXTURE_LORA.targets] },
    groups: [
      { id: 1, name: 'Germanic', languages: ['de', 'nl'], module: 'modules/group1.safetensors' },
      { id: 2, name: 'Romance', languages: ['es', 'it'], module: 'modules/group2.safetensors' },
    ],
    weights: 'base.safetensors',
    graph: 'base.onnx',
    files: ['base.safetensors', 'base.onnx', 'tokenizer.json', 'modules/group1.safetensors', 'modules/group2.safetensors']
      .map((path) => ({ path, bytes: 0, sha256: zero })),
  };
}

export async function writeModule(path: string, dims: LlamaDims, lora: LoraConfig, seed: number): Promise<void> {
  const tensors = randomTensors(loraTensorShapes(dims, lora), seed);
  await writeSafetensors(path, [...tensors].map(([name, t]) => ({ name, ...t })), { group: String(seed) });
}

export async function writeManifest(dir: string, manifest: unknown): Promise<void> {
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

export async function readManifest(dir: string): Promise<Manifest> {
  return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

/** Recomputes the size and sha256 of `rel` in the manifest on disk (after a deliberate edit). */
export async function refreshEntry(dir: string, rel: string): Promise<void> {
  const manifest = await readManifest(dir);
  const entry = await buildFileEntry(dir, rel);
  manifest.files = manifest.files.map((f) => (f.path === rel ? entry : f));
  await writeManifest(dir, manifest);
}

/** Writes the whole package to a new temp folder and returns the folder. */
export async function makePackage(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xalma-pkg-'));
  await mkdir(join(dir, 'modules'));
  const base = randomTensors(baseTensorShapes(FIXTURE_DIMS), 1);
  await writeSafetensors(join(dir, 'base.safetensors'), [...base].map(([name, t]) => ({ name, ...t })));
  await writeFile(join(dir, 'base.onnx'), Buffer.from('placeholder graph'));
  await writeFile(join(dir, 'tokenizer.json'), '{"model": {"type": "placeholder"}}');
  await writeModule(join(dir, 'modules/group1.safetensors'), FIXTURE_DIMS, FIXTURE_LORA, 11);
  await writeModule(join(dir, 'modules/group2.safetensors'), FIXTURE_DIMS, FIXTURE_LORA, 12);
  const manifest = sampleManifest();
  manifest.files = await Promise.all(manifest.files.map((f) => buildFileEntry(dir, f.path)));
  await writeManifest(dir, manifest);
  return dir;
}
