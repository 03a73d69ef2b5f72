/**
 * A PEFT LoRA adapter folder: adapter_config.json plus adapter_model.safetensors or
 * adapter_model.bin (a torch zip pickle, read without Python: torch-checkpoint.ts). Checked
 * against the base's dims before anything is written; what changes the math and is not
 * implemented (DoRA, rsLoRA scaling, per-module ranks, biases, non-projection targets) is refused.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { XalmaError } from '../errors.ts';
import { LORA_TARGETS, linearShape, tensorNames, type LlamaDims, type LoraTarget } from '../model/architecture.ts';
import { floatView, openSafetensors, readTensorBytes } from '../model/safetensors.ts';
import { readTorchCheckpoint } from '../model/torch-checkpoint.ts';
import { readJsonFile } from './hf-config.ts';

export interface PeftAdapter {
  dir: string;
  /** The weights file read (adapter_model.safetensors or adapter_model.bin). */
  file: string;
  rank: number;
  scale: number;
  targets: LoraTarget[];
  /** Our name (tensorNames.loraA/B) -> the factor in PEFT layout, A [r, in] or B [out, r], as Float32. */
  read(name: string): Promise<Float32Array>;
  /** Bytes of the factors as stored in the checkpoint, in all and per factor (our names). */
  storedBytes: number;
  factorBytes: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

interface RawTensors {
  shapes: Map<string, { shape: number[]; bytes: number }>;
  read(key: string): Promise<Float32Array>;
  close(): Promise<void>;
}

/** safetensors: headers now, one tensor per read (a real X-ALMA adapter is 4 GB of F16). */
async function openSafetensorsAdapter(file: string): Promise<RawTensors> {
  const { fh, header } = await openSafetensors(file);
  return {
    shapes: new Map([...header.tensors].map(([k, e]) => [k, { shape: e.shape, bytes: e.end - e.begin }])),
    read: async (key) => {
      const e = header.tensors.get(key)!;
      return floatView(file, key, e, await readTensorBytes(fh, e));
    },
    close: () => fh.close(),
  };
}

/** torch pickle: read whole (adapters saved this way are the small, older ones). */
async function openTorchAdapter(file: string): Promise<RawTensors> {
  const all = await readTorchCheckpoint(file);
  return {
    shapes: new Map([...all].map(([k, t]) => [k, { shape: t.shape, bytes: t.data.byteLength }])),
    read: async (key) => all.get(key)!.data,
    close: async () => {},
  };
}

/** base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight (optionally .lora_A.<adapter>.weight). */
const KEY = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.lora_([AB])(?:\.[\w-]+)?\.weight$/;

function unsupported(path: string, detail: string): XalmaError {
  return new XalmaError('CHECKPOINT_UNSUPPORTED', `${path}: ${detail}`, { file: path });
}

function invalid(path: string, detail: string): XalmaError {
  return new XalmaError('CHECKPOINT_INVALID', `${path}: ${detail}`, { file: path });
}

const isEmpty = (v: unknown) => v === undefined || v === null || (typeof v === 'object' && Object.keys(v as object).length === 0);

