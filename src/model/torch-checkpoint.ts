/**
 * Reading PyTorch `torch.save` checkpoints (the zip format of torch >= 1.6), as written for
 * `pytorch_model.bin` (transformers) and `adapter_model.bin` (PEFT), without Python.
 *
 * The file is a ZIP archive, normally "stored" (no compression) with every entry's data
 * 64-byte aligned, whose entries all sit under one folder named after the file:
 *
 *   <archive>/data.pkl     the state dict, pickled (protocol 2)
 *   <archive>/data/<key>   the raw little-endian bytes of storage <key>
 *   <archive>/version, <archive>/byteorder ("little", newer torch), ...
 *
 * data.pkl is a pickle program. Each tensor in it is the call
 *   torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata])
 * whose `storage` is a persistent id (BINPERSID) holding the tuple
 *   ('storage', torch.FloatStorage | HalfStorage | BFloat16Storage, key, location, numel)
 * and which views `numel(size)` elements of that storage from `storage_offset` (in elements)
 * with the given strides (in elements). Several tensors may share one storage.
 *
 * Unpickling normally imports and calls arbitrary Python classes (code execution), so the small
 * pickle VM below only knows a fixed list of GLOBALs and interprets them itself; any other
 * GLOBAL is refused. Tensors are converted to Float32 (F16/BF16 widened exactly).
 */
import { readFile } from 'node:fs/promises';
import { constants } from 'node:buffer';
import { endianness } from 'node:os';
import { inflateRawSync } from 'node:zlib';
import { XalmaError } from '../errors.ts';
import { bf16ToF32, f16ToF32 } from './half.ts';
import type { F32Tensor } from './safetensors.ts';

export interface TorchTensorInfo {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
}
type Dtype = TorchTensorInfo['dtype'];

/** torch storage class name -> dtype; other storage classes (Long, Int, Double, ...) are refused. */
const STORAGE_DTYPES: Record<string, Dtype> = { FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16' };
const MAX_LENGTH = constants.MAX_LENGTH;
const ELEMENT_BYTES: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2 };

function invalid(path: string, detail: string, cause?: unknown): XalmaError {
  return new XalmaError('SAFETENSORS_INVALID', `${path}: ${detail}`, { file: path }, cause === undefined ? undefined : { cause });
}

// ---------------------------------------------------------------------------------------------
// ZIP: end-of-central-directory record -> central directory -> local headers.

interface ZipEntry { name: string; flags: number; method: number; compressedSize: number; size: number; localOffset: number }

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

