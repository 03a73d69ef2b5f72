/**
 * The safetensors weights of a Hugging Face folder: one `model.safetensors`, or shards listed
 * by `model.safetensors.index.json` (its `weight_map` says which shard holds each tensor; a
 * layer may straddle two shards). Tensors are streamed shard by shard in file order, so the
 * reads are sequential and only one tensor is in memory at a time.
 *
 * Checksums: a file that is a symlink into a Hugging Face Hub cache (`.../blobs/<sha256>`, as
 * `huggingface-cli download` and transformers leave them) is hashed while it streams and must
 * match the sha256 its blob is named after; that catches a corrupted or half-downloaded shard
 * for the price of the hashing (the bytes are read anyway).
 */
import { createHash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { XalmaError, isXalmaError } from '../errors.ts';
import { floatView, openSafetensors, readTensorBytes, type SafetensorsEntry, type SafetensorsHeader } from '../model/safetensors.ts';
import { Scratch } from '../model/weight-storage.ts';
import { readJsonFile } from './hf-config.ts';

export interface ShardTensor {
  name: string;
  entry: SafetensorsEntry;
}

export interface Shard {
  path: string;
  header: SafetensorsHeader;
  /** In file order. */
  tensors: ShardTensor[];
  /** sha256 the file must have (Hub cache blob name), when known. */
  expectedSha256?: string;
}

const FLOAT_CHECKPOINT_DTYPES = new Set(['F32', 'F16', 'BF16']);

function invalid(path: string, detail: string, cause?: unknown): XalmaError {
  return new XalmaError('CHECKPOINT_INVALID', `${path}: ${detail}`, { file: path }, cause === undefined ? undefined : { cause });
}

async function hubBlobSha(path: string): Promise<string | undefined> {
  const real = await realpath(path);
  const name = basename(real);
  return real !== path && /^[0-9a-f]{64}$/.test(name) && real.includes('/blobs/') ? name : undefined;
}

async function openShard(path: string): Promise<Shard> {
  let opened;
  try {
    opened = await openSafetensors(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw invalid(path, 'file is missing', err);
    // A truncated shard fails here: its header promises more bytes than the file has.
    if (isXalmaError(err, 'SAFETENSORS_INVALID')) throw new XalmaError('CHECKPOINT_INVALID', err.message.replace(/^[^:]*: /, ''), { file: path }, { cause: err });
    throw err;
  }
  await opened.fh.close();
  const tensors: ShardTensor[] = [];
  for (const [name, entry] of opened.header.tensors) {
    if (!FLOAT_CHECKPOINT_DTYPES.has(entry.dtype)) {
      throw new XalmaError('CHECKPOINT_UNSUPPORTED', `${path}: tensor ${name} has dtype ${entry.dtype}; checkpoints must be F32, F16 or BF16`, { file: path, tensor: name });
    }
    tensors.push({ name, entry });
  }
  return { path, header: opened.header, tensors, expectedSha256: await hubBlobSha(path) };
}

/** The shards of a folder, checked against the index's weight_map. */
export async function openHfWeights(dir: string, stem = 'model'): Promise<Shard[]> {
  const indexPath = join(dir, `${stem}.safetensors.index.json`);
  const index = await readJsonFile(indexPath, false);
  if (!index) {
    const single = join(dir, `${stem}.safetensors`);
    if (!(await stat(single).catch(() => null))) {
      const bin = await stat(join(dir, 'pytorch_model.bin')).catch(() => null);
      throw invalid(dir, `neither ${stem}.safetensors nor ${stem}.safetensors.index.json is here${bin ? ' (pytorch_model.bin bases are not read: save the model with safe_serialization=True)' : ''}`);
    }
    return [await openShard(single)];
  }
  const map = index.weight_map as Record<string, unknown> | undefined;
  if (!map || typeof map !== 'object') throw invalid(indexPath, 'has no weight_map');
  const files = [...new Set(Object.values(map))];
  for (const f of files) {
    if (typeof f !== 'string' || f.includes('/') || f.includes('\\')) throw invalid(indexPath, `weight_map names ${JSON.stringify(f)}, not a file of this folder`);
  }
  const shards = await Promise.all((files as string[]).sort().map((f) => openShard(join(dir, f))));
  const where = new Map<string, Shard>();
  for (const s of shards) for (const t of s.tensors) where.set(t.name, s);
  for (const [name, file] of Object.entries(map)) {
    const s = where.get(name);
    if (!s) throw invalid(join(dir, file as string), `tensor ${name} (listed in ${basename(indexPath)}) is not in the file`);
    if (basename(s.path) !== file) throw invalid(indexPath, `tensor ${name} is in ${basename(s.path)}, the weight_map says ${file as string}`);
  }
  return shards;
}

/**
 * Streams every tensor of the shards as Float32 (HF layout), shard by shard, in file order.
 * The next tensor is read while the caller works on this one (two buffers, alternating), and
 * the yielded `data` lives in a reused buffer: it is valid until the next iteration.
 * Verifies Hub-cache checksums along the way (the whole file is hashed, header included).
 */
export async function* streamTensors(shards: readonly Shard[], signal?: AbortSignal): AsyncGenerator<{ name: string; shape: number[]; data: Float32Array; bytes: number; shard: Shard }> {
  const scratch = new Scratch();
  let flip = 0;
  for (const shard of shards) {
    const { fh, header } = await openSafetensors(shard.path);
    let next: Promise<Uint8Array> | undefined;
    try {
      const hash = shard.expectedSha256 ? createHash('sha256') : undefined;
      let cursor = 0;
      const read = (k: number) => {
        const e = shard.tensors[k].entry;
        return readTensorBytes(fh, e, scratch.bytes(`read${flip++ % 2}`, e.end - e.begin));
      };
      next = shard.tensors.length > 0 ? read(0) : undefined;
      for (let k = 0; k < shard.tensors.length; k++) {
        signal?.throwIfAborted();
        const t = shard.tensors[k];
        const bytes = await next!;
        next = k + 1 < shard.tensors.length ? read(k + 1) : undefined;
        if (hash) {
          // Holes between tensors (legal, never written by HF) are hashed too.
          if (t.entry.begin > cursor) hash.update(await readTensorBytes(fh, { begin: cursor, end: t.entry.begin }));
          hash.update(bytes);
          cursor = t.entry.end;
        }
        const n = (t.entry.end - t.entry.begin) / (t.entry.dtype === 'F32' ? 4 : 2);
        const data = floatView(shard.path, t.name, t.entry, bytes, t.entry.dtype === 'F32' ? undefined : scratch.f32('widened', n));
        yield { name: t.name, shape: t.entry.shape, data, bytes: bytes.byteLength, shard };
      }
      if (hash) {
        if (header.fileBytes > cursor) hash.update(await readTensorBytes(fh, { begin: cursor, end: header.fileBytes }));
        const actual = hash.digest('hex');
        if (actual !== shard.expectedSha256) {
          throw invalid(shard.path, `sha256 ${actual}, the Hub cache blob says ${shard.expectedSha256}: the file is corrupted or incomplete, download it again`);
        }
      }
    } finally {
      // The caller may stop early (an error, an abort): let the read in flight settle first.
      await next?.catch(() => undefined);
      await fh.close();
    }
  }
}
