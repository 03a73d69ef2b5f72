/**
 * A model package written back out as a Hugging Face checkpoint, the way X-ALMA is published:
 * config.json, an F16 base in two safetensors shards with model.safetensors.index.json (one
 * layer split across them), tokenizer.json, and one PEFT adapter folder per group
 * (adapter_config.json + F16 adapter_model.safetensors). The import benchmark imports it back.
 * Built once per package under bench/.models/ (not committed).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LORA_TARGETS, baseTensorShapes, linearShape, tensorNames } from '../../src/model/architecture.ts';
import { hfNameOf, hfSection } from '../../src/import/hf-names.ts';
import { f32ToF16 } from '../../src/model/half.ts';
import { loadModelPackage } from '../../src/model/package.ts';
import { readSafetensors, SafetensorsWriter } from '../../src/model/safetensors.ts';
import { transpose } from '../../src/model/weight-storage.ts';

const LINEARS = new Set<string>([tensorNames.lmHead]);
/** Our name -> HF name, and whether the tensor is a linear stored [in, out] here. */
function hfName(ours: string): { name: string; linear: boolean } {
  return { name: hfNameOf(ours), linear: LINEARS.has(ours) || /\.[a-z]+_proj\.weight$/.test(ours) };
}

function f16Bytes(a: Float32Array): Uint8Array {
  const h = f32ToF16(a);
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
}

export async function ensureHfCheckpoint(packageDir: string, outDir: string, groups: number[]): Promise<{ base: string; adapters: Array<{ group: number; dir: string }> }> {
  const base = join(outDir, 'base');
  const adapters = groups.map((g) => ({ group: g, dir: join(outDir, `adapter-group${g}`) }));
  if (existsSync(join(outDir, 'done'))) return { base, adapters };
  await rm(outDir, { recursive: true, force: true });
  await mkdir(base, { recursive: true });
  const pkg = await loadModelPackage(packageDir, { verifyChecksums: false });
  const { dims, tokenizer, lora } = pkg.manifest;
  await writeFile(join(base, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: dims.hiddenSize,
    intermediate_size: dims.intermediateSize, num_hidden_layers: dims.numLayers, num_attention_heads: dims.numHeads,
    num_key_value_heads: dims.numKvHeads, max_position_embeddings: dims.maxPositions, rms_norm_eps: dims.rmsNormEps,
    rope_theta: dims.ropeTheta, vocab_size: dims.vocabSize, bos_token_id: tokenizer.bosId, eos_token_id: tokenizer.eosId,
    pad_token_id: tokenizer.padId, tie_word_embeddings: false, torch_dtype: 'float16', rope_scaling: null,
  }, null, 2));
  await copyFile(pkg.tokenizerPath, join(base, 'tokenizer.json'));

  const tensors = await readSafetensors(pkg.weightsPath);
  const names = baseTensorShapes(dims).map(([n]) => n);
  // Two shards, split in the middle of a layer (as real shards are).
  const cut = Math.floor(names.length / 2);
  const weightMap: Record<string, string> = {};
  for (const [k, part] of [names.slice(0, cut), names.slice(cut)].entries()) {
    const file = `model-0000${k + 1}-of-00002.safetensors`;
    const specs = part.map((n) => ({ name: hfName(n).name, dtype: 'F16' as const, shape: hfName(n).linear ? [...tensors.get(n)!.shape].reverse() : tensors.get(n)!.shape }));
    const writer = await SafetensorsWriter.create(join(base, file), specs);
    for (const n of part) {
      const t = tensors.get(n)!;
      const data = hfName(n).linear ? transpose(t.data, t.shape[0], t.shape[1]) : t.data;
      await writer.write(hfName(n).name, f16Bytes(data));
      weightMap[hfName(n).name] = file;
    }
    await writer.close();
  }
  await writeFile(join(base, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));

  for (const a of adapters) {
    await mkdir(a.dir, { recursive: true });
    await writeFile(join(a.dir, 'adapter_config.json'), JSON.stringify({
      peft_type: 'LORA', r: lora.rank, lora_alpha: lora.rank * lora.scale, target_modules: [...lora.targets], bias: 'none',
      fan_in_fan_out: false, use_dora: false, use_rslora: false, rank_pattern: {}, alpha_pattern: {}, task_type: 'CAUSAL_LM',
    }, null, 2));
    const module = await readSafetensors(pkg.modulePath(a.group));
    const specs: Array<{ name: string; dtype: 'F16'; shape: number[] }> = [];
    const data: Float32Array[] = [];
    for (let l = 0; l < dims.numLayers; l++) {
      for (const t of LORA_TARGETS) {
        const [i, o] = linearShape(dims, t);
        const key = `base_model.model.model.layers.${l}.${hfSection(t)}.${t}`;
        specs.push({ name: `${key}.lora_A.weight`, dtype: 'F16', shape: [lora.rank, i] }, { name: `${key}.lora_B.weight`, dtype: 'F16', shape: [o, lora.rank] });
        data.push(module.get(tensorNames.loraA(l, t))!.data, module.get(tensorNames.loraB(l, t))!.data);
      }
    }
    const writer = await SafetensorsWriter.create(join(a.dir, 'adapter_model.safetensors'), specs);
    for (let k = 0; k < specs.length; k++) await writer.write(specs[k].name, f16Bytes(data[k]));
    await writer.close();
  }
  await writeFile(join(outDir, 'done'), '');
  return { base, adapters };
}
