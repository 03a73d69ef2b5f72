/**
 * `xalma-serve export-gguf`: a package (or one group of it) as GGUF files llama.cpp loads
 * (llama-gguf.ts). Used by the llama.cpp peer benchmark and its correctness oracle.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR } from '../paths.ts';
import { adapterPathFor, exportGguf, GGUF_DTYPES, type GgufDtype } from './llama-gguf.ts';

export const EXPORT_GGUF_USAGE = `usage: xalma-serve export-gguf [--model DIR] --group N [--merged] [--dtype f32|f16|q8_0|q4_0] --out FILE.gguf

Writes a llama-architecture GGUF (llama.cpp, node-llama-cpp, ollama) of a model package:
  --model DIR    the package (default: the embedded demo model)
  --group N      the language group (1-8) whose LoRA module is exported
  --merged       one file: the base with group N's LoRA merged into the weights; without it,
                 FILE.gguf is the base alone and FILE.lora-groupN.gguf beside it is group N's
                 LoRA adapter (GGUF adapter, F32 factors; llama.cpp: --lora FILE.lora-groupN.gguf)
  --dtype        the projections and output head: f32 (default), f16, q8_0 or q4_0 (ggml's
                 blocks of 32); embeddings and norms stay F32 (F16 with f16). A quantized package
                 is dequantized first, so q4_0 of an int4 package quantizes twice
  --out FILE     the GGUF to write (overwritten)

Tokenizer: the package's tokenizer.json as llama.cpp's SentencePiece vocabulary (scores from
the BPE merge order, byte tokens, BOS/EOS/UNK/PAD ids).`;

export async function exportGgufCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string', default: DEFAULT_MODEL_DIR },
      group: { type: 'string' },
      merged: { type: 'boolean', default: false },
      dtype: { type: 'string', default: 'f32' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(EXPORT_GGUF_USAGE);
  if (!values.out || !values.group) throw new Error(`--group and --out are required\n${EXPORT_GGUF_USAGE}`);
  const group = Number(values.group);
  if (!Number.isInteger(group) || group < 1) throw new Error(`--group ${values.group}: expected a group number (1-8)`);
  if (!GGUF_DTYPES.includes(values.dtype as GgufDtype)) throw new Error(`--dtype ${values.dtype}: use ${GGUF_DTYPES.join(', ')}`);
  const started = Date.now();
  const r = await exportGguf({ modelDir: values.model!, group, merged: values.merged!, dtype: values.dtype as GgufDtype, out: values.out });
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  console.log(`wrote ${r.model.path} (${mb(r.model.bytes)}, ${values.dtype}${values.merged ? `, group ${group} merged` : ', base'})` +
    `${r.adapter ? ` and ${r.adapter.path} (${mb(r.adapter.bytes)}, group ${group} LoRA)` : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (!r.adapter) return;
  console.log(`llama.cpp: llama-cli -m ${r.model.path} --lora ${adapterPathFor(r.model.path, group)}`);
}
