import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isXalmaError } from '../../../src/errors.ts';
import type { F32Tensor } from '../../../src/model/safetensors.ts';
import { bf16ToF32, f16ToF32 } from '../../../src/model/half.ts';
import { readTorchCheckpoint, readTorchCheckpointInfo } from '../../../src/model/torch-checkpoint.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = join(repoRoot, '..', 'shared', 'fixtures');
const hasFixtures = existsSync(FIXTURES);
if (!hasFixtures) console.warn(`torch-checkpoint.test: skipping fixture comparisons, ${FIXTURES} is absent`);
const LLAMA2 = join(FIXTURES, 'tiny-random-llama2-f16-sharded');
const BASARAN = join(FIXTURES, 'tiny-random-llama-basaran');

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xalma-torch-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
async function tmpFile(bytes: Uint8Array): Promise<string> {
  const path = join(dir, `c${counter++}.bin`);
  await writeFile(path, bytes);
  return path;
}

const bits = (a: Float32Array): number[] => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
const f32 = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);
const u16 = (values: number[]): Uint8Array => new Uint8Array(Uint16Array.from(values).buffer);

async function expectInvalid(path: string, ...fragments: string[]): Promise<void> {
  const err = await readTorchCheckpoint(path).then(() => undefined, (e: unknown) => e);
  expect(isXalmaError(err, 'SAFETENSORS_INVALID'), `expected SAFETENSORS_INVALID, got ${String(err)}`).toBe(true);
  const message = (err as Error).message;
  expect(message).toContain(path);
  for (const f of fragments) expect(message).toContain(f);
}

// --- a tiny torch.save writer: ZIP (stored or deflated, optionally ZIP64) + protocol-2 pickle ---

interface ZipInput { name: string; data: Uint8Array }
function zip(entries: ZipInput[], opts: { deflate?: boolean; zip64?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const body = opts.deflate ? deflateRawSync(data) : Buffer.from(data);
    const nameBytes = Buffer.from(name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt16LE(opts.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const extra = Buffer.alloc(opts.zip64 ? 28 : 0);
    if (opts.zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(data.length), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(45, 4);
    cd.writeUInt16LE(45, 6);
    cd.writeUInt16LE(opts.deflate ? 8 : 0, 10);
    cd.writeUInt32LE(crc32(data), 16);
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : body.length, 20);
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : data.length, 24);
    cd.writeUInt16LE(nameBytes.length, 28);
    cd.writeUInt16LE(extra.length, 30);
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 42);
    central.push(cd, nameBytes, extra);
    parts.push(local, nameBytes, body);
    offset += local.length + nameBytes.length + body.length;
  }
  const cdBytes = Buffer.concat(central);
  const tail: Buffer[] = [];
  if (opts.zip64) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeBigUInt64LE(BigInt(entries.length), 24);
    z.writeBigUInt64LE(BigInt(entries.length), 32);
    z.writeBigUInt64LE(BigInt(cdBytes.length), 40);
    z.writeBigUInt64LE(BigInt(offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset + cdBytes.length), 8);
    locator.writeUInt32LE(1, 16);
    tail.push(z, locator);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 8);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 10);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cdBytes.length, 12);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 16);
  return Buffer.concat([...parts, cdBytes, ...tail, eocd]);
}

/** Pickle opcodes, spelled out as torch's protocol-2 pickler emits them. */
const P = {
  raw: (...b: number[]): Buffer => Buffer.from(b),
  str(s: string): Buffer {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return Buffer.concat([Buffer.from('X'), len, b]);
  },
  int(n: number): Buffer {
    const b = Buffer.alloc(5);
    b.write('J');
    b.writeInt32LE(n, 1);
    return b;
  },
  global: (module: string, name: string): Buffer => Buffer.from(`c${module}\n${name}\n`, 'latin1'),
  tuple: (items: Buffer[]): Buffer => Buffer.concat([Buffer.from('('), ...items, Buffer.from('t')]),
  emptyOrderedDict: (): Buffer => Buffer.concat([P.global('collections', 'OrderedDict'), Buffer.from(')R')]),
};