function readZipDirectory(path: string, buf: Buffer): Map<string, ZipEntry> {
  const need = (at: number, n: number, what: string): void => {
    if (at < 0 || at + n > buf.length) throw invalid(path, `zip ${what} lies outside the file (truncated?)`);
  };
  const u64 = (at: number): number => {
    const v = buf.readBigUInt64LE(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(path, 'zip64 field too large');
    return Number(v);
  };
  // The EOCD record (22 bytes + a comment of up to 64 KiB) closes the file.
  let eocd = -1;
  for (let p = buf.length - 22; p >= Math.max(0, buf.length - 22 - 0xffff); p--) {
    if (buf.readUInt32LE(p) === SIG_EOCD) { eocd = p; break; }
  }
  if (eocd < 0) {
    const legacy = buf.length > 2 && buf[0] === 0x80 ? ' (a legacy pre-1.6 torch.save file? re-save it with a recent torch)' : '';
    throw invalid(path, `not a zip file: no end-of-central-directory record${legacy}`);
  }
  let count = buf.readUInt16LE(eocd + 10);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  if ((count === 0xffff || cdOffset === 0xffffffff) && eocd >= 20 && buf.readUInt32LE(eocd - 20) === SIG_ZIP64_LOCATOR) {
    const z = u64(eocd - 20 + 8);
    need(z, 56, 'zip64 end record');
    if (buf.readUInt32LE(z) !== SIG_ZIP64_EOCD) throw invalid(path, 'bad zip64 end-of-central-directory record');
    count = u64(z + 32);
    cdOffset = u64(z + 48);
  }
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    need(p, 46, 'central directory');
    if (buf.readUInt32LE(p) !== SIG_CENTRAL) throw invalid(path, `bad zip central directory entry ${i}`);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    need(p + 46, nameLen + extraLen + commentLen, 'central directory');
    const e: ZipEntry = {
      name: buf.toString('utf8', p + 46, p + 46 + nameLen),
      flags: buf.readUInt16LE(p + 8),
      method: buf.readUInt16LE(p + 10),
      compressedSize: buf.readUInt32LE(p + 20),
      size: buf.readUInt32LE(p + 24),
      localOffset: buf.readUInt32LE(p + 42),
    };
    // ZIP64 extra field (id 1): the 64-bit values of whichever fields above read 0xffffffff, in this order.
    for (let x = p + 46 + nameLen, end = x + extraLen; x + 4 <= end; x += 4 + buf.readUInt16LE(x + 2)) {
      if (buf.readUInt16LE(x) !== 0x0001) continue;
      let f = x + 4;
      const take = (): number => {
        if (f + 8 > end) throw invalid(path, `zip64 extra field of ${e.name} is too short`);
        f += 8;
        return u64(f - 8);
      };
      if (e.size === 0xffffffff) e.size = take();
      if (e.compressedSize === 0xffffffff) e.compressedSize = take();
      if (e.localOffset === 0xffffffff) e.localOffset = take();
    }
    entries.set(e.name, e);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The uncompressed bytes of one entry: a view of `buf` when stored, a new buffer when deflated. */
function entryBytes(path: string, buf: Buffer, e: ZipEntry): Uint8Array {
  if (e.flags & 1) throw invalid(path, `zip entry ${e.name} is encrypted`);
  const at = e.localOffset;
  if (at + 30 > buf.length || buf.readUInt32LE(at) !== SIG_LOCAL) throw invalid(path, `bad zip local header for ${e.name}`);
  const start = at + 30 + buf.readUInt16LE(at + 26) + buf.readUInt16LE(at + 28);
  const end = start + e.compressedSize;
  if (end > buf.length) throw invalid(path, `zip entry ${e.name} is truncated`);
  let out: Uint8Array;
  if (e.method === 0) out = buf.subarray(start, end);
  else if (e.method === 8) {
    try {
      out = inflateRawSync(buf.subarray(start, end), { maxOutputLength: Math.max(1, e.size) }); // no zip bombs
    } catch (err) {
      throw invalid(path, `zip entry ${e.name} does not inflate`, err);
    }
  } else throw invalid(path, `zip entry ${e.name} uses unsupported compression method ${e.method}`);
  if (out.length !== e.size) throw invalid(path, `zip entry ${e.name} holds ${out.length} bytes, directory says ${e.size}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pickle VM. Tuples and lists are arrays, dicts are Maps; the only "objects" are these three.

class PyGlobal { constructor(readonly module: string, readonly name: string) {} }
class StorageRef { constructor(readonly dtype: Dtype | string, readonly key: string, readonly numel: number) {} }
class TensorRef { constructor(readonly storage: StorageRef, readonly offset: number, readonly size: number[], readonly stride: number[]) {} }
type Py = null | boolean | number | string | Uint8Array | Py[] | Map<Py, Py> | PyGlobal | StorageRef | TensorRef;

/** The GLOBALs data.pkl may name (plus `torch.<X>Storage`, which are only markers). */
const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
]);

const isInt = (v: Py): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isIntList = (v: Py): v is number[] => Array.isArray(v) && v.every(isInt);

function unpickle(path: string, pkl: Uint8Array): Py {
  const bad = (detail: string): XalmaError => invalid(path, `data.pkl: ${detail}`);
  const view = new DataView(pkl.buffer, pkl.byteOffset, pkl.byteLength);
  const text = new TextDecoder('utf-8', { fatal: false });
  let pos = 0;
  const take = (n: number): number => {
    if (n < 0 || pos + n > pkl.length) throw bad(`truncated at byte ${pos}`);
    pos += n;
    return pos - n;
  };
  const u8 = (): number => pkl[take(1)];
  const u16 = (): number => view.getUint16(take(2), true);
  const u32 = (): number => view.getUint32(take(4), true);
  const u64 = (): number => Number(view.getBigUint64(take(8), true));
  const str = (n: number): string => text.decode(pkl.subarray(take(n), pos));
  const bytes = (n: number): Uint8Array => pkl.slice(take(n), pos);
  const line = (): string => {
    const end = pkl.indexOf(0x0a, pos);
    if (end < 0) throw bad('unterminated GLOBAL');
    return str(end - pos + 1).slice(0, -1);
  };
  const long = (n: number): number => {
    const at = take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(pkl[at + i]);
    if (n > 0 && pkl[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw bad('integer too large');
    return Number(v);
  };

  let stack: Py[] = [];
  const marks: Py[][] = [];
  const memo = new Map<number, Py>();
  const pop = (): Py => {
    if (stack.length === 0) throw bad(`stack underflow at byte ${pos - 1}`);
    return stack.pop() as Py;
  };
  const top = (): Py => {
    if (stack.length === 0) throw bad(`stack underflow at byte ${pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = (): Py[] => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) throw bad(`no MARK before byte ${pos - 1}`);
    stack = prev;
    return items;
  };
  const get = (i: number): Py => {
    if (!memo.has(i)) throw bad(`memo ${i} is not set`);
    return memo.get(i) as Py;
  };
  const global = (module: string, name: string): PyGlobal => {
    const full = `${module}.${name}`;
    if (ALLOWED_GLOBALS.has(full) || (module === 'torch' && /^\w+Storage$/.test(name))) return new PyGlobal(module, name);
    throw bad(`refusing GLOBAL ${full} (only torch tensor/storage rebuilders and OrderedDict are allowed)`);
  };
  const dictOf = (target: Py, what: string): Map<Py, Py> => {
    if (!(target instanceof Map)) throw bad(`${what} on a non-dict`);
    return target;
  };
  const listOf = (target: Py, what: string): Py[] => {
    if (!Array.isArray(target)) throw bad(`${what} on a non-list`);
    return target;
  };

  /** REDUCE / NEWOBJ: "call" one of the allowed globals. */
  const call = (fn: Py, args: Py): Py => {
    if (!(fn instanceof PyGlobal) || !Array.isArray(args)) throw bad('REDUCE of a non-callable');
    const full = `${fn.module}.${fn.name}`;
    if (full === 'collections.OrderedDict') {
      const out = new Map<Py, Py>();
      const pairs = args[0] ?? [];
      if (!Array.isArray(pairs)) throw bad('OrderedDict() of a non-list');
      for (const pair of pairs) if (Array.isArray(pair) && pair.length === 2) out.set(pair[0], pair[1]);
      return out;
    }
    if (full === 'torch._utils._rebuild_tensor' || full === 'torch._utils._rebuild_tensor_v2') {
      const [storage, offset, size, stride] = args;
      if (!(storage instanceof StorageRef) || !isInt(offset) || !isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
        throw bad(`bad arguments to ${full}`);
      }
      return new TensorRef(storage, offset, size, stride);
    }
    if (full.startsWith('torch._utils._rebuild_parameter')) {
      if (!(args[0] instanceof TensorRef)) throw bad(`bad arguments to ${full}`);
      return args[0];
    }
    throw bad(`${full} is not callable`);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME (a read-ahead hint)
      case 0x2e: return pop(); // STOP
      case 0x28: marks.push(stack); stack = []; break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(view.getInt32(take(4), true)); break; // BININT
      case 0x8a: stack.push(long(u8())); break; // LONG1
      case 0x8b: stack.push(long(u32())); break; // LONG4
      case 0x47: stack.push(view.getFloat64(take(8), false)); break; // BINFLOAT (big-endian)
      case 0x58: stack.push(str(u32())); break; // BINUNICODE
      case 0x8c: stack.push(str(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(str(u64())); break; // BINUNICODE8
      case 0x55: stack.push(Buffer.from(bytes(u8())).toString('latin1')); break; // SHORT_BINSTRING
      case 0x54: stack.push(Buffer.from(bytes(u32())).toString('latin1')); break; // BINSTRING
      case 0x43: stack.push(bytes(u8())); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytes(u32())); break; // BINBYTES
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: case 0x6c: { const items = popMark(); stack.push(items); break; } // TUPLE, LIST (popMark swaps `stack`)
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x64: { // DICT
        const items = popMark();
        const d = new Map<Py, Py>();
        for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(get(u8())); break; // BINGET
      case 0x6a: stack.push(get(u32())); break; // LONG_BINGET
      case 0x63: { const module = line(); stack.push(global(module, line())); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw bad('STACK_GLOBAL of non-strings');
        stack.push(global(module, name));
        break;
      }
      case 0x51: { // BINPERSID: ('storage', torch.<X>Storage, key, location, numel)
        const pid = pop();
        if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof PyGlobal) || typeof pid[2] !== 'string' || !isInt(pid[4])) {
          throw bad('unsupported persistent id (expected a torch storage)');
        }
        stack.push(new StorageRef(STORAGE_DTYPES[pid[1].name] ?? pid[1].name, pid[2], pid[4]));
        break;
      }
      case 0x52: { const args = pop(); stack.push(call(pop(), args)); break; } // REDUCE
      case 0x81: { const args = pop(); stack.push(call(pop(), args)); break; } // NEWOBJ
      case 0x62: { // BUILD: only instance attributes of an OrderedDict (e.g. state_dict()._metadata): ignored
        pop();
        dictOf(top(), 'BUILD');
        break;
      }
      case 0x73: { const v = pop(), k = pop(); dictOf(top(), 'SETITEM').set(k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        const d = dictOf(top(), 'SETITEMS');
        for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      }
      case 0x61: { const v = pop(); listOf(top(), 'APPEND').push(v); break; } // APPEND
      case 0x65: { const items = popMark(); const l = listOf(top(), 'APPENDS'); for (const v of items) l.push(v); break; } // APPENDS
      default: throw bad(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tensors: view (offset, size, stride) of a storage's bytes -> Float32.

/** Copies the viewed elements, in row-major order, into a new buffer (raw little-endian bytes). */
function gather(bytes: Uint8Array, elem: number, t: TensorRef, numel: number): Uint8Array {
  const out = new Uint8Array(numel * elem);
  let contiguous = true;
  for (let d = t.size.length - 1, s = 1; d >= 0; s *= t.size[d], d--) if (t.size[d] !== 1 && t.stride[d] !== s) contiguous = false;
  if (contiguous) {
    out.set(bytes.subarray(t.offset * elem, (t.offset + numel) * elem));
    return out;
  }
  const rank = t.size.length;
  const index = new Array<number>(rank).fill(0);
  let src = t.offset;
  for (let k = 0, o = 0; k < numel; k++) {
    for (let b = 0; b < elem; b++) out[o++] = bytes[src * elem + b];
    for (let d = rank - 1; d >= 0; d--) { // odometer step over the multi-index
      src += t.stride[d];
      if (++index[d] < t.size[d]) break;
      src -= t.stride[d] * t.size[d];
      index[d] = 0;
    }
  }
  return out;
}

interface Checkpoint { tensors: Map<string, TensorRef>; storage(key: string): Uint8Array }

async function openCheckpoint(path: string): Promise<Checkpoint> {
  const buf = await readFile(path);
  const entries = readZipDirectory(path, buf);
  const pklName = [...entries.keys()].find((n) => /^([^/]+\/)?data\.pkl$/.test(n));
  if (pklName === undefined) throw invalid(path, 'zip has no data.pkl: not a torch.save checkpoint');
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  if (order && new TextDecoder().decode(entryBytes(path, buf, order)).trim() !== 'little') {
    throw invalid(path, 'big-endian torch checkpoints are not supported');
  }
  const root = unpickle(path, entryBytes(path, buf, entries.get(pklName) as ZipEntry));
  if (!(root instanceof Map)) throw invalid(path, 'data.pkl does not hold a dict (state dict) of tensors');
  const tensors = new Map<string, TensorRef>();
  for (const [name, value] of root) {
    if (typeof name !== 'string') throw invalid(path, 'state dict has a non-string key');
    if (!(value instanceof TensorRef)) throw invalid(path, `state dict entry ${name} is not a tensor (nested checkpoints are not supported)`);
    tensors.set(name, value);
  }
  const cache = new Map<string, Uint8Array>(); // only matters for deflated entries shared by several tensors
  const storage = (key: string): Uint8Array => {
    let bytes = cache.get(key);
    if (!bytes) {
      const e = entries.get(`${prefix}data/${key}`);
      if (!e) throw invalid(path, `storage ${key} has no zip entry ${prefix}data/${key}`);
      bytes = entryBytes(path, buf, e);
      cache.set(key, bytes);
    }
    return bytes;
  };
  return { tensors, storage };
}

function dtypeOf(path: string, name: string, t: TensorRef): Dtype {
  const d = t.storage.dtype;
  if (d === 'F32' || d === 'F16' || d === 'BF16') return d;
  throw invalid(path, `tensor ${name} is stored as torch.${d}; only Float, Half and BFloat16 are supported`);
}

/** Names, dtypes and shapes of every tensor (reads the file, skips the conversion). */
export async function readTorchCheckpointInfo(path: string): Promise<TorchTensorInfo[]> {
  const { tensors } = await openCheckpoint(path);
  return [...tensors].map(([name, t]) => ({ name, dtype: dtypeOf(path, name, t), shape: [...t.size] }));
}

/** Reads every tensor of a torch zip checkpoint (a flat state dict name -> tensor), converted to F32. */
export async function readTorchCheckpoint(path: string): Promise<Map<string, F32Tensor>> {
  // Storage bytes are little-endian and are reinterpreted through typed arrays.
  if (endianness() !== 'LE') throw new Error('torch checkpoint reading needs a little-endian host');
  const { tensors, storage } = await openCheckpoint(path);
  const out = new Map<string, F32Tensor>();
  for (const [name, t] of tensors) {
    const dtype = dtypeOf(path, name, t);
    const elem = ELEMENT_BYTES[dtype];
    const bytes = storage(t.storage.key);
    if (t.storage.numel * elem > bytes.length) {
      throw invalid(path, `storage ${t.storage.key} holds ${bytes.length} bytes, fewer than its ${t.storage.numel} ${dtype} elements`);
    }
    const numel = t.size.reduce((n, d) => n * d, 1);
    const last = t.size.reduce((m, d, i) => m + (d - 1) * t.stride[i], t.offset); // highest element index read
    if (numel > 0 && last >= t.storage.numel) {
      throw invalid(path, `tensor ${name} (offset ${t.offset}, size [${t.size}], stride [${t.stride}]) reads past its storage of ${t.storage.numel} elements`);
    }
    if (numel * 4 > MAX_LENGTH) throw invalid(path, `tensor ${name} has ${numel} elements, too many for one Float32Array`);
    const raw = numel === 0 ? new Uint8Array(0) : gather(bytes, elem, t, numel);
    const data = dtype === 'F32'
      ? new Float32Array(raw.buffer, 0, numel)
      : (dtype === 'F16' ? f16ToF32 : bf16ToF32)(new Uint16Array(raw.buffer, 0, numel));
    out.set(name, { shape: [...t.size], data });
  }
  return out;
}
