import { f16ToF32, f32ToF16 } from '../../../src/model/half.ts';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isXalmaError } from '../../../src/errors.ts';
import {
  readSafetensors,
  readSafetensorsHeader,
  safetensorsBytesLayout,
  writeSafetensors,
} from '../../../src/model/safetensors.ts';

let dir: string;
let counter = 0;
const nextPath = (): string => join(dir, `t${counter++}.safetensors`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xalma-st-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A file with a hand-written header: lets each test break exactly one rule. */
async function rawFile(header: unknown, data: Buffer, opts: { headerLength?: bigint; pad?: number } = {}): Promise<string> {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const body = Buffer.concat([json, Buffer.alloc(opts.pad ?? 0, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(opts.headerLength ?? BigInt(body.length));
  const path = nextPath();
  await writeFile(path, Buffer.concat([prefix, body, data]));
  return path;
}

function f32Bytes(values: number[]): Buffer {
  return Buffer.from(new Float32Array(values).buffer);
}

async function expectInvalid(path: string, ...fragments: string[]): Promise<void> {
  for (const read of [readSafetensorsHeader, readSafetensors]) {
    const err = await read(path).then(() => undefined, (e: unknown) => e);
    expect(isXalmaError(err, 'SAFETENSORS_INVALID'), `expected SAFETENSORS_INVALID, got ${String(err)}`).toBe(true);
    const message = (err as Error).message;
    expect(message).toContain(path);
    for (const f of fragments) expect(message).toContain(f);
  }
}

describe('safetensors round trip', () => {
  it('reads back the tensors, shapes and metadata it wrote', async () => {
    const path = nextPath();
    const tensors = [
      { name: 'a', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      { name: 'scalar', shape: [], data: Float32Array.from([Math.PI]) },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
      { name: 'b.weight', shape: [5], data: Float32Array.from([-1, 0.5, 1e-30, 3e38, -0]) },
    ];
    await writeSafetensors(path, tensors, { format: 'pt', note: 'ünïcode' });
    const header = await readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect([...header.tensors.keys()]).toEqual(['a', 'scalar', 'empty', 'b.weight']);
    const back = await readSafetensors(path);
    for (const t of tensors) {
      expect(back.get(t.name)?.shape).toEqual(t.shape);
      expect(Array.from(back.get(t.name)!.data)).toEqual(Array.from(t.data));
    }
  });

  it('reports absolute offsets that point at each tensor\'s bytes in the file', async () => {
    const path = nextPath();
    const tensors = [
      { name: 'x', shape: [3], data: Float32Array.from([1, 2, 3]) },
      { name: 'y', shape: [2, 2], data: Float32Array.from([4, 5, 6, 7]) },
    ];
    await writeSafetensors(path, tensors);
    const header = await readSafetensorsHeader(path);
    const file = await readFile(path);
    expect(header.dataStart).toBe(8 + header.headerBytes);
    expect(header.dataStart % 8).toBe(0);
    expect(header.fileBytes).toBe(file.length);
    const layout = safetensorsBytesLayout(tensors);
    for (const t of tensors) {
      const e = header.tensors.get(t.name)!;
      expect(layout.offsets.find((o) => o.name === t.name)).toEqual({ name: t.name, begin: e.begin, end: e.end });
      const bytes = file.subarray(e.begin, e.end);
      expect(Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)))).toEqual(Array.from(t.data));
    }
  });

  it('reads in chunks of at most chunkBytes (one buffer for a file would cap a module at 4 GiB on Node 20)', async () => {
    const path = nextPath();
    const tensors = [0, 1, 2, 3].map((k) => ({ name: `t${k}`, shape: [3], data: Float32Array.from([k, k + 0.5, -k]) }));
    await writeSafetensors(path, tensors);
    const back = await readSafetensors(path, { chunkBytes: 24 }); // two 12-byte tensors per read
    expect(back.get('t0')!.data.buffer).toBe(back.get('t1')!.data.buffer);
    expect(back.get('t1')!.data.buffer).not.toBe(back.get('t2')!.data.buffer);
    expect(back.get('t2')!.data.buffer).toBe(back.get('t3')!.data.buffer);
    for (const t of tensors) expect([...back.get(t.name)!.data]).toEqual([...t.data]);
  });

  it('views the file data without copying when offsets are 4-aligned', async () => {
    const path = nextPath();
    await writeSafetensors(path, [
      { name: 'p', shape: [2], data: Float32Array.from([1, 2]) },
      { name: 'q', shape: [2], data: Float32Array.from([3, 4]) },
    ]);
    const back = await readSafetensors(path);
    expect(back.get('p')!.data.buffer).toBe(back.get('q')!.data.buffer);
  });

  it('copies a tensor whose data offset is not 4-aligned and still reads it right', async () => {
    const data = Buffer.concat([Buffer.from([0xaa, 0xbb]), f32Bytes([1.5, -2.5])]);
    const path = await rawFile({ odd: { dtype: 'F32', shape: [2], data_offsets: [2, 10] } }, data);
    const back = await readSafetensors(path);
    expect(Array.from(back.get('odd')!.data)).toEqual([1.5, -2.5]);
  });

  it('accepts files whose header is not padded (data start not aligned)', async () => {
    const path = await rawFile({ v: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } }, f32Bytes([7, 8, 9]), { pad: 1 });
    expect(Array.from((await readSafetensors(path)).get('v')!.data)).toEqual([7, 8, 9]);
  });

  it('round-trips arbitrary F32 tensors (property)', async () => {
    const tensorArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return fc.record({
        shape: fc.constant(shape),
        values: fc.array(fc.float({ noNaN: true }), { minLength: n, maxLength: n }),
      });
    });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(
          fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom('0', '17', '__proto__', 'constructor'))
            .filter((s) => s !== '__metadata__'),
          tensorArb,
        ), {
          selector: ([name]) => name,
          maxLength: 5,
        }),
        fc.dictionary(fc.string({ maxLength: 8 }).filter((s) => s !== '__proto__'), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
        async (entries, metadata) => {
          const path = nextPath();
          const tensors = entries.map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.values) }));
          await writeSafetensors(path, tensors, metadata);
          const back = await readSafetensors(path);
          // File order, whatever JSON does with integer-like keys (empty tensors take no bytes,
          // so their place among each other is not recorded).
          expect(new Set(back.keys())).toEqual(new Set(tensors.map((t) => t.name)));
          const nonEmpty = (names: string[]): string[] => names.filter((n) => back.get(n)!.data.length > 0);
          expect(nonEmpty([...back.keys()])).toEqual(nonEmpty(tensors.map((t) => t.name)));
          for (const t of tensors) {
            expect(back.get(t.name)!.shape).toEqual(t.shape);
            expect(Array.from(back.get(t.name)!.data)).toEqual(Array.from(t.data));
          }
          expect((await readSafetensorsHeader(path)).metadata).toEqual(Object.keys(metadata).length ? metadata : {});
          await rm(path);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses to write data that does not match the shape', async () => {
    await expect(writeSafetensors(nextPath(), [{ name: 'w', shape: [2, 2], data: new Float32Array(3) }])).rejects.toThrow(/tensor w/);
  });
});