interface SynthTensor {
  name: string;
  storage: { cls: string; key: string; numel: number };
  offset?: number;
  size: number[];
  stride?: number[];
  parameter?: boolean;
}
function contiguousStride(size: number[]): number[] {
  const stride = size.map(() => 1);
  for (let d = size.length - 2; d >= 0; d--) stride[d] = stride[d + 1] * size[d + 1];
  return stride;
}
function tensorPickle(t: SynthTensor): Buffer {
  const rebuild = Buffer.concat([
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.tuple([
      P.tuple([P.str('storage'), P.global('torch', t.storage.cls), P.str(t.storage.key), P.str('cpu'), P.int(t.storage.numel)]),
      P.raw(0x51), // BINPERSID
      P.int(t.offset ?? 0),
      P.tuple(t.size.map(P.int)),
      P.tuple((t.stride ?? contiguousStride(t.size)).map(P.int)),
      P.raw(0x89), // NEWFALSE
      P.emptyOrderedDict(),
    ]),
    Buffer.from('R'),
  ]);
  if (!t.parameter) return rebuild;
  return Buffer.concat([P.global('torch._utils', '_rebuild_parameter'), P.tuple([rebuild, P.raw(0x88), P.emptyOrderedDict()]), Buffer.from('R')]);
}
function stateDictPickle(tensors: SynthTensor[]): Buffer {
  const items = tensors.flatMap((t) => [P.str(t.name), tensorPickle(t)]);
  return Buffer.concat([P.raw(0x80, 2), Buffer.from('}('), ...items, Buffer.from('u.')]);
}
function checkpoint(pkl: Uint8Array, storages: Record<string, Uint8Array>, opts: { deflate?: boolean; zip64?: boolean; prefix?: string } = {}): Buffer {
  const prefix = opts.prefix ?? 'archive/';
  return zip([
    { name: `${prefix}data.pkl`, data: pkl },
    { name: `${prefix}byteorder`, data: Buffer.from('little') },
    ...Object.entries(storages).map(([key, data]) => ({ name: `${prefix}data/${key}`, data })),
    { name: `${prefix}version`, data: Buffer.from('3\n') },
  ], opts);
}

/** A checkpoint using every supported dtype, a shared storage, an offset, strided views and a Parameter. */
const SAMPLE_TENSORS: SynthTensor[] = [
  { name: 'w', storage: { cls: 'FloatStorage', key: '0', numel: 6 }, size: [2, 3] },
  { name: 'w.T', storage: { cls: 'FloatStorage', key: '0', numel: 6 }, size: [3, 2], stride: [1, 3] },
  { name: 'w.tail', storage: { cls: 'FloatStorage', key: '0', numel: 6 }, offset: 4, size: [2] },
  { name: 'w.scalar', storage: { cls: 'FloatStorage', key: '0', numel: 6 }, offset: 5, size: [], stride: [] },
  { name: 'h', storage: { cls: 'HalfStorage', key: '1', numel: 4 }, size: [2, 2], parameter: true },
  { name: 'h.col', storage: { cls: 'HalfStorage', key: '1', numel: 4 }, offset: 1, size: [2], stride: [2] },
  { name: 'b', storage: { cls: 'BFloat16Storage', key: 'bf', numel: 3 }, size: [3] },
  { name: 'empty', storage: { cls: 'FloatStorage', key: '0', numel: 6 }, size: [0, 4] },
];
const SAMPLE_STORAGES = {
  '0': f32([0, 1, 2, 3, 4, 5]),
  '1': u16([0x3c00, 0xc000, 0x0001, 0x7c00]), // 1, -2, 2^-24, Infinity
  bf: u16([0x3f80, 0xc040, 0x0000]), // 1, -3, 0
};
const SAMPLE_EXPECTED: Record<string, { shape: number[]; data: number[] }> = {
  w: { shape: [2, 3], data: [0, 1, 2, 3, 4, 5] },
  'w.T': { shape: [3, 2], data: [0, 3, 1, 4, 2, 5] },
  'w.tail': { shape: [2], data: [4, 5] },
  'w.scalar': { shape: [], data: [5] },
  h: { shape: [2, 2], data: [1, -2, 2 ** -24, Infinity] },
  'h.col': { shape: [2], data: [-2, Infinity] },
  b: { shape: [3], data: [1, -3, 0] },
  empty: { shape: [0, 4], data: [] },
};

