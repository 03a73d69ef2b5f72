/**
 * Loading a group's LoRA module from disk into memory (not yet bound to any session):
 * validate the file against the manifest, optionally verify its sha256, read the factors and
 * lay them out as the graphs consume them: At = A^T [in, r], Bt = scale * B^T [r, out].
 * Folding the scale into Bt once here keeps it out of every forward pass.
 */
import { linearShape, tensorNames, type LoraTarget } from '../model/architecture.ts';
import type { ModelPackage } from '../model/package.ts';
import { validateModuleFile, verifyModuleChecksum } from '../model/package.ts';
import { readSafetensors } from '../model/safetensors.ts';
import { XalmaError } from '../errors.ts';

export interface LoraFactors {
  At: Float32Array;
  Bt: Float32Array;
}

export interface LoadedModule {
  group: number;
  /** Key `${layer}.${target}`. */
  factors: Map<string, LoraFactors>;
  bytes: number;
}

export const factorKey = (layer: number, target: LoraTarget) => `${layer}.${target}`;

/** out[j * rows + i] = scale * src[i * cols + j] for a row-major [rows, cols] src. */
function transpose(src: Float32Array, rows: number, cols: number, scale = 1): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = scale * src[base + j];
  }
  return out;
}

export async function loadModuleFile(pkg: ModelPackage, group: number, opts: { verifyChecksum: boolean }): Promise<LoadedModule> {
  const { manifest } = pkg;
  const path = pkg.modulePath(group);
  await validateModuleFile(path, manifest, group);
  if (opts.verifyChecksum) await verifyModuleChecksum(pkg, group);
  let tensors;
  try {
    tensors = await readSafetensors(path);
  } catch (err) {
    throw new XalmaError('MODULE_INVALID', `group ${group}: ${(err as Error).message}`, { group }, { cause: err });
  }
  const r = manifest.lora.rank;
  const factors = new Map<string, LoraFactors>();
  let bytes = 0;
  for (let l = 0; l < manifest.dims.numLayers; l++) {
    for (const t of manifest.lora.targets) {
      const [inDim, outDim] = linearShape(manifest.dims, t);
      const A = tensors.get(tensorNames.loraA(l, t))!.data; // [r, in]
      const B = tensors.get(tensorNames.loraB(l, t))!.data; // [out, r]
      const f = { At: transpose(A, r, inDim), Bt: transpose(B, outDim, r, manifest.lora.scale) };
      bytes += f.At.byteLength + f.Bt.byteLength;
      factors.set(factorKey(l, t), f);
    }
  }
  return { group, factors, bytes };
}
