/**
 * export-gguf on the demo package, read back with @huggingface/gguf: llama metadata, the
 * tokenizer arrays, every tensor's name/shape/type, and the weights themselves against the
 * package (transposed to [out, in]; q/k rows in llama.cpp's RoPE order; merged = merge.ts's
 * W + scale·B·A, an implementation of its own; the adapter's factors and alpha).
 */
import { gguf } from '@huggingface/gguf';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterPathFor, exportGguf, permuteRope } from '../../../src/export/llama-gguf.ts';
import { dequantizeQ8_0, GgmlType } from '../../../src/export/ggml-quants.ts';
import { TokenType } from '../../../src/export/gguf-vocab.ts';
import { LORA_TARGETS, linearShape, tensorNames } from '../../../src/model/architecture.ts';
import { mergeModule } from '../../../src/model/merge.ts';
import { loadModelPackage, type ModelPackage } from '../../../src/model/package.ts';
import { readSafetensors, type F32Tensor } from '../../../src/model/safetensors.ts';
import { transpose } from '../../../src/model/weight-storage.ts';
import { DEFAULT_MODEL_DIR } from '../../../src/paths.ts';

let dir: string;
let pkg: ModelPackage;
let base: Map<string, F32Tensor>;
const GROUP = 3;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xalma-export-'));
  pkg = await loadModelPackage(DEFAULT_MODEL_DIR, { verifyChecksums: false });
  base = await readSafetensors(pkg.weightsPath);
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

interface Read { file: Buffer; infos: Map<string, { shape: number[]; dtype: number; at: number }>; meta: Record<string, unknown> }

async function readBack(path: string): Promise<Read> {
  const { metadata, tensorInfos, tensorDataOffset } = await gguf(path, { allowLocalFile: true });
  const infos = new Map(tensorInfos.map((t) => [t.name, { shape: t.shape.map(Number), dtype: t.dtype as number, at: Number(tensorDataOffset) + Number(t.offset) }]));
  return { file: await readFile(path), infos, meta: metadata as unknown as Record<string, unknown> };
}

function f32(r: Read, name: string): Float32Array {
  const t = r.infos.get(name)!;
  const n = t.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(Uint8Array.from(r.file.subarray(t.at, t.at + 4 * n)).buffer);
}

