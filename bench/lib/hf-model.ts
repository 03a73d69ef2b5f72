/**
 * The peer's copy of the model: a Hugging Face-style folder that transformers.js loads offline,
 * holding the same graph our `merged` mode runs for one group.
 *
 *   <dir>/config.json              model_type llama, dims of the package
 *   <dir>/generation_config.json   bos/eos/pad ids
 *   <dir>/tokenizer.json           the package's own tokenizer, byte for byte
 *   <dir>/tokenizer_config.json
 *   <dir>/onnx/model.onnx          mergedModeGraph's op graph (same norm, last-position logits)
 *   <dir>/onnx/model.onnx_data     its weights (base with the group's module merged in)
 *
 * transformers.js on Node loads `onnx/model.onnx` by path and lets onnxruntime resolve the
 * external data next to it (src/models/session.js: data given as paths is not passed as
 * buffers), so the data file only has to sit beside the graph under the name the library
 * expects (`model.onnx_data`, utils/model-loader.js). We write that file as safetensors: ONNX
 * external data is (location, offset, length), so any file with known offsets serves, and
 * the project already has a careful writer for it.
 *
 * Built once per package (a stamp records the source files' sha256) under bench/.models/.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDecoderGraph } from '../../src/model/graph-builder.ts';
import { ENGINE_NORM } from '../../src/engine/graphs.ts';
import { mergeModule } from '../../src/model/merge.ts';
import { loadModelPackage } from '../../src/model/package.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type NamedF32Tensor } from '../../src/model/safetensors.ts';

const DATA_FILE = 'model.onnx_data';

export interface HfModelOptions {
  packageDir: string;
  outDir: string;
  /** The group whose module is merged in (the peer serves one merged model, as `merged` mode does per group). */
  group: number;
}

/** Source files' checksums (from the manifest): the folder is rebuilt when any of them change. */
async function stampOf(packageDir: string, group: number): Promise<string> {
  const manifest = JSON.parse(await readFile(join(packageDir, 'manifest.json'), 'utf8')) as { files: Array<{ path: string; sha256: string }>; groups: Array<{ id: number; module: string }> };
  const module = manifest.groups.find((g) => g.id === group)?.module;
  const wanted = new Set(['base.safetensors', 'tokenizer.json', module]);
  const sums = manifest.files.filter((f) => wanted.has(f.path)).map((f) => `${f.path}:${f.sha256}`);
  return JSON.stringify({ format: 1, group, sums });
}

/** Makes the folder if it is missing or stale; returns its path. */
export async function ensureHfModel(opts: HfModelOptions): Promise<string> {
  const stampPath = join(opts.outDir, 'xalma-source.json');
  const stamp = await stampOf(opts.packageDir, opts.group);
  if (existsSync(stampPath) && (await readFile(stampPath, 'utf8')) === stamp) return opts.outDir;

  const t0 = Date.now();
  await rm(opts.outDir, { recursive: true, force: true });
  await mkdir(join(opts.outDir, 'onnx'), { recursive: true });
  const pkg = await loadModelPackage(opts.packageDir, { verifyChecksums: false });
  const { dims, tokenizer } = pkg.manifest;

  const base = await readSafetensors(pkg.weightsPath);
  const module = await readSafetensors(pkg.modulePath(opts.group));
  const merged = mergeModule(base, module, dims, pkg.manifest.lora);

  // First pass: which tensors the graph wants, in order; then write them and point at them.
  const wanted: NamedF32Tensor[] = [];
  const collect = (name: string) => {
    const t = merged.get(name);
    if (!t) throw new Error(`merged weights lack ${name}`);
    wanted.push({ name, shape: t.shape, data: t.data });
    return { raw: new Uint8Array(0) };
  };
  buildDecoderGraph({ dims, lora: { kind: 'none' }, logits: 'last', norm: ENGINE_NORM, weights: collect });
  const dataPath = join(opts.outDir, 'onnx', DATA_FILE);
  await writeSafetensors(dataPath, wanted, { purpose: 'onnx external data for model.onnx' });
  const header = await readSafetensorsHeader(dataPath);
  const graph = buildDecoderGraph({
    dims,
    lora: { kind: 'none' },
    logits: 'last',
    norm: ENGINE_NORM,
    weights: (name) => {
      const e = header.tensors.get(name)!;
      return { external: { location: DATA_FILE, offset: e.begin, length: e.end - e.begin } };
    },
  });
  await writeFile(join(opts.outDir, 'onnx', 'model.onnx'), graph);

  const config = {
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    vocab_size: dims.vocabSize,
    hidden_size: dims.hiddenSize,
    intermediate_size: dims.intermediateSize,
    num_hidden_layers: dims.numLayers,
    num_attention_heads: dims.numHeads,
    num_key_value_heads: dims.numKvHeads,
    head_dim: dims.headDim,
    max_position_embeddings: dims.maxPositions,
    rms_norm_eps: dims.rmsNormEps,
    rope_theta: dims.ropeTheta,
    hidden_act: 'silu',
    bos_token_id: tokenizer.bosId,
    eos_token_id: tokenizer.eosId,
    pad_token_id: tokenizer.padId,
    torch_dtype: 'float32',
    use_cache: true,
    'transformers.js_config': { dtype: 'fp32', use_external_data_format: { 'model.onnx': 1 } },
  };
  await writeFile(join(opts.outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  await writeFile(
    join(opts.outDir, 'generation_config.json'),
    JSON.stringify({ bos_token_id: tokenizer.bosId, eos_token_id: tokenizer.eosId, pad_token_id: tokenizer.padId, do_sample: false }, null, 2) + '\n',
  );
  await copyFile(pkg.tokenizerPath, join(opts.outDir, 'tokenizer.json'));
  const tokenizerConfig = {
    tokenizer_class: 'LlamaTokenizer',
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: '<unk>',
    add_bos_token: true,
    add_eos_token: false,
    // Our decoder keeps " ." as typed (src/engine/tokenizer.ts); so must the peer's.
    clean_up_tokenization_spaces: false,
    legacy: false,
    model_max_length: dims.maxPositions,
  };
  await writeFile(join(opts.outDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
  await writeFile(stampPath, stamp);
  console.error(`made transformers.js model folder in ${Date.now() - t0} ms at ${opts.outDir}`);
  return opts.outDir;
}
