/**
 * `xalma-serve make-model`: writes a complete model package (base weights, base ONNX graph,
 * tokenizer, 8 group LoRA modules, manifest with sha256 of every file) from a seed.
 * The weights are synthetic: the package serves and tests the real code paths but does not
 * translate, and its manifest says so (`demo: true`).
 */
import { mkdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { baseTensorShapes, loraTensorShapes, LORA_TARGETS, type LlamaDims, type LoraConfig } from './architecture.ts';
import { packageBaseGraph } from './external-data.ts';
import { PACKAGE_FORMAT_VERSION, type Manifest, type ManifestGroup } from './manifest-types.ts';
import { XALMA_GROUPS } from './xalma-groups.ts';
import { buildFileEntry } from './manifest.ts';
import { Rng, deriveSeed } from './random.ts';
import { readSafetensorsHeader, writeSafetensors } from './safetensors.ts';
import { buildTokenizerJson } from './tokenizer-builder.ts';
import { DEFAULT_PROMPT_TEMPLATE } from './prompt.ts';

export interface ModelPreset {
  dims: LlamaDims;
  lora: LoraConfig;
}

/**
 * tiny: the embedded default (about 10 MB with its 8 modules), fast enough for every test.
 * bench: ~125M parameters (LLaMA shape at GPT-2-small width, GQA 12/4 heads) for benchmarks;
 * generated at benchmark time, never committed.
 * bench-r80: the bench model with X-ALMA's LoRA-to-base proportions: rank 80 on hidden 768 is
 * X-ALMA's rank 512 on hidden 5120 (rank/hidden ~0.1; a module ~15% of the base's weights).
 */
export const PRESETS: Record<'tiny' | 'bench' | 'bench-r80', ModelPreset> = {
  tiny: {
    dims: { vocabSize: 4096, hiddenSize: 128, intermediateSize: 352, numLayers: 4, numHeads: 4, numKvHeads: 2, headDim: 32, maxPositions: 1024, rmsNormEps: 1e-5, ropeTheta: 10000 },
    lora: { rank: 8, scale: 2, targets: LORA_TARGETS },
  },
  bench: {
    dims: { vocabSize: 32000, hiddenSize: 768, intermediateSize: 2048, numLayers: 12, numHeads: 12, numKvHeads: 4, headDim: 64, maxPositions: 2048, rmsNormEps: 1e-5, ropeTheta: 10000 },
    lora: { rank: 16, scale: 2, targets: LORA_TARGETS },
  },
  'bench-r80': {
    dims: { vocabSize: 32000, hiddenSize: 768, intermediateSize: 2048, numLayers: 12, numHeads: 12, numKvHeads: 4, headDim: 64, maxPositions: 2048, rmsNormEps: 1e-5, ropeTheta: 10000 },
    lora: { rank: 80, scale: 2, targets: LORA_TARGETS },
  },
};

export interface MakeModelOptions {
  outDir: string;
  preset: keyof typeof PRESETS;
  seed: number;
  name?: string;
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Synthetic base weights: norms at 1, linears N(0, 1/in) so activations stay O(1) through the
 * layers, embeddings N(0, 1). Each tensor has its own stream, so shapes can change without
 * reshuffling the others.
 */
function baseTensor(seed: number, name: string, shape: number[]): Float32Array {
  const data = new Float32Array(product(shape));
  if (name.endsWith('norm.weight')) return data.fill(1);
  const rng = new Rng(deriveSeed(seed, name));
  const std = name.startsWith('embed') ? 1 : 1 / Math.sqrt(shape[0]);
  return rng.fillNormal(data, std);
}

/**
 * Synthetic LoRA factors. Unlike PEFT's zero-initialised B, both factors are random so every
 * group measurably changes the logits (tests can tell modules apart): A ~ N(0, 1/in),
 * B ~ N(0, 0.5/(r*scale)) puts scale*B@A at about half the size of W.
 */
function loraTensor(seed: number, group: number, name: string, shape: number[], lora: LoraConfig): Float32Array {
  const rng = new Rng(deriveSeed(seed, `group${group}:${name}`));
  const isA = name.endsWith('lora_A');
  const std = isA ? 1 / Math.sqrt(shape[1]) : 0.5 / Math.sqrt(lora.rank) / lora.scale;
  return rng.fillNormal(new Float32Array(product(shape)), std);
}

export async function makeModel(opts: MakeModelOptions): Promise<Manifest> {
  const preset = PRESETS[opts.preset];
  const { dims, lora } = preset;
  const dir = opts.outDir;
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'modules'), { recursive: true });

  const tokenizer = buildTokenizerJson({ vocabSize: dims.vocabSize });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));

  const baseShapes = baseTensorShapes(dims);
  await writeSafetensors(
    join(dir, 'base.safetensors'),
    baseShapes.map(([name, shape]) => ({ name, shape, data: baseTensor(opts.seed, name, shape) })),
    { format: 'xalma-serve', layout: 'linear weights [in, out]' },
  );

  // The base graph reads its weights straight out of base.safetensors (ONNX external data).
  const header = await readSafetensorsHeader(join(dir, 'base.safetensors'));
  const graph = packageBaseGraph(dims, 'float32', { location: 'base.safetensors', header });
  await writeFile(join(dir, 'base.onnx'), graph);

  const groups: ManifestGroup[] = [];
  for (const g of XALMA_GROUPS) {
    const module = `modules/group${g.id}.safetensors`;
    await writeSafetensors(
      join(dir, module),
      loraTensorShapes(dims, lora).map(([name, shape]) => ({ name, shape, data: loraTensor(opts.seed, g.id, name, shape, lora) })),
      { group: String(g.id), rank: String(lora.rank), scale: String(lora.scale) },
    );
    groups.push({ ...g, module });
  }

  const files = [];
  for (const rel of ['tokenizer.json', 'base.safetensors', 'base.onnx', ...groups.map((g) => g.module)]) {
    files.push(await buildFileEntry(dir, rel));
  }
  const manifest: Manifest = {
    format: 'xalma-package',
    formatVersion: PACKAGE_FORMAT_VERSION,
    name: opts.name ?? `xalma-${opts.preset}-demo`,
    demo: true,
    description:
      `Synthetic ${opts.preset} model made by xalma-serve make-model (seed ${opts.seed}): X-ALMA architecture and layout ` +
      'with 8 group LoRA modules, random weights. It does not translate; use it to run and test the server.',
    architecture: 'llama',
    dims,
    dtype: 'float32',
    tokenizer: { file: 'tokenizer.json', bosId: 1, eosId: 2, padId: 0 },
    promptTemplate: DEFAULT_PROMPT_TEMPLATE,
    lora,
    groups,
    weights: 'base.safetensors',
    graph: 'base.onnx',
    files,
  };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
