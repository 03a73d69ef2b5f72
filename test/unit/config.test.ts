import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_OPTIONS, DEFAULT_MODEL_DIR, defaultConfig, formatOptionTable, loadConfig } from '../../src/config.ts';
import { isXalmaError } from '../../src/errors.ts';
import { REPO_ROOT } from '../../src/paths.ts';

async function modelDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xalma-config-'));
  await writeFile(join(dir, 'manifest.json'), '{}');
  return dir;
}

async function problemsOf(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (err) {
    if (isXalmaError(err, 'CONFIG_INVALID')) return err.details!.problems as string[];
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('loadConfig', () => {
  it('takes flags over env over file over defaults', async () => {
    const dir = await modelDir();
    const file = join(dir, 'cfg.json');
    await writeFile(file, JSON.stringify({ port: 1111, maxBatchSize: 3, mode: 'single', modelDir: dir }));
    const cfg = await loadConfig(['serve', '--port', '2222', `--config=${file}`], { PORT: '3333', XALMA_MAX_BATCH_SIZE: '7', HOST: '0.0.0.0' });
    expect(cfg.port).toBe(2222);
    expect(cfg.maxBatchSize).toBe(7);
    expect(cfg.mode).toBe('single');
    expect(cfg.host).toBe('0.0.0.0');
    expect(cfg.maxWaitMs).toBe(15); // the default
    expect(cfg.modelDir).toBe(dir);
  });

  it('lists every problem in one readable error', async () => {
    const problems = await problemsOf(loadConfig(['--port', 'abc', '--mode', 'fast', '--nope', '1', 'stray'], { XALMA_MAX_QUEUE: '0' }));
    expect(problems.join('\n')).toMatch(/--port: must be an integer/);
    expect(problems.join('\n')).toMatch(/--mode: must be one of all, single, merged/);
    expect(problems.join('\n')).toMatch(/unknown option --nope/);
    expect(problems.join('\n')).toMatch(/unexpected argument 'stray'/);
    expect(problems.join('\n')).toMatch(/env XALMA_MAX_QUEUE: must be between 1/);
  });

  it('reports a missing model package, an unreadable config file and unknown file keys', async () => {
    expect((await problemsOf(loadConfig(['--model', '/nonexistent/x'], {}))).join()).toMatch(/no manifest.json in \/nonexistent\/x/);
    expect((await problemsOf(loadConfig(['--config', '/nonexistent.json'], {}))).join()).toMatch(/cannot be read/);
    const dir = await modelDir();
    await writeFile(join(dir, 'bad.json'), '{"prot": 1}');
    expect((await problemsOf(loadConfig([], { XALMA_CONFIG: join(dir, 'bad.json') }))).join()).toMatch(/unknown key 'prot'/);
  });

  it('never echoes API keys and rejects short ones', async () => {
    const problems = await problemsOf(loadConfig([], { XALMA_API_KEYS: 'short-secret', XALMA_MODEL: await modelDir() }));
    expect(problems.join()).toMatch(/at least 16/);
    expect(problems.join()).not.toMatch(/short-secret/);
    const cfg = await loadConfig([], { XALMA_API_KEYS: 'aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb', XALMA_MODEL: await modelDir() });
    expect(cfg.apiKeys).toEqual(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
  });

  it('takes a list of detection engines and names the unknown ones', async () => {
    const cfg = await loadConfig([], { XALMA_DETECT_ENGINES: ' fasttext, franc ', XALMA_MODEL: await modelDir() });
    expect(cfg.detectEngines).toEqual(['fasttext', 'franc']);
    const problems = (await problemsOf(loadConfig(['--detect-engines', 'fasttext,langid'], {}))).join('\n');
    expect(problems).toMatch(/--detect-engines: unknown value langid; use some of fasttext, cld3, eld, franc, lingua/);
    expect((await problemsOf(loadConfig(['--detect-engines', ' , '], {}))).join()).toMatch(/at least one of/);
    expect(defaultConfig().detectEngines).toEqual(['fasttext', 'cld3', 'eld', 'franc', 'lingua']);
  });

  it('defaults to the embedded model, mode all, port 8080, CORS off, no keys', () => {
    const cfg = defaultConfig();
    expect(cfg).toMatchObject({ modelDir: DEFAULT_MODEL_DIR, mode: 'all', port: 8080, corsOrigins: [], apiKeys: [] });
    expect(formatOptionTable().split('\n')).toHaveLength(CONFIG_OPTIONS.length + 3);
  });
});

describe('README', () => {
  it('shows the option table exactly as the code defines it (regenerate from formatOptionTable())', async () => {
    expect(await readFile(join(REPO_ROOT, 'README.md'), 'utf8')).toContain(formatOptionTable());
  });
});