describe('16-bit float checkpoints (Hugging Face F16 / BF16) read as Float32', () => {
  it('widens F16 and BF16 exactly, subnormals and infinities included', async () => {
    // F16 bits: 1, -2, 2^-24 (smallest subnormal), 65504 (largest), -inf; BF16: 1, -0.5, 3.140625
    const f16 = Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff, 0xfc00]).buffer);
    const bf16 = Buffer.from(new Uint16Array([0x3f80, 0xbf00, 0x4049]).buffer);
    const path = await rawFile({
      h: { dtype: 'F16', shape: [5], data_offsets: [0, 10] },
      b: { dtype: 'BF16', shape: [3], data_offsets: [10, 16] },
    }, Buffer.concat([f16, bf16]));
    const t = await readSafetensors(path);
    expect([...t.get('h')!.data]).toEqual([1, -2, 2 ** -24, 65504, -Infinity]);
    expect([...t.get('b')!.data]).toEqual([1, -0.5, 3.140625]);
  });

  it('f32ToF16 rounds to nearest even and round-trips every finite half', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const finite = all.filter((h) => (h & 0x7c00) !== 0x7c00);
    expect([...f32ToF16(f16ToF32(finite))]).toEqual([...finite]);
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
    expect([...f32ToF16(new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000, 2 ** -26]))]).toEqual([0x3c00, 0x3c02, 0x7c00, 0]);
  });
});

describe('safetensors malformed files -> SAFETENSORS_INVALID', () => {
  it('a file shorter than the 8-byte length prefix', async () => {
    const path = nextPath();
    await writeFile(path, Buffer.from([1, 2, 3]));
    await expectInvalid(path, 'shorter');
  });

  it('a header length beyond the file size', async () => {
    const path = await rawFile({}, Buffer.alloc(0), { headerLength: 1_000_000n });
    await expectInvalid(path, 'exceeds the file size');
  });

  it('a header that is not JSON', async () => {
    await expectInvalid(await rawFile('{"a": [1,', Buffer.alloc(0)), 'not valid JSON');
  });

  it('a header that is JSON but not an object', async () => {
    await expectInvalid(await rawFile('[1, 2]', Buffer.alloc(0)), 'not a JSON object');
  });

  it('an unknown dtype', async () => {
    await expectInvalid(await rawFile({ w: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, f32Bytes([1])), 'tensor w', 'unknown dtype');
  });

  it('a known but unsupported dtype', async () => {
    await expectInvalid(await rawFile({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, Buffer.alloc(8)), 'tensor w', 'F64 is not supported');
  });

  it('an integer tensor asked for as floats', async () => {
    const path = await rawFile({ w: { dtype: 'I8', shape: [4], data_offsets: [0, 4] } }, Buffer.from([1, 2, 3, 4]));
    expect((await readSafetensorsHeader(path)).tensors.get('w')?.dtype).toBe('I8');
    const err = await readSafetensors(path).then(() => undefined, (e: unknown) => e);
    expect(isXalmaError(err, 'SAFETENSORS_INVALID') && err.message).toContain('not a float type');
  });

  it('a shape that is not a list of non-negative integers', async () => {
    await expectInvalid(await rawFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, f32Bytes([1])), 'tensor w', 'shape');
    await expectInvalid(await rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32Bytes([1])), 'tensor w', 'shape');
  });

  it('data_offsets past the end of the data', async () => {
    await expectInvalid(await rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32Bytes([1])), 'tensor w', 'out of range');
  });

  it('data_offsets with begin after end', async () => {
    await expectInvalid(await rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, f32Bytes([1])), 'tensor w', 'out of range');
  });

  it('malformed data_offsets', async () => {
    await expectInvalid(await rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, f32Bytes([1])), 'tensor w', 'data_offsets');
  });

  it('overlapping tensors', async () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    await expectInvalid(await rawFile(header, f32Bytes([1, 2, 3])), 'tensors a and b overlap');
  });

  it('a byte size that is not product(shape) * 4', async () => {
    await expectInvalid(await rawFile({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, f32Bytes([1, 2, 3])), 'tensor w', 'shape [2, 2]', 'needs 16');
  });

  it('non-string metadata values', async () => {
    await expectInvalid(await rawFile({ __metadata__: { n: 1 } }, Buffer.alloc(0)), '__metadata__.n');
  });
});
