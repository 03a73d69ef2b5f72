/**
 * The command line as a user runs it (`xalma-serve <command>` through bin/xalma-serve.js, a real
 * child process): --help everywhere, and import -> translate on the shared HF fixture, whose
 * output must be the transformers + PEFT greedy continuation, decoded.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/engine/tokenizer.ts';
import { REPO_ROOT } from '../../src/paths.ts';
import { haveFixtures, readGolden, SHARDED } from '../support/hf-fixtures.ts';

const BIN = join(REPO_ROOT, 'bin', 'xalma-serve.js');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('xalma-serve --help', () => {
  for (const args of [['--help'], ['serve', '--help'], ['translate', '--help'], ['import', '--help'], ['pull', '--help'], ['make-model', '--help'], ['export-gguf', '--help']]) {
    it(`${args.join(' ')} prints usage and exits 0`, async () => {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^usage: xalma-serve/);
    });
  }

  it('serve --help lists every option of the configuration table', async () => {
    const { CONFIG_OPTIONS } = await import('../../src/config.ts');
    const r = await cli(['serve', '--help']);
    for (const o of CONFIG_OPTIONS) expect(r.stdout).toContain(o.flag);
  });

  it('an unknown command exits 2 with the usage', async () => {
    const r = await cli(['imprt']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "imprt"');
  });
});

const HAVE = haveFixtures('the import -> translate CLI test');

describe.skipIf(!HAVE)('xalma-serve import, then translate', () => {
  let work: string;
  let pkg: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'xalma-cli-'));
    pkg = join(work, 'pkg');
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('import reports progress and a summary, and exits 0', async () => {
    // adapter-group-a serves group 6 here, so that zh -> en (the goldens' X-ALMA prompt) uses it.
    const r = await cli(['import', '--base', join(SHARDED, 'base'), '--adapter', `6=${join(SHARDED, 'adapter-group-a')}`, '--dtype', 'fp32', '--out', pkg]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/importing: \d+\/\d+ MB \(100%\)/);
    expect(r.stdout).toContain('21 base tensors + 1 group module(s), weights float32');
  });

  it('a second import to the same folder is refused with its code and exit 1', async () => {
    const r = await cli(['import', '--base', join(SHARDED, 'base'), '--adapter', `6=${join(SHARDED, 'adapter-group-a')}`, '--out', pkg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('IMPORT_OUTPUT_EXISTS');
    expect((await readdir(work)).sort()).toEqual(['pkg']);
  });

  for (const mode of ['single', 'merged', 'all']) {
    it(`translate --mode ${mode} prints the goldens' greedy continuation as its last line`, async () => {
      const golden = (await readGolden(SHARDED, 'adapter-group-a')).cases[2];
      const expected = (await loadTokenizer(join(pkg, 'tokenizer.json'))).decode(golden.greedy_continuation_ids, { skipSpecialTokens: true });
      const r = await cli(['translate', '--model', pkg, '--mode', mode, '--from', 'zh', '--to', 'en', '--max-new-tokens', '16', '我爱机器翻译。']);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toContain('model: pkg; mode: ' + mode);
      expect(lines.at(-1)).toBe(expected);
    });
  }
});