/** Reads adapter_config.json and checks every key that changes the math. */
export async function readAdapterConfig(dir: string): Promise<{ rank: number; scale: number; targets: LoraTarget[] }> {
  const path = join(dir, 'adapter_config.json');
  const c = (await readJsonFile(path, true))!;
  if (c.peft_type !== 'LORA') throw unsupported(path, `peft_type ${JSON.stringify(c.peft_type)}; only LORA adapters can be imported`);
  if (c.use_dora === true) throw unsupported(path, 'use_dora is true; DoRA adapters are not supported');
  if (c.use_rslora === true) throw unsupported(path, 'use_rslora is true; rsLoRA scaling (alpha / sqrt(r)) is not supported');
  for (const key of ['rank_pattern', 'alpha_pattern']) {
    if (!isEmpty(c[key])) throw unsupported(path, `${key} is not empty; per-module ranks or alphas are not supported`);
  }
  for (const key of ['layer_replication', 'layers_to_transform', 'modules_to_save']) {
    if (!isEmpty(c[key])) throw unsupported(path, `${key} ${JSON.stringify(c[key])} is not supported`);
  }
  if (c.fan_in_fan_out === true) throw unsupported(path, 'fan_in_fan_out is true (Conv1D layout), not a LLaMA adapter');
  if ((c.bias ?? 'none') !== 'none') throw unsupported(path, `bias ${JSON.stringify(c.bias)}; only "none" is supported`);
  const rank = c.r;
  const alpha = c.lora_alpha ?? rank;
  if (!Number.isInteger(rank) || (rank as number) < 1) throw invalid(path, `r ${JSON.stringify(rank)} is not a positive integer`);
  if (typeof alpha !== 'number' || !(alpha > 0)) throw invalid(path, `lora_alpha ${JSON.stringify(alpha)} is not a positive number`);
  const listed = c.target_modules;
  if (!Array.isArray(listed)) throw unsupported(path, `target_modules ${JSON.stringify(listed)}; a list of projection names is required`);
  const other = listed.filter((t) => !(LORA_TARGETS as readonly string[]).includes(t as string));
  if (other.length > 0) throw unsupported(path, `target_modules ${JSON.stringify(other)}; only ${LORA_TARGETS.join(', ')} are supported`);
  // Our order, not the file's: the real X-ALMA config lists them shuffled.
  const targets = LORA_TARGETS.filter((t) => listed.includes(t));
  return { rank: rank as number, scale: alpha / (rank as number), targets };
}

/** Reads an adapter and checks every tensor against the base dims: present, shaped [r, in] / [out, r]. */
export async function readPeftAdapter(dir: string, dims: LlamaDims): Promise<PeftAdapter> {
  const config = await readAdapterConfig(dir);
  const st = join(dir, 'adapter_model.safetensors');
  const bin = join(dir, 'adapter_model.bin');
  const file = (await stat(st).catch(() => null)) ? st : (await stat(bin).catch(() => null)) ? bin : undefined;
  if (!file) throw invalid(dir, 'neither adapter_model.safetensors nor adapter_model.bin is here');
  let raw: RawTensors;
  try {
    raw = file === st ? await openSafetensorsAdapter(file) : await openTorchAdapter(file);
  } catch (err) {
    throw new XalmaError('CHECKPOINT_INVALID', (err as Error).message, { file }, { cause: err });
  }
  try {
    const keyOf = new Map<string, string>();
    const shapes = new Map<string, number[]>();
    let storedBytes = 0;
    const factorBytes = new Map<string, number>();
    for (const [key, t] of raw.shapes) {
      const m = KEY.exec(key);
      if (!m || !(LORA_TARGETS as readonly string[]).includes(m[3])) throw unsupported(file, `tensor ${key} is not a LoRA factor of a LLaMA projection`);
      const layer = Number(m[1]);
      const target = m[3] as LoraTarget;
      if (!config.targets.includes(target)) throw invalid(file, `tensor ${key}: ${target} is not in target_modules`);
      if (layer >= dims.numLayers) throw invalid(file, `tensor ${key}: layer ${layer}, the base has ${dims.numLayers}`);
      const name = m[4] === 'A' ? tensorNames.loraA(layer, target) : tensorNames.loraB(layer, target);
      if (keyOf.has(name)) throw invalid(file, `tensor ${key} appears twice`);
      keyOf.set(name, key);
      shapes.set(name, t.shape);
      storedBytes += t.bytes;
      factorBytes.set(name, t.bytes);
    }
    for (let l = 0; l < dims.numLayers; l++) {
      for (const t of config.targets) {
        const [inDim, outDim] = linearShape(dims, t);
        for (const [name, shape] of [[tensorNames.loraA(l, t), [config.rank, inDim]], [tensorNames.loraB(l, t), [outDim, config.rank]]] as const) {
          const got = shapes.get(name);
          if (!got) throw invalid(file, `LoRA factor for layer ${l} ${t} (${name}) is missing`);
          if (got.length !== 2 || got[0] !== shape[0] || got[1] !== shape[1]) {
            throw invalid(file, `layer ${l} ${t} ${name.endsWith('lora_A') ? 'lora_A' : 'lora_B'} has shape [${got.join(', ')}], the base and r=${config.rank} need [${shape.join(', ')}]`);
          }
        }
      }
    }
    return { dir, file, ...config, storedBytes, factorBytes, read: (name) => raw.read(keyOf.get(name)!), close: () => raw.close() };
  } catch (err) {
    await raw.close();
    throw err;
  }
}
