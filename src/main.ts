/**
 * CLI: `xalma-serve <command>`.
 *   serve       start the HTTP server (src/server.ts)
 *   translate   run the engine once without HTTP; the translation is the last line of stdout
 *   make-model  write a synthetic model package from a seed (tiny | bench preset)
 */
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR } from './paths.ts';

const USAGE = `usage:
  xalma-serve serve [--port N] [--host H] [--model DIR] [--mode single|merged|all] [...]   (see README, Configuration)
  xalma-serve translate [--model DIR] [--mode single|merged|all] [--beams N] [--max-tokens N] [--from xx] --to yy "text"
  xalma-serve make-model --out DIR [--preset tiny|bench] [--seed N] [--name NAME]`;

async function translateCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', default: DEFAULT_MODEL_DIR },
      mode: { type: 'string', default: 'all' },
      beams: { type: 'string', default: '1' },
      'max-tokens': { type: 'string', default: '64' },
      from: { type: 'string' },
      to: { type: 'string' },
      provider: { type: 'string', default: 'cpu' },
    },
  });
  const text = positionals.join(' ');
  if (!values.to || !text) throw new Error(`--to and a text are required\n${USAGE}`);
  if (!['single', 'merged', 'all'].includes(values.mode!)) throw new Error(`--mode must be single, merged or all`);
  const { createEngine } = await import('./engine/engine.ts');
  const { createDetector, planTranslation, buildGroupTable, languageName } = await import('./languages/index.ts');
  const { DEFAULT_DECODING } = await import('./engine/types.ts');
  const { isXalmaError } = await import('./errors.ts');
  const engine = await createEngine({ modelDir: values.model!, mode: values.mode as 'single' | 'merged' | 'all', provider: values.provider as 'cpu' | 'cuda' });
  try {
    const detector = await createDetector();
    const plan = planTranslation({ source: values.from, target: values.to, text, groups: buildGroupTable(engine.manifest.groups), detector });
    const options = { ...DEFAULT_DECODING, beams: Number(values.beams), maxNewTokens: Number(values['max-tokens']) };
    let current = text;
    for (const hop of plan.hops) {
      const [out] = await engine.translateBatch([{ group: hop.group, sourceName: languageName(hop.from), targetName: languageName(hop.to), text: current, options }]);
      if (isXalmaError(out)) throw out;
      current = out.text;
    }
    const hops = plan.hops.map((h) => `${h.from}->${h.to} (group ${h.group})`).join(', ') || 'none (source == target)';
    console.log(`model: ${engine.manifest.name}${engine.manifest.demo ? ' (demo weights: output is not a real translation)' : ''}; mode: ${engine.mode}; provider: ${engine.provider}`);
    const detected = values.from ? '' : ` (detected, confidence ${plan.detected?.confidence.toFixed(2)})`;
    const mismatch = plan.mismatch ? `; the text looks like ${plan.mismatch.detected}, translated as ${plan.source} as asked` : '';
    console.log(`source: ${plan.source}${detected}${mismatch}; hops: ${hops}`);
    console.log(current);
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
    },
  });
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  if (values.preset !== 'tiny' && values.preset !== 'bench') throw new Error('--preset must be tiny or bench');
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
      const { loadConfig } = await import('./config.ts');
      const { startServer } = await import('./server.ts');
      await startServer(await loadConfig(rest, process.env));
      return;
    }
    case 'translate':
      return translateCommand(rest);
    case 'make-model':
      return makeModelCommand(rest);
    default:
      console.error(USAGE);
      process.exitCode = command ? 2 : 0;
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? `${(err as { code?: string }).code ? `${(err as { code?: string }).code}: ` : ''}${err.message}` : err);
  process.exit(1);
});
