/**
 * CLI: `xalma-serve <command>`; every command answers --help.
 *   serve       start the HTTP server (src/server.ts)
 *   translate   run the engine once without HTTP; the translation is the last line of stdout
 *   import      turn Hugging Face checkpoints into a model package (src/import)
 *   pull        fetch checkpoints from the Hugging Face Hub into its cache, optionally import
 *   make-model  write a synthetic model package from a seed (tiny | bench | bench-r80 preset)
 *   export-gguf a package (base + one group's LoRA, or merged) as GGUF for llama.cpp (src/export)
 */
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR } from './paths.ts';

const USAGE = `usage: xalma-serve <command> [options]     (xalma-serve <command> --help for its options)
  serve        start the HTTP server on a model package
  translate    translate one text from the command line
  pull         download checkpoints from the Hugging Face Hub (its cache) and, with --out, import them
  import       turn Hugging Face checkpoints (base + PEFT adapters) into a model package
  make-model   write a synthetic demo model package
  export-gguf  write a package (one group: merged, or base + LoRA adapter) as GGUF for llama.cpp`;

const TRANSLATE_USAGE = `usage: xalma-serve translate [--model DIR] [--mode single|merged|all] [--from xx] --to yy
                            [--max-new-tokens N] [--beams N] [--provider cpu|cuda] "text"

Translates one text and prints the translation as the last line of stdout (two lines of
context before it). Without --from the source language is detected (loads the detection
models, a few seconds); with it nothing is detected.
  --model DIR            model package (default: the embedded demo model)
  --mode                 single | merged | all (default all)
  --max-new-tokens N     most tokens to generate (default 64; --max-tokens is the same)`;

const MAKE_MODEL_USAGE = `usage: xalma-serve make-model --out DIR [--preset tiny|bench|bench-r80] [--seed N] [--name NAME]

Writes a synthetic package (random weights, X-ALMA layout, 8 modules); it does not translate.`;

async function serveUsage(): Promise<string> {
  const { CONFIG_OPTIONS, CONFIG_FILE_OPTION } = await import('./config.ts');
  const rows = CONFIG_OPTIONS.map((o) => {
    const def = Array.isArray(o.default) ? o.default.join(',') : String(o.default);
    const values = o.values ? ` (${o.values.join('|')})` : '';
    return `  ${o.flag.padEnd(26)} ${o.description}${values}; env ${o.env.join(', ')}; default ${def === '' ? '(none)' : def}`;
  });
  return [
    'usage: xalma-serve serve [options]      (npm start -- [options])',
    '',
    'Options (flags > environment > config file > defaults):',
    `  ${CONFIG_FILE_OPTION.flag.padEnd(26)} ${CONFIG_FILE_OPTION.description}; env ${CONFIG_FILE_OPTION.env}`,
    ...rows,
  ].join('\n');
}

const wantsHelp = (argv: string[]) => argv.includes('--help') || argv.includes('-h');

