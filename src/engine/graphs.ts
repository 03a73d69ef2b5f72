/**
 * Builds the session graphs each loading mode needs from a model package, in memory. No weight
 * is ever carried inline or copied in JavaScript: every initializer points into a file of the
 * package as ONNX external data (ORT resolves the paths against the package folder), so a graph
 * stays a few hundred KB whatever the model size (protobuf caps one at 2 GiB):
 *   - base weights: the package's base weights file;
 *   - LoRA factors: the module files themselves (all mode stacks them with an in-graph Concat,
 *     merged mode folds W + scale*B@A in-graph; ORT's constant folding does both once, at
 *     session creation);
 *   - merged weights of a quantized package: a merged-weights file (written by `import --merged`
 *     or, on first use, by prepareMergedWeights), since a quantized weight cannot be folded.
 */
import { tensorNames } from '../model/architecture.ts';
import { buildDecoderGraph, type FactorSource, type KvLayout, type StackedKernel, type WeightSource } from '../model/graph-builder.ts';
import { externalTensor, type PackageFile } from '../model/external-data.ts';
import type { ModelPackage } from '../model/package.ts';
import type { SafetensorsHeader } from '../model/safetensors.ts';

/**
 * RMSNorm op for the engine's graphs. Both variants match the reference within 1e-5
 * (test/unit/model/graph-builder.test.ts); 'contrib' fuses the chain into one kernel
 * (bench/results/graph-ops.md).
 */
export const ENGINE_NORM = 'contrib' as const;

export function baseWeightSource(pkg: ModelPackage, header: SafetensorsHeader): WeightSource {
  const file = { location: pkg.manifest.weights, header };
  return (name, shape) => externalTensor(file, name, shape);
}

/** LoRA factors read in place from module files; `modules[slot]` null = no module (zeros). */
export function moduleFactorSource(modules: ReadonlyArray<PackageFile | null>): FactorSource {
  return (slot, layer, target, factor, shape) => {
    const file = modules[slot];
    if (!file) return null;
    return externalTensor(file, factor === 'A' ? tensorNames.loraA(layer, target) : tensorNames.loraB(layer, target), shape);
  };
}

/**
 * The engine's KV cache layout (kv-cache.ts): onnxruntime's GroupQueryAttention reading the
 * cache wherever it applies (it needs a head size that is a multiple of 8: every real LLaMA),
 * else standard attention over the whole capacity, masked. Either way the graph returns the
 * new keys and values and the engine writes them into the cache.
 */
export function engineKvLayout(pkg: ModelPackage): 'gqa' | 'append' {
  return pkg.manifest.dims.headDim % 8 === 0 ? 'gqa' : 'append';
}

/** The graph I/O: the engine's (its KV cache, logits by row index) unless a test asks for the usual decoder I/O. */
export interface GraphIo {
  kv: KvLayout;
  logits: 'index' | 'last' | 'all';
}

function common(pkg: ModelPackage, io?: GraphIo) {
  return { dims: pkg.manifest.dims, logits: io?.logits ?? ('index' as const), kv: io?.kv ?? engineKvLayout(pkg), norm: ENGINE_NORM, weightDtype: pkg.manifest.dtype };
}

/** single mode: one graph, the active module's factors fed as inputs. */
export function singleModeGraph(pkg: ModelPackage, header: SafetensorsHeader, io?: GraphIo): Buffer {
  return buildDecoderGraph({ ...common(pkg, io), weights: baseWeightSource(pkg, header), lora: { kind: 'inputs', config: pkg.manifest.lora } });
}

/**
 * merged mode, float packages: the module folded into the weights inside the graph, from the
 * base and module files. Quantized packages pass `merged`, a file holding the group's merged
 * linears in the package's dtype; every other tensor comes from the base file.
 */
export function mergedModeGraph(pkg: ModelPackage, header: SafetensorsHeader, source: { module: PackageFile } | { merged: PackageFile }, io?: GraphIo): Buffer {
  const base = baseWeightSource(pkg, header);
  if ('module' in source) {
    return buildDecoderGraph({ ...common(pkg, io), weights: base, lora: { kind: 'folded', config: pkg.manifest.lora, factors: moduleFactorSource([source.module]) } });
  }
  const merged = new Set<string>();
  for (let l = 0; l < pkg.manifest.dims.numLayers; l++) {
    for (const t of pkg.manifest.lora.targets) merged.add(tensorNames.linear(l, t));
  }
  return buildDecoderGraph({
    ...common(pkg, io),
    lora: { kind: 'none' },
    // A quantized linear is its weight plus `<weight>_scale`: both come from the merged file.
    weights: (name, shape) => (merged.has(name.replace(/_scale$/, '')) ? externalTensor(source.merged, name, shape) : base(name, shape)),
  });
}

/**
 * all mode: the factors of every group stacked in one graph; `modules[i]` is the module file of
 * slot i (null = failed to load: zero factors, its requests are refused before they get here).
 */
export function allModeGraph(pkg: ModelPackage, header: SafetensorsHeader, modules: ReadonlyArray<PackageFile | null>, kernel: StackedKernel, io?: GraphIo): Buffer {
  return buildDecoderGraph({
    ...common(pkg, io),
    weights: baseWeightSource(pkg, header),
    lora: { kind: 'stacked', config: pkg.manifest.lora, groups: modules.length, kernel, factors: moduleFactorSource(modules) },
  });
}

