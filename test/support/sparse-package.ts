/**
 * A model package whose weights are bigger than protobuf's 2 GiB graph limit but cost no disk:
 * safetensors files with a real header and a data section left as a hole (sparse file, all
 * zeros), the base's tensors starting past 2 GiB of offset so the last ones end past 4.4 GiB.
 * Zero weights give zero logits, which is enough to show that every mode's graph loads and
 * runs with initializers that big and that far into their file.
 */
import { cp, mkdir, open, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loraTensorShapes, type LlamaDims, type LoraConfig, LORA_TARGETS } from '../../src/model/architecture.ts';
import { PACKAGE_FORMAT_VERSION, type Manifest } from '../../src/model/manifest-types.ts';
import { DEFAULT_PROMPT_TEMPLATE } from '../../src/model/prompt.ts';
import { dtypeBytes, type SafetensorsDtype } from '../../src/model/safetensors.ts';
import { baseTensorStorage } from '../../src/model/weight-storage.ts';
import { XALMA_GROUPS } from '../../src/model/xalma-groups.ts';
import { packageBaseGraph } from '../../src/model/external-data.ts';
import { readSafetensorsHeader } from '../../src/model/safetensors.ts';
import { buildFileEntry } from '../../src/model/manifest.ts';

/** LLaMA-7B-wide layers over the demo tokenizer's vocabulary: 3 layers = 2.4 GiB of float32. */
export const SPARSE_DIMS: LlamaDims = {
  vocabSize: 4096, hiddenSize: 4096, intermediateSize: 11008, numLayers: 3, numHeads: 32, numKvHeads: 32, headDim: 128, maxPositions: 512, rmsNormEps: 1e-5, ropeTheta: 10000,
};
const LORA: LoraConfig = { rank: 8, scale: 2, targets: [...LORA_TARGETS] };

/**
 * A safetensors file of zeros: a real header, the data left as a hole. `lead` bytes of hole
 * before the first tensor (legal: readers follow data_offsets) push every offset past it.
 */
async function sparseSafetensors(path: string, specs: ReadonlyArray<{ name: string; shape: readonly number[]; dtype?: SafetensorsDtype }>, lead = 0): Promise<number> {
  const json: Record<string, unknown> = {};
  let cursor = lead;
  for (const t of specs) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * dtypeBytes(t.dtype ?? 'F32');
    json[t.name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [cursor, cursor + bytes] };
    cursor += bytes;
  }
  const raw = Buffer.from(JSON.stringify(json));
  const padded = Math.ceil((8 + raw.length) / 8) * 8 - 8;
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  raw.copy(header, 8);
  const fh = await open(path, 'w');
  await fh.write(header, 0, header.length, 0);
  await fh.truncate(header.length + cursor);
  await fh.close();
  return cursor - lead;
}

/** 2 GiB of hole before the base weights: every tensor offset is past 4 GiB (beyond 32 bits). */
const LEAD = 2 ** 31;

export async function makeSparsePackage(dir: string, tokenizerPath: string, groups = 2): Promise<{ weightBytes: number }> {
  await mkdir(join(dir, 'modules'), { recursive: true });
  await cp(tokenizerPath, join(dir, 'tokenizer.json'));
  const weightBytes = await sparseSafetensors(join(dir, 'base.safetensors'), baseTensorStorage(SPARSE_DIMS, 'float32'), LEAD);
  await writeFile(join(dir, 'base.onnx'), packageBaseGraph(SPARSE_DIMS, 'float32', { location: 'base.safetensors', header: await readSafetensorsHeader(join(dir, 'base.safetensors')) }));
  const used = XALMA_GROUPS.slice(0, groups);
  for (const g of used) await sparseSafetensors(join(dir, `modules/group${g.id}.safetensors`), loraTensorShapes(SPARSE_DIMS, LORA).map(([name, shape]) => ({ name, shape })));
  // Sizes are real; the checksums of the big files are not computed (load with verifyChecksums false).
  const files = [await buildFileEntry(dir, 'tokenizer.json'), await buildFileEntry(dir, 'base.onnx')];
  for (const rel of ['base.safetensors', ...used.map((g) => `modules/group${g.id}.safetensors`)]) {
    files.push({ path: rel, bytes: (await stat(join(dir, rel))).size, sha256: '0'.repeat(64) });
  }
  const manifest: Manifest = {
    format: 'xalma-package', formatVersion: PACKAGE_FORMAT_VERSION, name: 'sparse-over-2gib', demo: true,
    description: 'zero weights in sparse files, for the >2 GiB loading test', architecture: 'llama', dims: SPARSE_DIMS, dtype: 'float32',
    tokenizer: { file: 'tokenizer.json', bosId: 1, eosId: 2, padId: 0 }, promptTemplate: DEFAULT_PROMPT_TEMPLATE, lora: LORA,
    groups: used.map((g) => ({ ...g, module: `modules/group${g.id}.safetensors` })), weights: 'base.safetensors', graph: 'base.onnx', files,
  };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return { weightBytes };
}
