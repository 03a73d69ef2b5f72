/** Shared by the benchmarks: machine info, medians, result files, the bench model package. */
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem, platform, release } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/paths.ts';

export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
/** Generated at benchmark time, never committed (.gitignore). */
export const BENCH_MODEL_DIR = join(REPO_ROOT, 'bench', '.models', 'xalma-bench-demo');

export function machineInfo() {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a git checkout: keep 'unknown'
  }
  return {
    date: new Date().toISOString(),
    commit,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 1024 ** 3),
    os: `${platform()} ${release()}`,
    node: process.version,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function writeResults(name: string, record: object, markdown: string): Promise<void> {
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(join(RESULTS_DIR, `${name}.json`), JSON.stringify(record, null, 2) + '\n');
  await writeFile(join(RESULTS_DIR, `${name}.md`), markdown);
}

/** Makes the ~125M-parameter bench package (or another preset) once (seconds to a minute) and reuses it. */
export async function ensureBenchModel(preset: 'bench' | 'bench-r80' = 'bench'): Promise<string> {
  const dir = preset === 'bench' ? BENCH_MODEL_DIR : join(REPO_ROOT, 'bench', '.models', `xalma-${preset}-demo`);
  if (!existsSync(join(dir, 'manifest.json'))) {
    const { makeModel } = await import('../src/model/make-model.ts');
    const t0 = Date.now();
    await makeModel({ outDir: dir, preset, seed: 20250125 });
    console.error(`made ${preset} model in ${Date.now() - t0} ms at ${dir}`);
  }
  return dir;
}