function expectSample(m: Map<string, F32Tensor>): void {
  expect([...m.keys()]).toEqual(Object.keys(SAMPLE_EXPECTED));
  for (const [name, want] of Object.entries(SAMPLE_EXPECTED)) {
    const got = m.get(name)!;
    expect(got.shape, name).toEqual(want.shape);
    expect([...got.data], name).toEqual(want.data);
  }
}

describe('f16ToF32 / bf16ToF32', () => {
  it('widens known half bit patterns exactly', () => {
    const out = f16ToF32(Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x7bff, 0x03ff, 0x3555]));
    expect([...out.subarray(0, 5)]).toEqual([1, -2, 2 ** -24, Infinity, -Infinity]);
    expect(Number.isNaN(out[5])).toBe(true);
    expect(Object.is(out[6], -0)).toBe(true);
    expect(out[7]).toBe(65504);
    expect(out[8]).toBe(1023 * 2 ** -24); // largest subnormal
    expect(out[9]).toBe(Math.fround(0.333251953125));
  });

  it('matches the IEEE formula for every finite half', () => {
    const all = f16ToF32(Uint16Array.from({ length: 65536 }, (_, i) => i));
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const frac = h & 0x3ff;
      if (exp === 0x1f) {
        expect(frac === 0 ? all[h] === sign * Infinity : Number.isNaN(all[h])).toBe(true);
        continue;
      }
      const want = exp === 0 ? sign * frac * 2 ** -24 : sign * (1 + frac / 1024) * 2 ** (exp - 15);
      if (!Object.is(all[h], want)) expect(all[h], `half 0x${h.toString(16)}`).toBe(want);
    }
  });

  it('widens bfloat16 by placing its bits in the top half', () => {
    const out = bf16ToF32(Uint16Array.from([0x3f80, 0xc000, 0x7f80, 0x0001, 0x8000, 0x7fc0]));
    expect([...out.subarray(0, 3)]).toEqual([1, -2, Infinity]);
    expect(bits(out).slice(3)).toEqual([0x00010000, 0x80000000, 0x7fc00000]);
  });
});

