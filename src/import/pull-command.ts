/**
 * `xalma-serve pull`: fetch checkpoints from the Hugging Face Hub into its standard cache, and
 * with --out import them in the same command. Repo roles come from flags (--base, --adapter
 * N=, --merged N=) or, for bare repo ids, from X-ALMA's naming (`...-Pretrain` is the base,
 * `...-Group<N>` the adapter of group N).
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { hubCacheDir, parseRepoRef } from './hub-cache.ts';
import { hubSettingsFromEnv, pullRepo, type PullProgress, type RepoRole } from './hub-pull.ts';

export const PULL_USAGE = `usage: xalma-serve pull REPO[@REV] ... [--base REPO] [--adapter N=REPO ...] [--merged N=REPO ...]
                       [--revision REV] [--out DIR --dtype fp32|fp16|int8|int4 [--name NAME]]

Downloads what the importer needs from the Hugging Face Hub into its cache (reusing anything
huggingface-cli or Python already downloaded), then, with --out, imports it into a package.
  REPO               X-ALMA names say the role: *-Pretrain is the base, *-Group<N> the adapter of group N
  --base REPO        the LlamaForCausalLM base
  --adapter N=REPO   the PEFT adapter of group N (only adapter_config.json + adapter_model.*)
  --merged N=REPO    also the merged full model of group N (~26 GB each for X-ALMA-13B)
  --revision REV     a branch, tag or commit for every repo (REPO@REV for one)
  --out DIR          import into this package folder when the downloads are done (see import --help)

Environment: HF_TOKEN (gated or private repos), HF_ENDPOINT (a mirror), HF_HUB_CACHE or HF_HOME
(where the cache is), HF_HUB_OFFLINE=1 (the cache alone, no network). A pull that is cut or
interrupted resumes where it stopped; finished files are checked against the Hub's sha256.

Example:
  xalma-serve pull haoranxu/X-ALMA-13B-Pretrain haoranxu/X-ALMA-13B-Group1 haoranxu/X-ALMA-13B-Group2 \\
      --dtype int4 --out models/x-alma-13b-int4`;

interface Wanted {
  role: RepoRole;
  group?: number;
  repo: string;
  revision?: string;
}

function roleOf(value: string): Wanted {
  const { repo, revision } = parseRepoRef(value);
  const name = repo.split('/')[1];
  if (/-pretrain$/i.test(name)) return { role: 'base', repo, revision };
  const g = /-group(\d+)$/i.exec(name);
  if (g) return { role: 'adapter', group: Number(g[1]), repo, revision };
  throw new Error(`${value}: cannot tell whether this is the base or a group's adapter from its name; say --base ${value} or --adapter N=${value}`);
}

function grouped(values: string[] | undefined, flag: string, role: RepoRole): Wanted[] {
  return (values ?? []).map((v) => {
    const m = /^([1-9]\d*)=(.+)$/.exec(v);
    if (!m) throw new Error(`${flag} ${v}: expected N=REPO`);
    return { role, group: Number(m[1]), ...parseRepoRef(m[2]) };
  });
}

const mb = (n: number) => (n / 1e6).toFixed(1);

export async function pullCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      base: { type: 'string' },
      adapter: { type: 'string', multiple: true },
      merged: { type: 'string', multiple: true },
      revision: { type: 'string' },
      out: { type: 'string' },
      dtype: { type: 'string', default: 'fp32' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(PULL_USAGE);
  const wanted: Wanted[] = [
    ...positionals.map(roleOf),
    ...(values.base ? [{ role: 'base' as const, ...parseRepoRef(values.base) }] : []),
    ...grouped(values.adapter, '--adapter', 'adapter'),
    ...grouped(values.merged, '--merged', 'merged'),
  ].map((w) => ({ ...w, revision: w.revision ?? values.revision }));
  if (wanted.length === 0) throw new Error(`name at least one repo\n${PULL_USAGE}`);
  if (values.out && wanted.filter((w) => w.role === 'base').length !== 1) throw new Error('--out needs exactly one base repo (…-Pretrain or --base)');

  const settings = hubSettingsFromEnv(process.env);
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted: the partial download stays in the Hub cache and the next pull resumes it; no package was written'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stderr.isTTY === true;
  const bars = tty ? new cliProgress.MultiBar({ format: '{repo} {file} [{bar}] {percentage}% | {doneMb}/{totalMb} MB | {rate} MB/s | ETA {eta_formatted}', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  const dirs = new Map<Wanted, string>();
  try {
    console.error(`Hub cache: ${hubCacheDir()}${settings.offline ? ' (offline: HF_HUB_OFFLINE)' : settings.endpoint ? ` (endpoint ${settings.endpoint})` : ''}`);
    for (const w of wanted) {
      const started = Date.now();
      let bar: cliProgress.SingleBar | undefined;
      let lastLine = 0;
      const onProgress = (p: PullProgress) => {
        const secs = Math.max((Date.now() - started) / 1000, 1e-3);
        const fields = { repo: w.repo, file: p.file, doneMb: mb(p.done), totalMb: mb(p.total), rate: mb(p.done / secs) };
        if (bars) {
          bar ??= bars.create(p.total, 0, fields);
          bar.update(p.done, fields);
        } else if (Date.now() - lastLine > 5000 || p.done === p.total) {
          lastLine = Date.now();
          const eta = ((p.total - p.done) / (p.done / secs)).toFixed(0);
          console.error(`${w.repo}: ${p.file} ${mb(p.fileDone)}/${mb(p.fileTotal)} MB; total ${fields.doneMb}/${fields.totalMb} MB (${((100 * p.done) / p.total).toFixed(0)}%), ${fields.rate} MB/s, ETA ${eta} s`);
        }
      };
      const r = await pullRepo({ ...settings, repo: w.repo, role: w.role, revision: w.revision, onProgress, signal: controller.signal });
      bar?.stop();
      const fetched = r.files.filter((f) => f.status === 'downloaded');
      console.error(`${w.repo}@${r.commit.slice(0, 12)}: ${r.files.length - fetched.length} file(s) already cached, ${fetched.length} downloaded (${mb(r.fetched)} MB)${settings.offline ? ' [offline]' : ''} -> ${r.dir}`);
      dirs.set(w, r.dir);
    }
  } finally {
    bars?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (!values.out) return void console.log('pulled; import with: xalma-serve import --base <repo id> --adapter N=<repo id> ... --out DIR');
  const { importCommand } = await import('./import-command.ts');
  const args = ['--out', values.out, '--dtype', values.dtype!, ...(values.name ? ['--name', values.name] : [])];
  for (const [w, dir] of dirs) {
    if (w.role === 'base') args.push('--base', dir);
    else args.push(w.role === 'adapter' ? '--adapter' : '--merged', `${w.group}=${dir}`);
  }
  await importCommand(args);
}
