/**
 * Loading a group's LoRA module from disk into memory (not yet bound to any session):
 * validate the file against the manifest, optionally verify its sha256, and read the factors.
 * They stay in PEFT's layout, A [r, in] and B [out, r], as views into the file's bytes: the
 * graphs consume that layout directly (Gemm transB, scale as alpha), so a load costs about a
 * read of the file (bench/engine.ts: cold load vs read).
 */
import type { LoraTarget } from '../model/architecture.ts';
import { tensorNames } from '../model/architecture.ts';
import type { ModelPackage, PackageFile } from '../model/package.ts';
import { validateModuleFile, verifyModuleChecksum } from '../model/package.ts';
import { readSafetensors } from '../model/safetensors.ts';
import { XalmaError } from '../errors.ts';

export interface LoraFactors {
  /** [r, in] */
  A: Float32Array;
  /** [out, r] */
  B: Float32Array;
}

export interface LoadedModule {
  group: number;
  /** Key `${layer}.${target}`. */
  factors: Map<string, LoraFactors>;
  bytes: number;
}

export const factorKey = (layer: number, target: LoraTarget) => `${layer}.${target}`;

export async function loadModuleFile(pkg: ModelPackage, group: number, opts: { verifyChecksum: boolean }): Promise<LoadedModule> {
  const { manifest } = pkg;
  const path = pkg.modulePath(group);
  await checkedModuleFile(pkg, group, opts);
  let tensors;
  try {
    tensors = await readSafetensors(path);
  } catch (err) {
    throw new XalmaError('MODULE_INVALID', `group ${group}: ${(err as Error).message}`, { group }, { cause: err });
  }
  const factors = new Map<string, LoraFactors>();
  let bytes = 0;
  for (let l = 0; l < manifest.dims.numLayers; l++) {
    for (const t of manifest.lora.targets) {
      const f = { A: tensors.get(tensorNames.loraA(l, t))!.data, B: tensors.get(tensorNames.loraB(l, t))!.data };
      bytes += f.A.byteLength + f.B.byteLength;
      factors.set(factorKey(l, t), f);
    }
  }
  return { group, factors, bytes };
}

/**
 * A group's module file, checked (header against the manifest; sha256 when asked) but not read:
 * graphs read its factors in place (all and merged modes). Errors: MODULE_UNAVAILABLE, MODULE_INVALID.
 */
export async function checkedModuleFile(pkg: ModelPackage, group: number, opts: { verifyChecksum: boolean }): Promise<PackageFile> {
  const header = await validateModuleFile(pkg.modulePath(group), pkg.manifest, group);
  if (opts.verifyChecksum) await verifyModuleChecksum(pkg, group);
  const location = pkg.manifest.groups.find((g) => g.id === group)!.module;
  return { location, header };
}