describe('readTorchCheckpoint on synthetic checkpoints', () => {
  it('reads F32/F16/BF16 storages, shared storages, offsets, strided views and parameters', async () => {
    const path = await tmpFile(checkpoint(stateDictPickle(SAMPLE_TENSORS), SAMPLE_STORAGES));
    expectSample(await readTorchCheckpoint(path));
    const info = await readTorchCheckpointInfo(path);
    expect(info.find((t) => t.name === 'h')).toEqual({ name: 'h', dtype: 'F16', shape: [2, 2] });
    expect(info.find((t) => t.name === 'b')?.dtype).toBe('BF16');
  });

  it('reads deflated entries, ZIP64 directories and any archive folder name', async () => {
    for (const opts of [{ deflate: true }, { zip64: true }, { deflate: true, zip64: true, prefix: 'adapter_model/' }]) {
      const path = await tmpFile(checkpoint(stateDictPickle(SAMPLE_TENSORS), SAMPLE_STORAGES, opts));
      expectSample(await readTorchCheckpoint(path));
    }
  });

  it('returns arrays that do not alias each other (tensors sharing a storage)', async () => {
    const path = await tmpFile(checkpoint(stateDictPickle(SAMPLE_TENSORS), SAMPLE_STORAGES));
    const m = await readTorchCheckpoint(path);
    m.get('w')!.data[5] = 99;
    expect([...m.get('w.tail')!.data]).toEqual([4, 5]);
  });

  it('rejects a file that is not a zip', async () => {
    await expectInvalid(await tmpFile(Buffer.from('{"not": "a checkpoint"}\n'.repeat(10))), 'not a zip');
    await expectInvalid(await tmpFile(new Uint8Array(0)), 'not a zip');
  });

  it('rejects truncated files', async () => {
    const full = checkpoint(stateDictPickle(SAMPLE_TENSORS), SAMPLE_STORAGES);
    for (const cut of [1, 10, 21, 100, Math.floor(full.length / 2)]) await expectInvalid(await tmpFile(full.subarray(0, full.length - cut)));
    // A truncated data.pkl inside an intact zip.
    const pkl = stateDictPickle(SAMPLE_TENSORS);
    await expectInvalid(await tmpFile(checkpoint(pkl.subarray(0, pkl.length - 40), SAMPLE_STORAGES)), 'data.pkl');
  });

  it('rejects a zip without data.pkl', async () => {
    await expectInvalid(await tmpFile(zip([{ name: 'model/weights', data: f32([1]) }])), 'no data.pkl');
  });

  it('refuses GLOBALs outside the allowlist and unknown opcodes', async () => {
    const evil = Buffer.concat([P.raw(0x80, 2), P.global('os', 'system'), P.tuple([P.str('echo pwned')]), Buffer.from('R.')]);
    await expectInvalid(await tmpFile(checkpoint(evil, {})), 'os.system');
    const odd = Buffer.concat([P.raw(0x80, 2), Buffer.from('}'), P.raw(0xff), Buffer.from('.')]);
    await expectInvalid(await tmpFile(checkpoint(odd, {})), 'opcode 0xff');
  });

  it('rejects views past the end of their storage and storages shorter than declared', async () => {
    const past = stateDictPickle([{ name: 'x', storage: { cls: 'FloatStorage', key: '0', numel: 6 }, offset: 1, size: [2, 3] }]);
    await expectInvalid(await tmpFile(checkpoint(past, { 0: f32([0, 1, 2, 3, 4, 5]) })), 'tensor x', 'past its storage');
    const strided = stateDictPickle([{ name: 'y', storage: { cls: 'FloatStorage', key: '0', numel: 6 }, size: [3, 2], stride: [1, 4] }]);
    await expectInvalid(await tmpFile(checkpoint(strided, { 0: f32([0, 1, 2, 3, 4, 5]) })), 'tensor y');
    const short = stateDictPickle([{ name: 'z', storage: { cls: 'FloatStorage', key: '0', numel: 6 }, size: [6] }]);
    await expectInvalid(await tmpFile(checkpoint(short, { 0: f32([0, 1, 2]) })), 'storage 0 holds 12 bytes');
    await expectInvalid(await tmpFile(checkpoint(short, {})), 'storage 0 has no zip entry');
  });

  it('rejects storage dtypes other than Float, Half and BFloat16', async () => {
    const longs = stateDictPickle([{ name: 'ids', storage: { cls: 'LongStorage', key: '0', numel: 2 }, size: [2] }]);
    await expectInvalid(await tmpFile(checkpoint(longs, { 0: new Uint8Array(16) })), 'tensor ids', 'LongStorage');
  });

  it('rejects corrupted files with SAFETENSORS_INVALID or reads them, never crashing otherwise', async () => {
    const good = checkpoint(stateDictPickle(SAMPLE_TENSORS), SAMPLE_STORAGES);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), async (edits) => {
        const bad = Buffer.from(good);
        for (const [at, value] of edits) bad[at] = value;
        const err = await readTorchCheckpoint(await tmpFile(bad)).then(() => undefined, (e: unknown) => e);
        if (err !== undefined && !isXalmaError(err, 'SAFETENSORS_INVALID')) throw err;
      }),
      { numRuns: 300 },
    );
  });
});

// --- the real checkpoints under /work/shared/fixtures, against their safetensors twins ---

interface RawTensor { dtype: string; shape: number[]; data: Float32Array }
/** A few-line safetensors reader for F16/F32 (independent of src/model/safetensors.ts). */
async function readSafetensorsForTest(path: string): Promise<Map<string, RawTensor>> {
  const buf = await readFile(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n)) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, RawTensor>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = buf.slice(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]); // copy: aligned
    const copy = new Uint8Array(bytes).buffer;
    const data = e.dtype === 'F16' ? f16ToF32(new Uint16Array(copy)) : e.dtype === 'F32' ? new Float32Array(copy) : undefined;
    if (!data) throw new Error(`test reader: ${name} is ${e.dtype}`);
    out.set(name, { dtype: e.dtype, shape: e.shape, data });
  }
  return out;
}

