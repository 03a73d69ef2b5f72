/**
 * Builds the session graphs each loading mode needs from a model package, in memory. Base
 * weights are never copied: every graph's initializers point into the package's
 * base.safetensors as ONNX external data (ORT resolves them against the package folder).
 * What a mode adds (LoRA factors as inputs, merged linears, stacked factors) is either a graph
 * input or inline bytes.
 *
 * Inline bytes live inside the protobuf, which caps one graph at 2 GiB: enough for the
 * embedded and bench models; real X-ALMA merged/stacked weights need a prepare step that
 * writes them next to the package (not built yet, see README "Status").
 */
import { LORA_TARGETS, linearShape, tensorNames, type LoraTarget } from '../model/architecture.ts';
import { buildDecoderGraph, stackedLoraName, type StackedKernel, type WeightData, type WeightSource } from '../model/graph-builder.ts';
import type { ModelPackage } from '../model/package.ts';
import type { SafetensorsHeader } from '../model/safetensors.ts';
import { factorKey, type LoadedModule } from '../lora/module-file.ts';

/**
 * RMSNorm op for the engine's graphs. Both variants match the reference within 1e-5
 * (test/unit/model/graph-builder.test.ts); 'contrib' fuses the chain into one kernel
 * (bench/results/graph-ops.md).
 */
export const ENGINE_NORM = 'contrib' as const;

const INLINE_LIMIT_BYTES = 1.8 * 1024 ** 3;

function asBytes(data: Float32Array): WeightData {
  return { raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function baseWeightSource(pkg: ModelPackage, header: SafetensorsHeader): WeightSource {
  return (name, shape) => {
    const entry = header.tensors.get(name);
    if (!entry) throw new Error(`${pkg.manifest.weights} lacks ${name}`);
    const expected = shape.reduce((a, b) => a * b, 1) * 4;
    if (entry.end - entry.begin !== expected) throw new Error(`${name}: ${entry.end - entry.begin} bytes, expected ${expected}`);
    return { external: { location: pkg.manifest.weights, offset: entry.begin, length: entry.end - entry.begin } };
  };
}

/** single mode: one graph, the active module's factors fed as inputs. */
export function singleModeGraph(pkg: ModelPackage, header: SafetensorsHeader): Buffer {
  return buildDecoderGraph({
    dims: pkg.manifest.dims,
    weights: baseWeightSource(pkg, header),
    lora: { kind: 'inputs', config: pkg.manifest.lora },
    logits: 'last',
    norm: ENGINE_NORM,
  });
}

/** merged mode: merged linears inline, everything else from the base file. */
export function mergedModeGraph(pkg: ModelPackage, header: SafetensorsHeader, merged: ReadonlyMap<string, { data: Float32Array }>): Buffer {
  const base = baseWeightSource(pkg, header);
  const linearNames = new Set<string>();
  for (let l = 0; l < pkg.manifest.dims.numLayers; l++) for (const t of LORA_TARGETS) linearNames.add(tensorNames.linear(l, t));
  let inline = 0;
  return buildDecoderGraph({
    dims: pkg.manifest.dims,
    lora: { kind: 'none' },
    logits: 'last',
    norm: ENGINE_NORM,
    weights: (name, shape) => {
      const m = linearNames.has(name) ? merged.get(name) : undefined;
      if (!m) return base(name, shape);
      inline += m.data.byteLength;
      if (inline > INLINE_LIMIT_BYTES) throw new Error('merged weights exceed the 2 GiB inline graph limit; this model needs a prepare step');
      return asBytes(m.data);
    },
  });
}

/**
 * all mode: the factors of every group stacked inside one graph; `modules[i]` is the module of
 * slot i (null = failed to load: zero factors, its requests are refused before they get here).
 */
export function allModeGraph(pkg: ModelPackage, header: SafetensorsHeader, modules: Array<LoadedModule | null>, kernel: StackedKernel): Buffer {
  const { dims, lora } = pkg.manifest;
  const G = modules.length;
  const r = lora.rank;
  const stacked = new Map<string, Float32Array>();
  let bytes = 0;
  for (let l = 0; l < dims.numLayers; l++) {
    for (const t of lora.targets) {
      const [inDim, outDim] = linearShape(dims, t);
      const a = new Float32Array(G * r * inDim);
      const b = new Float32Array(G * outDim * r);
      modules.forEach((m, g) => {
        const f = m?.factors.get(factorKey(l, t as LoraTarget));
        if (!f) return;
        // gather: A [G, r, in], B [G, out, r]. onehot: A [G*r, in] (group g owns rows g*r..),
        // the same bytes as gather; B [out, G*r] (group g owns columns g*r..).
        a.set(f.A, g * r * inDim);
        if (kernel === 'gather') b.set(f.B, g * outDim * r);
        else for (let o = 0; o < outDim; o++) b.set(f.B.subarray(o * r, (o + 1) * r), o * G * r + g * r);
      });
      stacked.set(stackedLoraName(l, t, 'A'), a);
      stacked.set(stackedLoraName(l, t, 'B'), b);
      bytes += a.byteLength + b.byteLength;
    }
  }
  if (bytes > INLINE_LIMIT_BYTES) throw new Error('stacked LoRA factors exceed the 2 GiB inline graph limit; this model needs a prepare step');
  return buildDecoderGraph({
    dims,
    weights: baseWeightSource(pkg, header),
    lora: {
      kind: 'stacked',
      config: lora,
      groups: G,
      kernel,
      factors: (name, shape) => {
        const data = stacked.get(name);
        if (!data || data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`stacked factor ${name} missing or misshapen`);
        return asBytes(data);
      },
    },
    logits: 'last',
    norm: ENGINE_NORM,
  });
}

