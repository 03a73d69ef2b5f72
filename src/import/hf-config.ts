/**
 * A Hugging Face LlamaForCausalLM folder's config.json (and generation_config.json) read into
 * our dims and special-token ids. Every value comes from the checkpoint; what this engine cannot
 * run (rope scaling, biases, another activation, tensor-parallel slicing) is refused by name
 * rather than silently run wrong.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { XalmaError } from '../errors.ts';
import type { LlamaDims } from '../model/architecture.ts';

export interface HfLlamaConfig {
  dims: LlamaDims;
  bosId: number;
  eosId: number;
  padId: number;
  tiedEmbeddings: boolean;
  /** config.json torch_dtype ("float16", "bfloat16", "float32"). */
  torchDtype: string;
  /** sha256 of config.json as read. */
  sha256: string;
}

function invalid(path: string, detail: string): XalmaError {
  return new XalmaError('CHECKPOINT_INVALID', `${path}: ${detail}`, { file: path });
}

function unsupported(path: string, detail: string): XalmaError {
  return new XalmaError('CHECKPOINT_UNSUPPORTED', `${path}: ${detail}`, { file: path });
}

export async function readJsonFile(path: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
    throw new XalmaError('CHECKPOINT_INVALID', `${path}: ${(err as Error).message}`, { file: path }, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new XalmaError('CHECKPOINT_INVALID', `${path}: not valid JSON (${(err as Error).message})`, { file: path }, { cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid(path, 'not a JSON object');
  return json as Record<string, unknown>;
}

/** An id field: an integer, or (as newer configs allow for EOS) a list whose first entry is taken. */
function idOf(v: unknown): number | undefined {
  const x = Array.isArray(v) ? v[0] : v;
  return Number.isInteger(x) && (x as number) >= 0 ? (x as number) : undefined;
}

export async function readHfConfig(dir: string): Promise<HfLlamaConfig> {
  const path = join(dir, 'config.json');
  const raw = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new XalmaError('CHECKPOINT_INVALID', `${path}: ${err.message}${err.code === 'ENOENT' ? ' (is this a Hugging Face model folder?)' : ''}`, { file: path }, { cause: err });
  });
  const c = (await readJsonFile(path, true))!;
  const gen = (await readJsonFile(join(dir, 'generation_config.json'), false)) ?? {};

  if (c.model_type !== 'llama') throw unsupported(path, `model_type ${JSON.stringify(c.model_type)}; only "llama" (LlamaForCausalLM) can be imported`);
  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (!Number.isInteger(v) || (v as number) < 1) throw invalid(path, `${key} ${JSON.stringify(c[key])} is not a positive integer`);
    return v as number;
  };
  const num = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) throw invalid(path, `${key} ${JSON.stringify(c[key])} is not a positive number`);
    return v;
  };
  if ((c.hidden_act ?? 'silu') !== 'silu') throw unsupported(path, `hidden_act ${JSON.stringify(c.hidden_act)}; the graph implements SwiGLU with silu`);
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) throw unsupported(path, `rope_scaling ${JSON.stringify(c.rope_scaling)}; only plain RoPE is implemented`);
  if (c.attention_bias === true || c.mlp_bias === true) throw unsupported(path, 'attention_bias / mlp_bias; LLaMA-2 linears have no bias');
  if ((c.pretraining_tp ?? 1) !== 1) throw unsupported(path, `pretraining_tp ${JSON.stringify(c.pretraining_tp)}`);

  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  const headDim = c.head_dim === undefined || c.head_dim === null ? hiddenSize / numHeads : int('head_dim');
  if (!Number.isInteger(headDim)) throw invalid(path, `hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  if (numHeads % numKvHeads !== 0) throw invalid(path, `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  const dims: LlamaDims = {
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    maxPositions: int('max_position_embeddings'),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
  };
  const bosId = idOf(gen.bos_token_id) ?? idOf(c.bos_token_id) ?? 1;
  const eosId = idOf(gen.eos_token_id) ?? idOf(c.eos_token_id) ?? 2;
  // LLaMA-2 has no pad token; the unk id 0 is the usual stand-in (never attended to).
  const padId = idOf(c.pad_token_id) ?? idOf(gen.pad_token_id) ?? 0;
  for (const [k, v] of [['bos_token_id', bosId], ['eos_token_id', eosId], ['pad_token_id', padId]] as const) {
    if (v >= dims.vocabSize) throw invalid(path, `${k} ${v} is outside the vocabulary (${dims.vocabSize})`);
  }
  return {
    dims,
    bosId,
    eosId,
    padId,
    tiedEmbeddings: c.tie_word_embeddings === true,
    torchDtype: typeof c.torch_dtype === 'string' ? c.torch_dtype : 'unknown',
    sha256: createHash('sha256').update(raw).digest('hex'),
  };
}