function expectSameTensors(got: Map<string, F32Tensor>, want: Map<string, RawTensor>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [name, w] of want) {
    const g = got.get(name)!;
    expect(g.shape, name).toEqual(w.shape);
    expect(g.data.length, name).toBe(w.data.length);
    const gb = bits(g.data);
    const wb = bits(w.data);
    const firstDiff = gb.findIndex((b, i) => b !== wb[i]);
    expect(firstDiff, `${name}: first differing element`).toBe(-1);
  }
}

function matmulAdd(w: Float32Array, b: Float32Array, a: Float32Array, rows: number, r: number, cols: number, scale: number): Float32Array {
  const out = Float32Array.from(w);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += b[i * r + k] * a[k * cols + j];
      out[i * cols + j] += scale * s;
    }
  }
  return out;
}

describe.skipIf(!hasFixtures)('readTorchCheckpoint on real torch.save files', () => {
  it('adapter-group-a adapter_model.bin equals its adapter_model.safetensors (F16), bit for bit', async () => {
    const bin = join(LLAMA2, 'adapter-group-a', 'adapter_model.bin');
    const got = await readTorchCheckpoint(bin);
    expect(got.size).toBe(28);
    expectSameTensors(got, await readSafetensorsForTest(join(LLAMA2, 'adapter-group-a', 'adapter_model.safetensors')));
    const info = await readTorchCheckpointInfo(bin);
    expect(new Set(info.map((t) => t.dtype))).toEqual(new Set(['F32']));
    expect(info.find((t) => t.name === 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')?.shape).toEqual([4, 32]);
  });

  it('basaran pytorch_model.bin equals model.safetensors except the rotary inv_freq buffers', async () => {
    const got = await readTorchCheckpoint(join(BASARAN, 'pytorch_model.bin'));
    const invFreq = [...got.keys()].filter((k) => k.endsWith('rotary_emb.inv_freq'));
    expect(invFreq).toEqual(['model.layers.0.self_attn.rotary_emb.inv_freq', 'model.layers.1.self_attn.rotary_emb.inv_freq']);
    for (const k of invFreq) {
      expect(got.get(k)!.shape).toEqual([1]); // head_dim 2 -> one frequency
      expect(got.get(k)!.data[0]).toBe(1);
      got.delete(k);
    }
    expectSameTensors(got, await readSafetensorsForTest(join(BASARAN, 'model.safetensors')));
  });

  it('adapter-group-b (bin only) merged into the base reproduces the PEFT merged weights', async () => {
    const adapter = await readTorchCheckpoint(join(LLAMA2, 'adapter-group-b', 'adapter_model.bin'));
    const adapterA = await readTorchCheckpoint(join(LLAMA2, 'adapter-group-a', 'adapter_model.bin'));
    expect([...adapter.keys()]).toEqual([...adapterA.keys()]);
    const base = new Map([
      ...(await readSafetensorsForTest(join(LLAMA2, 'base', 'model-00001-of-00002.safetensors'))),
      ...(await readSafetensorsForTest(join(LLAMA2, 'base', 'model-00002-of-00002.safetensors'))),
    ]);
    const golden = await readSafetensorsForTest(join(LLAMA2, 'golden_adapter-group-b_merged_linear_weights.safetensors'));
    expect(golden.size).toBe(14);
    const maxDiff = (ad: Map<string, F32Tensor>, name: string): number => {
      const key = `base_model.model.${name.replace(/\.weight$/, '')}`;
      const a = ad.get(`${key}.lora_A.weight`)!;
      const b = ad.get(`${key}.lora_B.weight`)!;
      const w = base.get(name)!;
      const [rows, cols] = w.shape;
      const merged = matmulAdd(w.data, b.data, a.data, rows, a.shape[0], cols, 8 / 4); // lora_alpha / r
      return merged.reduce((m, v, i) => Math.max(m, Math.abs(v - golden.get(name)!.data[i])), 0);
    };
    for (const name of golden.keys()) {
      expect(maxDiff(adapter, name), name).toBeLessThan(1e-5);
      expect(maxDiff(adapterA, name), `${name} with the other adapter`).toBeGreaterThan(1e-2); // the check can fail
    }
  });
});
