/**
 * `xalma-serve import`: the command-line face of importer.ts. Progress is drawn with
 * cli-progress (bytes done, rate, ETA) on stderr when it is a terminal, and as a line every few
 * seconds otherwise (logs, CI); Ctrl-C aborts between tensors and leaves no partial package.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { WEIGHT_DTYPES, type WeightDtype } from '../model/weight-storage.ts';
import { resolveCheckpoint } from './hub-cache.ts';
import { importCheckpoint, type ImportProgress } from './importer.ts';

export const IMPORT_USAGE = `usage: xalma-serve import --base DIR --adapter N=DIR [--adapter N=DIR ...] [--merged N=DIR ...]
                         [--dtype fp32|fp16|int8|int4] --out DIR [--name NAME]

Turns Hugging Face checkpoints into a model package the server runs.
  --base DIR        a LlamaForCausalLM folder: config.json, model.safetensors or shards with
                    model.safetensors.index.json (F32/F16/BF16), tokenizer.json; wherever a
                    folder is asked, a Hub repo id (org/name[@revision]) pulled before also
                    works: it resolves from the local Hub cache (see xalma-serve pull)
  --adapter N=DIR   the PEFT LoRA adapter of language group N (1-8): adapter_config.json and
                    adapter_model.safetensors or adapter_model.bin
  --merged N=DIR    optional: group N's merged full model (X-ALMA Group repos ship one); merged
                    mode then reads its weights instead of merging at load (quantized packages)
  --dtype           base linear weights: fp32 (default), fp16, int8 (per-column, onnxruntime
                    DynamicQuantizeMatMul) or int4 (blocks of 32, MatMulNBits); LoRA stays fp32
  --out DIR         the package folder to create (must not exist)
  --name NAME       the package name in manifest.json (default: the folder name)

Example (X-ALMA-13B, downloaded with huggingface-cli):
  xalma-serve import --base ./X-ALMA-13B-Pretrain --adapter 1=./X-ALMA-13B-Group1 ... \\
      --adapter 8=./X-ALMA-13B-Group8 --dtype int4 --out models/x-alma-13b-int4`;

const DTYPE_FLAGS: Record<string, WeightDtype> = { fp32: 'float32', fp16: 'float16', int8: 'int8', int4: 'int4' };

function groupDirs(values: string[] | undefined, flag: string): Array<{ group: number; dir: string }> {
  return (values ?? []).map((v) => {
    const m = /^([1-9]\d*)=(.+)$/.exec(v);
    if (!m) throw new Error(`${flag} ${v}: expected N=DIR (for example ${flag} 1=./X-ALMA-13B-Group1)`);
    return { group: Number(m[1]), dir: m[2] };
  });
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

export async function importCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      base: { type: 'string' },
      adapter: { type: 'string', multiple: true },
      merged: { type: 'string', multiple: true },
      dtype: { type: 'string', default: 'fp32' },
      out: { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(IMPORT_USAGE);
    return;
  }
  if (!values.base || !values.out) throw new Error(`--base and --out are required\n${IMPORT_USAGE}`);
  const dtype = DTYPE_FLAGS[values.dtype!] ?? (WEIGHT_DTYPES.includes(values.dtype as WeightDtype) ? (values.dtype as WeightDtype) : undefined);
  if (!dtype) throw new Error(`--dtype ${values.dtype}: use fp32, fp16, int8 or int4`);

  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted: nothing was written to --out'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar({
      format: 'importing [{bar}] {percentage}% | {doneMb}/{totalMb} MB | {rate} MB/s | ETA {eta_formatted} | {file}',
      hideCursor: true,
    }, cliProgress.Presets.shades_classic)
    : undefined;
  const started = Date.now();
  let lastLine = 0;
  const onProgress = (p: ImportProgress) => {
    const secs = Math.max((Date.now() - started) / 1000, 1e-3);
    const fields = { doneMb: (p.done / 1e6).toFixed(0), totalMb: (p.total / 1e6).toFixed(0), rate: (p.done / 1e6 / secs).toFixed(0), file: p.file.split('/').slice(-2).join('/') };
    if (bar) {
      if (!bar.isActive) bar.start(p.total, 0, fields);
      bar.update(p.done, fields);
    } else if (Date.now() - lastLine > 5000 || p.done === p.total) {
      lastLine = Date.now();
      const eta = p.done > 0 ? ((p.total - p.done) / (p.done / secs)).toFixed(0) : '?';
      console.error(`importing: ${fields.doneMb}/${fields.totalMb} MB (${((100 * p.done) / p.total).toFixed(0)}%), ${fields.rate} MB/s, ETA ${eta} s, ${fields.file}`);
    }
  };
  const resolveAll = (list: Array<{ group: number; dir: string }>) => Promise.all(list.map(async (a) => ({ group: a.group, dir: await resolveCheckpoint(a.dir) })));
  try {
    const s = await importCheckpoint({
      base: await resolveCheckpoint(values.base),
      adapters: await resolveAll(groupDirs(values.adapter, '--adapter')),
      merged: await resolveAll(groupDirs(values.merged, '--merged')),
      dtype,
      out: values.out,
      name: values.name,
      onProgress,
      signal: controller.signal,
    });
    bar?.stop();
    const q = s.manifest.quantization;
    console.log(
      `imported ${s.manifest.name} to ${s.out}: ${s.tensors} base tensors + ${s.manifest.groups.length} group module(s)` +
      `${s.manifest.merged ? ` + ${s.manifest.merged.length} merged` : ''}, weights ${s.manifest.dtype}${q ? ` (${q.method}, ${q.bits} bits${q.blockSize ? `, blocks of ${q.blockSize}` : ''})` : ''}; ` +
      `read ${mb(s.bytesRead)}, wrote ${mb(s.bytesWritten)} in ${(s.ms / 1000).toFixed(1)} s`,
    );
    console.log(`serve it: npm start -- --model ${values.out} --mode single`);
  } finally {
    bar?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