/** Bit-for-bit equality of float arrays (vitest's deep equality takes seconds on 500k elements). */
function expectSame(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  expect(Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(0);
}

/** Package weight [in, out] -> HF [out, in]. */
function hf(name: string, tensors = base): Float32Array {
  const t = tensors.get(name)!;
  return transpose(t.data, t.shape[0], t.shape[1]);
}

describe('permuteRope', () => {
  it('reorders each head\'s rows from rotate-half (first half, second half) to interleaved pairs', () => {
    // 2 heads of 4 rows, 1 column: head rows [a0 a1 b0 b1] -> [a0 b0 a1 b1]
    const w = Float32Array.of(0, 1, 2, 3, 10, 11, 12, 13);
    expect(Array.from(permuteRope(w, 8, 1, 2))).toEqual([0, 2, 1, 3, 10, 12, 11, 13]);
    // columns move with their row
    expect(Array.from(permuteRope(Float32Array.of(0, 0, 1, 1, 2, 2, 3, 3), 4, 2, 1))).toEqual([0, 0, 2, 2, 1, 1, 3, 3]);
  });
});

describe('export-gguf of the demo package', () => {
  it('base + adapter: llama metadata, tokenizer arrays and every tensor with its GGUF name, shape and type', async () => {
    const out = join(dir, 'demo.gguf');
    const r = await exportGguf({ modelDir: pkg.dir, group: GROUP, merged: false, dtype: 'f32', out });
    expect(r.adapter?.path).toBe(join(dir, `demo.lora-group${GROUP}.gguf`));
    const g = await readBack(out);
    const d = pkg.manifest.dims;
    expect(g.meta).toMatchObject({
      'general.architecture': 'llama', 'general.file_type': 0,
      'llama.block_count': d.numLayers, 'llama.embedding_length': d.hiddenSize, 'llama.feed_forward_length': d.intermediateSize,
      'llama.attention.head_count': d.numHeads, 'llama.attention.head_count_kv': d.numKvHeads, 'llama.rope.dimension_count': d.headDim,
      'llama.context_length': d.maxPositions, 'llama.rope.freq_base': d.ropeTheta,
      'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.bos_token_id': 1, 'tokenizer.ggml.eos_token_id': 2, 'tokenizer.ggml.unknown_token_id': 0,
    });
    expect(g.meta['llama.attention.layer_norm_rms_epsilon']).toBeCloseTo(d.rmsNormEps, 10);
    const tokens = g.meta['tokenizer.ggml.tokens'] as string[];
    const types = g.meta['tokenizer.ggml.token_type'] as number[];
    const scores = g.meta['tokenizer.ggml.scores'] as number[];
    expect(tokens.length).toBe(d.vocabSize);
    expect([tokens[0], tokens[1], tokens[2], tokens[3 + 0x0a]]).toEqual(['<unk>', '<s>', '</s>', '<0x0A>']);
    expect([types[0], types[1], types[2], types[3 + 0x0a]]).toEqual([TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL, TokenType.BYTE]);
    // scores follow the merge order: the first merge's piece outranks the last one's
    const json = JSON.parse(await readFile(pkg.tokenizerPath, 'utf8')) as { model: { vocab: Record<string, number>; merges: string[] } };
    const piece = (m: string) => json.model.vocab[m.replace(' ', '')];
    expect(scores[piece(json.model.merges[0])]).toBe(-1);
    expect(scores[piece(json.model.merges.at(-1)!)]).toBeLessThan(scores[piece(json.model.merges[0])]);

    expect(g.infos.size).toBe(3 + 9 * d.numLayers);
    expect(g.infos.get('token_embd.weight')).toMatchObject({ shape: [d.hiddenSize, d.vocabSize], dtype: GgmlType.F32 });
    expect(g.infos.get('output.weight')).toMatchObject({ shape: [d.hiddenSize, d.vocabSize], dtype: GgmlType.F32 });
    for (const t of LORA_TARGETS) {
      const [i, o] = linearShape(d, t);
      expect(g.infos.get(`blk.${d.numLayers - 1}.${{ q_proj: 'attn_q', k_proj: 'attn_k', v_proj: 'attn_v', o_proj: 'attn_output', gate_proj: 'ffn_gate', up_proj: 'ffn_up', down_proj: 'ffn_down' }[t]}.weight`)?.shape).toEqual([i, o]);
    }
  });

  it('base weights: embeddings and norms as they are, linears as W [out, in], q and k rows permuted per (KV) head', async () => {
    const out = join(dir, 'demo-w.gguf');
    await exportGguf({ modelDir: pkg.dir, group: GROUP, merged: false, dtype: 'f32', out });
    const g = await readBack(out);
    const d = pkg.manifest.dims;
    expectSame(f32(g, 'token_embd.weight'), base.get(tensorNames.embed)!.data);
    expectSame(f32(g, 'blk.1.attn_norm.weight'), base.get(tensorNames.inputNorm(1))!.data);
    expectSame(f32(g, 'blk.1.ffn_norm.weight'), base.get(tensorNames.postAttnNorm(1))!.data);
    expectSame(f32(g, 'output.weight'), hf(tensorNames.lmHead));
    expectSame(f32(g, 'blk.2.attn_v.weight'), hf(tensorNames.linear(2, 'v_proj')));
    expectSame(f32(g, 'blk.2.ffn_down.weight'), hf(tensorNames.linear(2, 'down_proj')));
    // q: row h*hd + 2j + s of the export is row h*hd + s*hd/2 + j of HF's W
    const q = f32(g, 'blk.0.attn_q.weight');
    const wq = hf(tensorNames.linear(0, 'q_proj'));
    const hd = d.headDim;
    const row = (w: Float32Array, r: number) => Array.from(w.subarray(r * d.hiddenSize, (r + 1) * d.hiddenSize));
    expect(row(q, 1 * hd + 2 * 3 + 1)).toEqual(row(wq, 1 * hd + hd / 2 + 3));
    expect(row(q, 2 * 5)).toEqual(row(wq, 5));
    // k: permuted within its numKvHeads heads
    const k = f32(g, 'blk.0.attn_k.weight');
    expectSame(k, permuteRope(hf(tensorNames.linear(0, 'k_proj')), d.numKvHeads * hd, d.hiddenSize, d.numKvHeads));
    expect(k).not.toEqual(hf(tensorNames.linear(0, 'k_proj')));
  });

  it('adapter: general.type adapter, lora alpha = scale * rank, A and B as PEFT stores them, B of q and k row-permuted', async () => {
    const out = join(dir, 'demo-a.gguf');
    await exportGguf({ modelDir: pkg.dir, group: GROUP, merged: false, dtype: 'f32', out });
    const a = await readBack(adapterPathFor(out, GROUP));
    const { dims: d, lora } = pkg.manifest;
    expect(a.meta).toMatchObject({ 'general.architecture': 'llama', 'general.type': 'adapter', 'adapter.type': 'lora', 'adapter.lora.alpha': lora.scale * lora.rank });
    expect(a.infos.size).toBe(2 * lora.targets.length * d.numLayers);
    const module = await readSafetensors(pkg.modulePath(GROUP));
    expect(a.infos.get('blk.1.ffn_up.weight.lora_a')?.shape).toEqual([d.hiddenSize, lora.rank]);
    expect(a.infos.get('blk.1.ffn_up.weight.lora_b')?.shape).toEqual([lora.rank, d.intermediateSize]);
    expectSame(f32(a, 'blk.1.ffn_up.weight.lora_a'), module.get(tensorNames.loraA(1, 'up_proj'))!.data);
    expectSame(f32(a, 'blk.1.ffn_up.weight.lora_b'), module.get(tensorNames.loraB(1, 'up_proj'))!.data);
    expectSame(f32(a, 'blk.1.attn_q.weight.lora_a'), module.get(tensorNames.loraA(1, 'q_proj'))!.data);
    const bq = module.get(tensorNames.loraB(1, 'q_proj'))!.data;
    expectSame(f32(a, 'blk.1.attn_q.weight.lora_b'), permuteRope(bq, d.numHeads * d.headDim, lora.rank, d.numHeads));
  });

  it('--merged: one file whose linears equal merge.ts\'s W + scale·B·A (then permuted for q and k)', async () => {
    const out = join(dir, 'demo-m.gguf');
    const r = await exportGguf({ modelDir: pkg.dir, group: GROUP, merged: true, dtype: 'f32', out });
    expect(r.adapter).toBeUndefined();
    const g = await readBack(out);
    const { dims: d, lora } = pkg.manifest;
    const merged = mergeModule(base, await readSafetensors(pkg.modulePath(GROUP)), d, lora);
    const close = (x: Float32Array, y: Float32Array) => { let m = 0; for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i])); return m; };
    expect(close(f32(g, 'blk.3.ffn_gate.weight'), hf(tensorNames.linear(3, 'gate_proj'), merged))).toBeLessThan(1e-6);
    expect(close(f32(g, 'blk.3.ffn_gate.weight'), hf(tensorNames.linear(3, 'gate_proj')))).toBeGreaterThan(1e-3);
    const qm = permuteRope(hf(tensorNames.linear(1, 'q_proj'), merged), d.numHeads * d.headDim, d.hiddenSize, d.numHeads);
    expect(close(f32(g, 'blk.1.attn_q.weight'), qm)).toBeLessThan(1e-6);
  });

  it('q8_0: the linears and head are Q8_0 blocks that dequantize to within a step of the fp32 weights; embeddings stay F32', async () => {
    const out = join(dir, 'demo-q8.gguf');
    await exportGguf({ modelDir: pkg.dir, group: GROUP, merged: true, dtype: 'q8_0', out });
    const g = await readBack(out);
    const d = pkg.manifest.dims;
    expect(g.meta['general.file_type']).toBe(7);
    expect(g.infos.get('token_embd.weight')?.dtype).toBe(GgmlType.F32);
    const t = g.infos.get('blk.0.attn_v.weight')!;
    expect(t.dtype).toBe(GgmlType.Q8_0);
    const [inDim, outDim] = linearShape(d, 'v_proj');
    const bytes = (inDim * outDim / 32) * 34;
    const y = dequantizeQ8_0(Uint8Array.from(g.file.subarray(t.at, t.at + bytes)));
    const w = hf(tensorNames.linear(0, 'v_proj'), mergeModule(base, await readSafetensors(pkg.modulePath(GROUP)), d, pkg.manifest.lora));
    for (let o = 0; o < outDim; o += 7) {
      for (let b = 0; b < inDim; b += 32) {
        const blk = w.subarray(o * inDim + b, o * inDim + b + 32);
        const step = Math.max(...Array.from(blk, Math.abs)) / 127;
        for (let j = 0; j < 32; j++) expect(Math.abs(y[o * inDim + b + j] - blk[j])).toBeLessThanOrEqual(step * (0.5 + 127 * 2 ** -11) + 1e-9);
      }
    }
  });
});