async function translateCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', default: DEFAULT_MODEL_DIR },
      mode: { type: 'string', default: 'all' },
      beams: { type: 'string', default: '1' },
      'max-new-tokens': { type: 'string' },
      'max-tokens': { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      provider: { type: 'string', default: 'cpu' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(TRANSLATE_USAGE);
  const text = positionals.join(' ');
  if (!values.to || !text) throw new Error(`--to and a text are required\n${TRANSLATE_USAGE}`);
  if (!['single', 'merged', 'all'].includes(values.mode!)) throw new Error(`--mode must be single, merged or all`);
  const maxNewTokens = Number(values['max-new-tokens'] ?? values['max-tokens'] ?? 64);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new Error('--max-new-tokens must be a positive integer');
  const { createEngine } = await import('./engine/engine.ts');
  const { planTranslation, buildGroupTable, runHops, splitText, joinSegments, maxSegmentChars } = await import('./languages/index.ts');
  const { DEFAULT_DECODING } = await import('./engine/types.ts');
  const { isXalmaError } = await import('./errors.ts');
  // Detection models take seconds to load: only when the source is to be detected.
  const detector = values.from ? undefined : await (await import('./languages/index.ts')).createDetector();
  const engine = await createEngine({ modelDir: values.model!, mode: values.mode as 'single' | 'merged' | 'all', provider: values.provider as 'cpu' | 'cuda' });
  try {
    const plan = planTranslation({ source: values.from, target: values.to, text, groups: buildGroupTable(engine.manifest.groups), detector });
    const options = { ...DEFAULT_DECODING, beams: Number(values.beams), maxNewTokens };
    // Sentence by sentence, as the server does (languages/segment.ts), rejoined with the text's own whitespace.
    const { separators, sentences } = splitText(text, { locale: plan.source, maxChars: maxSegmentChars(engine.manifest.dims.maxPositions) });
    const outputs: string[] = [];
    for (const sentence of sentences) {
      outputs.push(plan.identity
        ? sentence
        : (await runHops(plan.hops, sentence, options, async (item) => {
            const [out] = await engine.translateBatch([item]);
            if (isXalmaError(out)) throw out;
            return out;
          })).text);
    }
    const translated = joinSegments(separators, outputs);
    const hops = plan.hops.map((h) => `${h.from}->${h.to} (group ${h.group})`).join(', ') || 'none (source == target)';
    console.log(`model: ${engine.manifest.name}${engine.manifest.demo ? ' (demo weights: output is not a real translation)' : ''}; mode: ${engine.mode}; provider: ${engine.provider}`);
    const detected = values.from ? '' : ` (detected, confidence ${plan.detected?.confidence.toFixed(2)})`;
    const mismatch = plan.mismatch ? `; the text looks like ${plan.mismatch.detected}, translated as ${plan.source} as asked` : '';
    console.log(`source: ${plan.source}${detected}${mismatch}; hops: ${hops}`);
    console.log(translated);
  } finally {
    await engine.close();
  }
}

async function makeModelCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      preset: { type: 'string', default: 'tiny' },
      seed: { type: 'string', default: '20250125' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(MAKE_MODEL_USAGE);
  if (!values.out) throw new Error(`--out is required\n${MAKE_MODEL_USAGE}`);
  if (values.preset !== 'tiny' && values.preset !== 'bench' && values.preset !== 'bench-r80') throw new Error('--preset must be tiny, bench or bench-r80');
  const { makeModel } = await import('./model/make-model.ts');
  const started = Date.now();
  const manifest = await makeModel({ outDir: values.out, preset: values.preset, seed: Number(values.seed), name: values.name });
  const bytes = manifest.files.reduce((n, f) => n + f.bytes, 0);
  console.log(`wrote ${manifest.name} to ${values.out}: ${(bytes / 1e6).toFixed(1)} MB in ${manifest.files.length} files, ${Date.now() - started} ms`);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'serve': {
      if (wantsHelp(rest)) return void console.log(await serveUsage());
      const { loadConfig } = await import('./config.ts');
      const { startServer } = await import('./server.ts');
      // Resolves once listening; start-up goes on behind /ready, and a failed load ends here too.
      const server = await startServer(await loadConfig(rest, process.env));
      await server.startup;
      return;
    }
    case 'translate':
      return translateCommand(rest);
    case 'import':
      return (await import('./import/import-command.ts')).importCommand(rest);
    case 'pull':
      return (await import('./import/pull-command.ts')).pullCommand(rest);
    case 'make-model':
      return makeModelCommand(rest);
    case 'export-gguf':
      return (await import('./export/export-command.ts')).exportGgufCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      console.error(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
      process.exitCode = 2;
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? `${(err as { code?: string }).code ? `${(err as { code?: string }).code}: ` : ''}${err.message}` : err);
  process.exit(1);
});
