/**
 * `xalma-serve import`: Hugging Face checkpoints (a LlamaForCausalLM base, PEFT LoRA adapters
 * per group, optionally merged group models) -> a model package the engine serves.
 *
 *   base        safetensors shards streamed one tensor at a time (never the whole model in
 *               RAM): linears transposed to [in, out] or quantized (weight-storage.ts), the
 *               rest kept as float32, written in the order read (sequential reads and writes,
 *               checksums computed on the way);
 *   adapters    LoRA factors kept in PEFT's layout as float32, one module file per group;
 *   merged      optional: a group's merged model's linears in the package dtype, for `merged`
 *               mode on quantized packages (float packages fold the LoRA at load);
 *   tokenizer   the checkpoint's own tokenizer.json (X-ALMA's is not stock LLaMA-2's).
 *
 * Everything is written to `<out>.partial-<pid>` and renamed at the end, so an interrupted or
 * failed import never leaves a folder that looks like a package.
 */
import { chmod, copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { XalmaError } from '../errors.ts';
import { loadTokenizer } from '../engine/tokenizer.ts';
import { LORA_TARGETS, linearShape, tensorNames, type LlamaDims, type LoraConfig } from '../model/architecture.ts';
import { packageBaseGraph } from '../model/external-data.ts';
import { buildFileEntry } from '../model/manifest.ts';
import { PACKAGE_FORMAT_VERSION, type Manifest, type ManifestFile, type ManifestGroup, type ManifestQuantization } from '../model/manifest-types.ts';
import { DEFAULT_PROMPT_TEMPLATE } from '../model/prompt.ts';
import { readSafetensorsHeader, SafetensorsWriter } from '../model/safetensors.ts';
import { encodeLinear, INT4_BLOCK, linearStorage, mergedLinearStorage, Scratch, type StoredTensor, type WeightDtype } from '../model/weight-storage.ts';
import { XALMA_GROUPS } from '../model/xalma-groups.ts';
import { readHfConfig, type HfLlamaConfig } from './hf-config.ts';
import { checkpointName } from './hub-cache.ts';
import { openHfWeights, streamTensors, type Shard } from './hf-weights.ts';
import { readPeftAdapter, type PeftAdapter } from './peft-adapter.ts';
import { hfNameOf, ourName } from './hf-names.ts';

export interface ImportOptions {
  base: string;
  adapters: Array<{ group: number; dir: string }>;
  merged?: Array<{ group: number; dir: string }>;
  dtype: WeightDtype;
  out: string;
  name?: string;
  /** Called after every tensor; `done`/`total` count checkpoint bytes read. */
  onProgress?: (p: ImportProgress) => void;
  signal?: AbortSignal;
}

export interface ImportProgress {
  file: string;
  done: number;
  total: number;
}

export interface ImportSummary {
  manifest: Manifest;
  out: string;
  tensors: number;
  bytesRead: number;
  bytesWritten: number;
  ms: number;
}

/** Rotary caches old checkpoints saved as buffers; recomputed from rope_theta, never read. */
const IGNORED = /\.rotary_emb\.inv_freq$/;

interface Expected {
  /** HF shape [out, in] for linears, as is otherwise. */
  hfShape: number[];
  /** Stored tensors in the package (linears may be 2: weight + scale). */
  stored: StoredTensor[];
  linear?: { inDim: number; outDim: number };
}

/** Every base tensor the package needs, by our name, with the HF shape it must have. */
function expectedBase(dims: LlamaDims, dtype: WeightDtype): Map<string, Expected> {
  const out = new Map<string, Expected>();
  const h = dims.hiddenSize;
  const lin = (name: string, inDim: number, outDim: number) =>
    out.set(name, { hfShape: [outDim, inDim], stored: linearStorage(name, inDim, outDim, dtype), linear: { inDim, outDim } });
  out.set(tensorNames.embed, { hfShape: [dims.vocabSize, h], stored: [{ name: tensorNames.embed, dtype: 'F32', shape: [dims.vocabSize, h] }] });
  for (let l = 0; l < dims.numLayers; l++) {
    for (const n of [tensorNames.inputNorm(l), tensorNames.postAttnNorm(l)]) out.set(n, { hfShape: [h], stored: [{ name: n, dtype: 'F32', shape: [h] }] });
    for (const t of LORA_TARGETS) {
      const [i, o] = linearShape(dims, t);
      lin(tensorNames.linear(l, t), i, o);
    }
  }
  out.set(tensorNames.finalNorm, { hfShape: [h], stored: [{ name: tensorNames.finalNorm, dtype: 'F32', shape: [h] }] });
  lin(tensorNames.lmHead, h, dims.vocabSize);
  return out;
}

/**
 * Matches the checkpoint's tensors to what the package needs, before anything is written:
 * missing, misshapen or unknown tensors fail here with the file and tensor named. Returns the
 * read order (shard by shard, file order) with each tensor's package name.
 */
function planBase(shards: readonly Shard[], config: HfLlamaConfig, dtype: WeightDtype): { order: Map<string, string>; expected: Map<string, Expected>; tiedFrom?: string } {
  const expected = expectedBase(config.dims, dtype);
  const order = new Map<string, string>();
  for (const s of shards) {
    for (const t of s.tensors) {
      if (IGNORED.test(t.name)) continue;
      const ours = ourName(t.name);
      const exp = ours ? expected.get(ours) : undefined;
      if (!ours || !exp) throw new XalmaError('CHECKPOINT_UNSUPPORTED', `${s.path}: tensor ${t.name} is not part of a LLaMA model this server runs`, { file: s.path, tensor: t.name });
      const shape = t.entry.shape;
      if (shape.length !== exp.hfShape.length || shape.some((d, i) => d !== exp.hfShape[i])) {
        throw new XalmaError('CHECKPOINT_INVALID', `${s.path}: tensor ${t.name} has shape [${shape.join(', ')}], config.json implies [${exp.hfShape.join(', ')}]`, { file: s.path, tensor: t.name });
      }
      order.set(t.name, ours);
    }
  }
  const have = new Set(order.values());
  let tiedFrom: string | undefined;
  if (!have.has(tensorNames.lmHead) && config.tiedEmbeddings) tiedFrom = tensorNames.embed;
  for (const name of expected.keys()) {
    if (have.has(name) || (name === tensorNames.lmHead && tiedFrom)) continue;
    throw new XalmaError('CHECKPOINT_INVALID', `${shards.map((s) => s.path).join(', ')}: tensor ${hfNameOf(name)} is missing`, { tensor: hfNameOf(name) });
  }
  return { order, expected, tiedFrom };
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function quantizationOf(dtype: WeightDtype): ManifestQuantization | undefined {
  if (dtype === 'int8') return { method: 'symmetric-per-column', bits: 8, kernel: 'com.microsoft.DynamicQuantizeMatMul' };
  if (dtype === 'int4') return { method: 'symmetric-block', bits: 4, blockSize: INT4_BLOCK, kernel: 'com.microsoft.MatMulNBits (accuracy_level 4)' };
  return undefined;
}

/** Progress over all checkpoint bytes, reported per tensor. */
class Progress {
  done = 0;
  constructor(readonly total: number, private readonly report?: (p: ImportProgress) => void) {}
  add(file: string, bytes: number): void {
    this.done += bytes;
    this.report?.({ file, done: this.done, total: this.total });
  }
}

async function writeBase(tmp: string, shards: readonly Shard[], config: HfLlamaConfig, dtype: WeightDtype, progress: Progress, signal?: AbortSignal): Promise<{ writer: SafetensorsWriter; tensors: number }> {
  const { order, expected, tiedFrom } = planBase(shards, config, dtype);
  const specs: StoredTensor[] = [];
  for (const ours of order.values()) {
    specs.push(...expected.get(ours)!.stored);
    if (ours === tiedFrom) specs.push(...expected.get(tensorNames.lmHead)!.stored);
  }
  const writer = await SafetensorsWriter.create(join(tmp, 'base.safetensors'), specs, { format: 'xalma-serve', layout: `linear weights as ${dtype} (weight-storage.ts)` });
  let tensors = 0;
  const scratch = new Scratch();
  const put = async (ours: string, data: Float32Array) => {
    const exp = expected.get(ours)!;
    const parts = exp.linear ? encodeLinear(data, exp.linear.outDim, exp.linear.inDim, dtype, scratch) : [bytesOf(data)];
    for (let k = 0; k < parts.length; k++) await writer.write(exp.stored[k].name, parts[k]);
  };
  try {
    for await (const t of streamTensors(shards, signal)) {
      const ours = order.get(t.name);
      if (ours) {
        await put(ours, t.data);
        // Tied embeddings: lm_head is the embedding matrix ([vocab, hidden] is [out, in]).
        if (ours === tiedFrom) await put(tensorNames.lmHead, t.data);
        tensors++;
      }
      progress.add(t.shard.path, t.bytes);
    }
    await writer.close();
  } finally {
    await writer.discard();
  }
  return { writer, tensors };
}

async function writeModule(tmp: string, group: number, adapter: PeftAdapter, dims: LlamaDims, progress: Progress, signal?: AbortSignal): Promise<{ rel: string; entry: ManifestFile }> {
  const rel = `modules/group${group}.safetensors`;
  const specs: StoredTensor[] = [];
  for (let l = 0; l < dims.numLayers; l++) {
    for (const t of adapter.targets) {
      const [i, o] = linearShape(dims, t);
      specs.push({ name: tensorNames.loraA(l, t), dtype: 'F32', shape: [adapter.rank, i] }, { name: tensorNames.loraB(l, t), dtype: 'F32', shape: [o, adapter.rank] });
    }
  }
  const writer = await SafetensorsWriter.create(join(tmp, rel), specs, { group: String(group), rank: String(adapter.rank), scale: String(adapter.scale) });
  try {
    for (const s of specs) {
      signal?.throwIfAborted();
      await writer.write(s.name, bytesOf(await adapter.read(s.name)));
      progress.add(adapter.file, adapter.factorBytes.get(s.name)!);
    }
    await writer.close();
  } finally {
    await writer.discard();
  }
  return { rel, entry: { path: rel, bytes: writer.bytes, sha256: writer.digest() } };
}

/** A group's merged checkpoint, opened and checked against the base before anything is written. */
interface MergedSource {
  group: number;
  dir: string;
  config: HfLlamaConfig;
  shards: Shard[];
}

async function openMerged(group: number, dir: string, base: HfLlamaConfig, dtype: WeightDtype): Promise<MergedSource> {
  const config = await readHfConfig(dir);
  for (const key of Object.keys(base.dims) as Array<keyof LlamaDims>) {
    if (config.dims[key] !== base.dims[key]) {
      throw new XalmaError('CHECKPOINT_INVALID', `${join(dir, 'config.json')}: ${key} ${config.dims[key]}, the base has ${base.dims[key]}`, { file: join(dir, 'config.json') });
    }
  }
  const shards = await openHfWeights(dir);
  planBase(shards, config, dtype);
  return { group, dir, config, shards };
}

async function writeMerged(tmp: string, source: MergedSource, base: HfLlamaConfig, lora: LoraConfig, dtype: WeightDtype, progress: Progress, signal?: AbortSignal): Promise<ManifestFile> {
  const { group, dir, config, shards } = source;
  const { order, expected } = planBase(shards, config, dtype);
  const rel = `merged/group${group}.safetensors`;
  await mkdir(join(tmp, 'merged'), { recursive: true });
  // Only the LoRA targets' linears differ from the base; they are written in the order read.
  const targets = new Set(mergedLinearStorage(base.dims, lora.targets, dtype).map((s) => s.name));
  const wanted = [...order.values()].filter((ours) => targets.has(ours));
  const writer = await SafetensorsWriter.create(join(tmp, rel), wanted.flatMap((ours) => expected.get(ours)!.stored), { group: String(group), source: basename(dir) });
  const scratch = new Scratch();
  try {
    for await (const t of streamTensors(shards, signal)) {
      const ours = order.get(t.name);
      const exp = ours && targets.has(ours) ? expected.get(ours)! : undefined;
      if (exp) {
        const parts = encodeLinear(t.data, exp.linear!.outDim, exp.linear!.inDim, dtype, scratch);
        for (let k = 0; k < parts.length; k++) await writer.write(exp.stored[k].name, parts[k]);
      }
      progress.add(t.shard.path, t.bytes);
    }
    await writer.close();
  } finally {
    await writer.discard();
  }
  return { path: rel, bytes: writer.bytes, sha256: writer.digest() };
}

/** Tensor bytes of the shards: what progress counts as it streams them. */
function shardBytes(shards: readonly Shard[]): number {
  return shards.reduce((n, s) => n + s.tensors.reduce((m, t) => m + t.entry.end - t.entry.begin, 0), 0);
}

export async function importCheckpoint(opts: ImportOptions): Promise<ImportSummary> {
  const started = Date.now();
  const out = resolve(opts.out);
  if (await stat(out).catch(() => null)) throw new XalmaError('IMPORT_OUTPUT_EXISTS', `${out}: choose another --out or remove it first`, { file: out });
  if (opts.adapters.length === 0) throw new XalmaError('CHECKPOINT_INVALID', 'at least one --adapter N=DIR is needed: a package serves language groups');
  for (const list of [opts.adapters, opts.merged ?? []]) {
    const seen = new Set<number>();
    for (const a of list) {
      if (!XALMA_GROUPS.some((g) => g.id === a.group)) throw new XalmaError('CHECKPOINT_INVALID', `group ${a.group}: X-ALMA groups are 1-8`);
      if (seen.has(a.group)) throw new XalmaError('CHECKPOINT_INVALID', `group ${a.group} is given twice`);
      seen.add(a.group);
    }
  }
  for (const m of opts.merged ?? []) {
    if (!opts.adapters.some((a) => a.group === m.group)) throw new XalmaError('CHECKPOINT_INVALID', `--merged ${m.group}: group ${m.group} has no --adapter (a package group needs its module)`);
  }

  // Everything that can be checked without writing is checked first.
  const config = await readHfConfig(opts.base);
  const tokenizerPath = join(opts.base, 'tokenizer.json');
  await loadTokenizer(tokenizerPath, { bosId: config.bosId, eosId: config.eosId, padId: config.padId }).catch((err: unknown) => {
    throw new XalmaError('CHECKPOINT_INVALID', `${tokenizerPath}: ${(err as Error).message}`, { file: tokenizerPath }, { cause: err });
  });
  const shards = await openHfWeights(opts.base);
  planBase(shards, config, opts.dtype);
  const adapters = new Map<number, PeftAdapter>();
  try {
    for (const a of opts.adapters) adapters.set(a.group, await readPeftAdapter(a.dir, config.dims));
    const first = adapters.get(opts.adapters[0].group)!;
    for (const [group, a] of adapters) {
      if (a.rank !== first.rank || a.scale !== first.scale || a.targets.join() !== first.targets.join()) {
        throw new XalmaError('CHECKPOINT_UNSUPPORTED', `${a.dir}: group ${group} has r=${a.rank}, scale ${a.scale}, targets ${a.targets.join(',')}; group ${opts.adapters[0].group} has r=${first.rank}, scale ${first.scale}, targets ${first.targets.join(',')} (one package holds one LoRA shape)`);
      }
    }
    const lora: LoraConfig = { rank: first.rank, scale: first.scale, targets: first.targets };
    const mergedSources: MergedSource[] = [];
    for (const m of opts.merged ?? []) mergedSources.push(await openMerged(m.group, m.dir, config, opts.dtype));
    const total = shardBytes(shards) + [...adapters.values()].reduce((n, a) => n + a.storedBytes, 0) + mergedSources.reduce((n, m) => n + shardBytes(m.shards), 0);
    const progress = new Progress(total, opts.onProgress);

    const tmp = `${out}.partial-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(join(tmp, 'modules'), { recursive: true });
    try {
      await copyFile(tokenizerPath, join(tmp, 'tokenizer.json'));
      // Hub caches and read-only mounts hand out 0444 files; the package's own copy is ours.
      await chmod(join(tmp, 'tokenizer.json'), 0o644);
      const { writer: baseWriter, tensors } = await writeBase(tmp, shards, config, opts.dtype, progress, opts.signal);
      const baseHeader = await readSafetensorsHeader(join(tmp, 'base.safetensors'));
      await writeFile(join(tmp, 'base.onnx'), packageBaseGraph(config.dims, opts.dtype, { location: 'base.safetensors', header: baseHeader }));

      const groups: ManifestGroup[] = [];
      const files: ManifestFile[] = [await buildFileEntry(tmp, 'tokenizer.json'), { path: 'base.safetensors', bytes: baseWriter.bytes, sha256: baseWriter.digest() }, await buildFileEntry(tmp, 'base.onnx')];
      for (const a of [...opts.adapters].sort((x, y) => x.group - y.group)) {
        const { rel, entry } = await writeModule(tmp, a.group, adapters.get(a.group)!, config.dims, progress, opts.signal);
        groups.push({ ...XALMA_GROUPS.find((g) => g.id === a.group)!, module: rel });
        files.push(entry);
      }
      const merged = [];
      for (const m of mergedSources) {
        const entry = await writeMerged(tmp, m, config, lora, opts.dtype, progress, opts.signal);
        merged.push({ group: m.group, file: entry.path });
        files.push(entry);
      }
      const quantization = quantizationOf(opts.dtype);
      const manifest: Manifest = {
        format: 'xalma-package',
        formatVersion: PACKAGE_FORMAT_VERSION,
        name: opts.name ?? basename(out),
        demo: false,
        description: `Imported by xalma-serve from ${checkpointName(opts.base)} with ${opts.adapters.length} group adapter(s), weights ${opts.dtype}.`,
        architecture: 'llama',
        dims: config.dims,
        dtype: opts.dtype,
        ...(quantization ? { quantization } : {}),
        source: {
          base: checkpointName(opts.base),
          adapters: opts.adapters.map((a) => ({ group: a.group, name: checkpointName(a.dir), file: basename(adapters.get(a.group)!.file) })),
          merged: (opts.merged ?? []).map((m) => ({ group: m.group, name: checkpointName(m.dir) })),
          configSha256: config.sha256,
          torchDtype: config.torchDtype,
          importedWith: 'xalma-serve import',
        },
        ...(merged.length > 0 ? { merged } : {}),
        tokenizer: { file: 'tokenizer.json', bosId: config.bosId, eosId: config.eosId, padId: config.padId },
        promptTemplate: DEFAULT_PROMPT_TEMPLATE,
        lora,
        groups,
        weights: 'base.safetensors',
        graph: 'base.onnx',
        files,
      };
      await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
      await mkdir(dirname(out), { recursive: true });
      await rename(tmp, out);
      const bytesWritten = files.reduce((n, f) => n + f.bytes, 0);
      return { manifest, out, tensors, bytesRead: progress.done, bytesWritten, ms: Date.now() - started };
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  } finally {
    await Promise.all([...adapters.values()].map((a) => a.close()));
  }
}
