/**
 * Merged weights for `merged` mode on a quantized package. A quantized weight cannot be folded
 * with its LoRA inside the graph (float packages do that, graphs.ts), so the group's merged
 * linears are written once to a file beside the package and read in place by its sessions:
 *   - the importer's, when the package was imported with `--merged N=DIR` (manifest.merged);
 *   - otherwise `prepared/merged-group<N>.safetensors`, made here on first use: tensor by tensor,
 *     W = dequantize(base) + scale * B @ A, quantized again to the package's dtype. Only one
 *     tensor is in memory at a time; the GEMM runs in onnxruntime (MLAS), not in JavaScript
 *     (X-ALMA's rank 512 is ~2.7 T multiply-adds per group).
 * The file is written under a temporary name and renamed, so a crash never leaves half a file
 * that looks valid; its metadata names the base and module checksums it was made from.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { XalmaError } from '../errors.ts';
import { linearShape, tensorNames } from '../model/architecture.ts';
import { buildLinearMergeGraph } from '../model/merge-graph.ts';
import type { ModelPackage, PackageFile } from '../model/package.ts';
import { openSafetensors, readSafetensorsHeader, readTensorBytes, SafetensorsWriter, floatView, type SafetensorsHeader } from '../model/safetensors.ts';
import { decodeLinear, encodeLinear, linearStorage, mergedLinearStorage } from '../model/weight-storage.ts';
import { createSession, floatTensor, tensorData } from './ort.ts';

export const preparedMergedPath = (group: number) => `prepared/merged-group${group}.safetensors`;

function fileSha(pkg: ModelPackage, rel: string): string {
  return pkg.manifest.files.find((f) => f.path === rel)?.sha256 ?? '';
}

/** Usable when its metadata names the same base and module as the package now has. */
async function reusable(path: string, expect: Record<string, string>): Promise<SafetensorsHeader | null> {
  try {
    const header = await readSafetensorsHeader(path);
    return Object.entries(expect).every(([k, v]) => header.metadata[k] === v) ? header : null;
  } catch {
    return null;
  }
}

export async function mergedWeightsFile(pkg: ModelPackage, group: number, baseHeader: SafetensorsHeader, moduleHeader: SafetensorsHeader): Promise<PackageFile> {
  const imported = pkg.manifest.merged?.find((m) => m.group === group);
  if (imported) return { location: imported.file, header: await readSafetensorsHeader(join(pkg.dir, imported.file)) };
  const location = preparedMergedPath(group);
  const module = pkg.manifest.groups.find((g) => g.id === group)!.module;
  const expect = { base_sha256: fileSha(pkg, pkg.manifest.weights), module_sha256: fileSha(pkg, module), dtype: pkg.manifest.dtype };
  const path = join(pkg.dir, location);
  const ready = await reusable(path, expect);
  if (ready) return { location, header: ready };
  try {
    await writeMerged(pkg, join(pkg.dir, module), baseHeader, moduleHeader, path, expect);
  } catch (err) {
    throw new XalmaError('MODULE_UNAVAILABLE', `group ${group}: cannot write merged weights ${path}: ${(err as Error).message}`, { group }, { cause: err });
  }
  return { location, header: await readSafetensorsHeader(path) };
}

async function writeMerged(pkg: ModelPackage, modulePath: string, baseHeader: SafetensorsHeader, moduleHeader: SafetensorsHeader, path: string, metadata: Record<string, string>): Promise<void> {
  const { dims, lora, dtype } = pkg.manifest;
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const base = await openSafetensors(pkg.weightsPath);
  const mod = await openSafetensors(modulePath).catch(async (err: unknown) => {
    await base.fh.close();
    throw err;
  });
  let session: Awaited<ReturnType<typeof createSession>> | undefined;
  let writer: SafetensorsWriter | undefined;
  try {
    session = await createSession(buildLinearMergeGraph(lora.scale), { provider: 'cpu' });
    writer = await SafetensorsWriter.create(tmp, mergedLinearStorage(dims, lora.targets, dtype), metadata);
    for (let l = 0; l < dims.numLayers; l++) {
      for (const t of lora.targets) {
        const [inDim, outDim] = linearShape(dims, t);
        const name = tensorNames.linear(l, t);
        const stored = linearStorage(name, inDim, outDim, dtype);
        const parts = await Promise.all(stored.map((s) => readTensorBytes(base.fh, baseHeader.tensors.get(s.name)!)));
        const w = decodeLinear(parts, outDim, inDim, dtype);
        const factor = async (n: string) => floatView(modulePath, n, moduleHeader.tensors.get(n)!, await readTensorBytes(mod.fh, moduleHeader.tensors.get(n)!));
        const out = await session!.run({
          W: floatTensor(w, [outDim, inDim]),
          A: floatTensor(await factor(tensorNames.loraA(l, t)), [lora.rank, inDim]),
          B: floatTensor(await factor(tensorNames.loraB(l, t)), [outDim, lora.rank]),
        });
        const merged = encodeLinear(tensorData(out.merged), outDim, inDim, dtype);
        for (let k = 0; k < stored.length; k++) await writer!.write(stored[k].name, merged[k]);
      }
    }
    await writer!.close();
    await rename(tmp, path);
  } catch (err) {
    await writer?.discard();
    await rm(tmp, { force: true });
    throw err;
  } finally {
    await Promise.all([base.fh.close(), mod.fh.close(), session?.release()]);
  }
}
