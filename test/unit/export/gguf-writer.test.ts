/** The GGUF writer, read back by an independent parser (@huggingface/gguf). */
import { gguf } from '@huggingface/gguf';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgmlType } from '../../../src/export/ggml-quants.ts';
import { tensorBytes, writeGguf, type GgufValue } from '../../../src/export/gguf-writer.ts';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'xalma-gguf-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('writeGguf', () => {
  it('writes a v3 file whose metadata, tensor infos and 32-aligned data an independent parser reads back', async () => {
    const path = join(dir, 'small.gguf');
    const a = Float32Array.from({ length: 6 }, (_, i) => i + 0.5); // [2, 3] row-major -> ne [3, 2]
    const b = Float32Array.from({ length: 5 }, (_, i) => -i); // 20 bytes: the next tensor must be re-aligned
    const c = Float32Array.from({ length: 64 }, (_, i) => i / 64);
    const metadata = new Map<string, GgufValue>([
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['test.u32', { type: 'u32', value: 4_000_000_000 }],
      ['test.i32', { type: 'i32', value: -7 }],
      ['test.f32', { type: 'f32', value: 0.25 }],
      ['test.bool', { type: 'bool', value: true }],
      ['test.strings', { type: 'string[]', value: ['▁a', '<0x0A>', 'ü'] }],
      ['test.floats', { type: 'f32[]', value: Float32Array.of(-1, 0.5) }],
      ['test.ints', { type: 'i32[]', value: Int32Array.of(1, -2, 6) }],
    ]);
    const bytes = (x: Float32Array) => new Uint8Array(x.buffer);
    const size = await writeGguf(path, metadata, [
      { name: 'a', ne: [3, 2], type: GgmlType.F32, data: () => bytes(a) },
      { name: 'b', ne: [5], type: GgmlType.F32, data: () => bytes(b) },
      { name: 'c.q8', ne: [32, 2], type: GgmlType.Q8_0, data: () => new Uint8Array(68).fill(7) },
      { name: 'c', ne: [64], type: GgmlType.F16, data: () => new Uint8Array(128).fill(1) },
    ]);
    const file = await readFile(path);
    expect(file.length).toBe(size);
    expect(file.subarray(0, 4).toString('latin1')).toBe('GGUF');

    const { metadata: m, tensorInfos, tensorDataOffset } = await gguf(path, { allowLocalFile: true });
    expect(m.version).toBe(3);
    expect(m.tensor_count).toBe(4n);
    expect(m.kv_count).toBe(8n);
    expect(m['general.architecture']).toBe('llama');
    const mm = m as unknown as Record<string, unknown>;
    expect(mm['test.u32']).toBe(4_000_000_000);
    expect(mm['test.i32']).toBe(-7);
    expect(mm['test.f32']).toBe(0.25);
    expect(mm['test.bool']).toBe(true);
    expect(mm['test.strings']).toEqual(['▁a', '<0x0A>', 'ü']);
    expect(mm['test.floats']).toEqual([-1, 0.5]);
    expect(mm['test.ints']).toEqual([1, -2, 6]);
    expect(tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype])).toEqual([['a', [3, 2], 0], ['b', [5], 0], ['c.q8', [32, 2], 8], ['c', [64], 1]]);
    expect(Number(tensorDataOffset) % 32).toBe(0);
    expect(tensorInfos.map((t) => Number(t.offset))).toEqual([0, 32, 64, 160]);
    const at = (i: number, n: number) => file.subarray(Number(tensorDataOffset) + Number(tensorInfos[i].offset), Number(tensorDataOffset) + Number(tensorInfos[i].offset) + n);
    expect(new Float32Array(Uint8Array.from(at(0, 24)).buffer)).toEqual(a);
    expect(new Float32Array(Uint8Array.from(at(1, 20)).buffer)).toEqual(b);
    expect(at(2, 68).every((v) => v === 7)).toBe(true);
    expect((size - Number(tensorDataOffset)) % 32).toBe(0);
  });

  it('refuses a tensor whose bytes do not match its type and shape, and a block type whose ne[0] is not whole blocks', async () => {
    await expect(writeGguf(join(dir, 'bad.gguf'), new Map(), [{ name: 'x', ne: [4], type: GgmlType.F32, data: () => new Uint8Array(12) }])).rejects.toThrow(/12 bytes.*16/);
    expect(() => tensorBytes(GgmlType.Q4_0, [48, 2])).toThrow(/multiple of the 32-element block/);
    expect(tensorBytes(GgmlType.Q4_0, [64, 3])).toBe(6 * 18);
  });
});
