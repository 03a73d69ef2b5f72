/**
 * The Hugging Face fixtures in ../shared/fixtures (tiny LLaMA checkpoints with goldens from
 * transformers + PEFT, checked by llama2.c; see their README). Tests skip with a printed reason
 * when they are absent; they are never copied into this repository.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { floatView, openSafetensors, readTensorBytes } from '../../src/model/safetensors.ts';

export const FIXTURES_DIR = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
export const SHARDED = join(FIXTURES_DIR, 'tiny-random-llama2-f16-sharded');
export const BASARAN = join(FIXTURES_DIR, 'tiny-random-llama-basaran');

/** true when the fixtures are here; otherwise prints why the tests that need them skip. */
export function haveFixtures(what: string): boolean {
  const ok = existsSync(join(SHARDED, 'base', 'config.json'));
  if (!ok) console.warn(`skipping ${what}: ${FIXTURES_DIR} is absent (the shared fixtures sit beside the repository in CI)`);
  return ok;
}

export interface GoldenCase {
  name: string;
  input_ids: number[];
  logits_positions: number[];
  argmax_per_position: number[];
  greedy_continuation_ids: number[];
  /** [positions, vocab] */
  logits: Float32Array;
}

export interface Golden {
  texts: string[];
  cases: GoldenCase[];
}

/** golden_<name>_hf.json + .safetensors of a fixture folder (name: base, adapter-group-a, ...). */
export async function readGolden(dir: string, name: string): Promise<Golden> {
  const stem = name === '' ? 'golden_hf' : `golden_${name}_hf`;
  const json = JSON.parse(await readFile(join(dir, `${stem}.json`), 'utf8')) as { texts?: string[]; cases: Array<Omit<GoldenCase, 'logits'> & { logits_tensor: string }> };
  // The files also hold I64 positions tensors: read only the float logits.
  const path = join(dir, `${stem}.safetensors`);
  const { fh, header } = await openSafetensors(path);
  const tensors = new Map<string, Float32Array>();
  try {
    for (const [n, e] of header.tensors) if (e.dtype === 'F32') tensors.set(n, floatView(path, n, e, await readTensorBytes(fh, e)));
  } finally {
    await fh.close();
  }
  return {
    texts: json.texts ?? [],
    cases: json.cases.map((c) => ({ ...c, logits: tensors.get(c.logits_tensor)! })),
  };
}

/** max over elements of |a - b| / (atol + rtol * |b|): <= 1 means within tolerance. */
export function toleranceRatio(a: Float32Array, b: Float32Array, atol: number, rtol: number): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i])));
  return worst;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
