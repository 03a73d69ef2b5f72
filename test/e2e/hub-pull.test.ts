/**
 * Pulling from the Hugging Face Hub with its own JS client (@huggingface/hub) against a local
 * stand-in of the Hub on 127.0.0.1 (test/support/mock-hub.ts) serving ../shared/fixtures:
 * a fresh pull into an empty Hub cache and an import of it that meets the goldens, a second
 * pull that fetches nothing, a cut download resumed, a corrupted file caught by its sha256,
 * offline mode from the cache, a gated repo, a missing repo, no network.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readlink, rm, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isXalmaError, type ErrorCode } from '../../src/errors.ts';
import { pullRepo, type PullOptions } from '../../src/import/hub-pull.ts';
import { repoCacheDir, resolveCheckpoint } from '../../src/import/hub-cache.ts';
import { importCheckpoint } from '../../src/import/importer.ts';
import { loadModelPackage } from '../../src/model/package.ts';
import { readSafetensorsHeader } from '../../src/model/safetensors.ts';
import { haveFixtures, readGolden, SHARDED } from '../support/hf-fixtures.ts';
import { runMode } from '../support/golden-run.ts';
import { MOCK_TOKEN, startMockHub, type MockHub } from '../support/mock-hub.ts';
import { REPO_ROOT } from '../../src/paths.ts';

const HAVE = haveFixtures('the Hub pull tests');
const BASE = 'xalma-test/tiny-llama2-Pretrain';
const GROUP1 = 'xalma-test/tiny-llama2-Group1';
const GROUP2 = 'xalma-test/tiny-llama2-Group2';
const GATED = 'xalma-test/gated-Group3';
const SHARD = 'model-00001-of-00002.safetensors';

let hub: MockHub;
let work: string;
let cache: string;

beforeAll(async () => {
  if (!HAVE) return;
  work = await mkdtemp(join(tmpdir(), 'xalma-hub-'));
  hub = await startMockHub({
    [BASE]: { dir: join(SHARDED, 'base') },
    [GROUP1]: { dir: join(SHARDED, 'adapter-group-a') },
    [GROUP2]: { dir: join(SHARDED, 'adapter-group-b') },
    [GATED]: { dir: join(SHARDED, 'adapter-group-a'), gated: true },
  });
});

afterAll(async () => {
  await hub?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

let n = 0;
beforeEach(() => {
  if (!HAVE) return;
  cache = join(work, `cache-${n++}`); // an empty Hub cache per test
  hub.log.length = 0;
  hub.served.clear();
});

function pull(repo: string, role: PullOptions['role'], extra: Partial<PullOptions> = {}) {
  return pullRepo({ repo, role, endpoint: hub.url, cacheDir: cache, ...extra });
}

async function expectCode(p: Promise<unknown>, code: ErrorCode, parts: string[] = []): Promise<Error> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(isXalmaError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  for (const s of parts) expect((err as Error).message).toContain(s);
  return err as Error;
}

describe.skipIf(!HAVE)('xalma-serve pull (Hub client against a local Hub)', () => {
  it('a fresh pull fills the standard cache layout with only what the import needs, and its import meets the goldens', async () => {
    const base = await pull(BASE, 'base');
    const g1 = await pull(GROUP1, 'adapter');
    const g2 = await pull(GROUP2, 'adapter');
    expect(base.commit).toBe(hub.commitOf(BASE));
    expect(base.dir).toBe(join(repoCacheDir(BASE, cache), 'snapshots', base.commit));
    // Weights and configs, not the tokenizer.model-less extras the import never reads.
    expect((await readdir(base.dir)).sort()).toEqual(['config.json', 'generation_config.json', SHARD, 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer.model', 'tokenizer_config.json']);
    // group-a ships both adapter_model.safetensors and .bin: only the safetensors is fetched.
    expect((await readdir(g1.dir)).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect((await readdir(g2.dir)).sort()).toEqual(['adapter_config.json', 'adapter_model.bin']);
    // snapshots/<commit>/<file> -> ../../blobs/<sha256>, and refs/main names the commit
    expect(await readlink(join(base.dir, SHARD))).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    expect(await resolveCheckpoint(BASE, cache)).toBe(base.dir);

    const out = join(work, 'pulled-pkg');
    await importCheckpoint({ base: await resolveCheckpoint(BASE, cache), adapters: [{ group: 1, dir: await resolveCheckpoint(GROUP1, cache) }, { group: 2, dir: await resolveCheckpoint(GROUP2, cache) }], dtype: 'float32', out });
    const pkg = await loadModelPackage(out);
    // The manifest names the repos and commits, not the snapshot folders (which are commit hashes).
    expect(pkg.manifest.source?.base).toBe(`${BASE}@${hub.commitOf(BASE)}`);
    expect(pkg.manifest.source?.adapters.map((a) => a.name)).toEqual([`${GROUP1}@${hub.commitOf(GROUP1)}`, `${GROUP2}@${hub.commitOf(GROUP2)}`]);
    const header = await readSafetensorsHeader(pkg.weightsPath);
    for (const [group, name] of [[1, 'adapter-group-a'], [2, 'adapter-group-b']] as const) {
      const c = (await readGolden(SHARDED, name)).cases[2];
      const { tokens } = await runMode(pkg, header, 'single', group, c.input_ids, c.greedy_continuation_ids.length);
      expect(tokens).toEqual(c.greedy_continuation_ids);
    }
    await rm(out, { recursive: true });
  });

  it('a second pull downloads nothing', async () => {
    await pull(BASE, 'base');
    hub.log.length = 0;
    hub.served.clear();
    const again = await pull(BASE, 'base');
    expect(again.fetched).toBe(0);
    expect(again.files.every((f) => f.status === 'cached')).toBe(true);
    expect(hub.log.filter((r) => r.url.includes('/resolve/'))).toEqual([]);
  });

  it('a download cut halfway leaves a partial blob, and the next pull resumes it with a Range request', async () => {
    const size = (await stat(join(SHARDED, 'base', SHARD))).size;
    hub.cutAfter.set(`${BASE}/${SHARD}`, Math.floor(size / 2));
    await expectCode(pull(BASE, 'base'), 'HUB_UNREACHABLE', [BASE]);
    const blobs = await readdir(join(repoCacheDir(BASE, cache), 'blobs'));
    const partial = blobs.find((b) => b.endsWith('.incomplete'))!;
    // What reached the disk before the cut (all of the cut bytes, or fewer if some were lost in flight).
    const have = (await stat(join(repoCacheDir(BASE, cache), 'blobs', partial))).size;
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThanOrEqual(Math.floor(size / 2));

    hub.log.length = 0;
    hub.served.clear();
    const resumed = await pull(BASE, 'base');
    const file = resumed.files.find((f) => f.path === SHARD)!;
    expect(file).toMatchObject({ status: 'downloaded', resumedFrom: have });
    expect(hub.log.some((r) => r.url.endsWith(SHARD) && r.range === `bytes=${have}-${size - 1}`)).toBe(true);
    expect(hub.served.get(`${BASE}/${SHARD}`)).toBe(size - have);
    expect((await readdir(join(repoCacheDir(BASE, cache), 'blobs'))).some((b) => b.endsWith('.incomplete'))).toBe(false);
  });

  it('a corrupted download is caught by the sha256 the Hub lists; nothing of it stays in the cache', async () => {
    hub.corrupt.add(`${BASE}/${SHARD}`);
    try {
      await expectCode(pull(BASE, 'base'), 'DOWNLOAD_CHECKSUM_MISMATCH', [SHARD, 'sha256', 'pull again']);
    } finally {
      hub.corrupt.clear();
    }
    const blobs = await readdir(join(repoCacheDir(BASE, cache), 'blobs'));
    expect(blobs.filter((b) => b.endsWith('.incomplete'))).toEqual([]);
    const snap = join(repoCacheDir(BASE, cache), 'snapshots', hub.commitOf(BASE));
    expect(await readdir(snap).then((f) => f.includes(SHARD), () => false)).toBe(false);
  });

  it('offline (HF_HUB_OFFLINE) works from the cache alone and names what is missing', async () => {
    const online = await pull(GROUP1, 'adapter');
    hub.log.length = 0;
    const offline = await pullRepo({ repo: GROUP1, role: 'adapter', endpoint: 'http://127.0.0.1:9', cacheDir: cache, offline: true });
    expect(offline.dir).toBe(online.dir);
    expect(hub.log).toEqual([]);
    await expectCode(pullRepo({ repo: GROUP2, role: 'adapter', cacheDir: cache, offline: true }), 'HUB_NOT_CACHED', [GROUP2, 'HF_HUB_OFFLINE']);
  });

  it('a gated repo answers 401 without a token (HUB_UNAUTHORIZED, says what to do) and downloads with HF_TOKEN', async () => {
    await expectCode(pull(GATED, 'adapter'), 'HUB_UNAUTHORIZED', [GATED, '401', 'HF_TOKEN']);
    const ok = await pull(GATED, 'adapter', { token: MOCK_TOKEN });
    expect(ok.files.map((f) => f.path).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(hub.log.filter((r) => r.url.includes('/resolve/')).every((r) => r.auth === `Bearer ${MOCK_TOKEN}`)).toBe(true);
  });

  it('a repo that does not exist, and a Hub that cannot be reached, get their own codes', async () => {
    await expectCode(pull('xalma-test/no-such-model', 'base'), 'HUB_REPO_NOT_FOUND', ['xalma-test/no-such-model', 'not found']);
    await expectCode(pullRepo({ repo: BASE, role: 'base', endpoint: 'http://127.0.0.1:9', cacheDir: cache }), 'HUB_UNREACHABLE', ['cannot reach', 'HF_ENDPOINT']);
  });

  it('a pull that would not fit on the disk stops before the first byte, saying how much is needed', async () => {
    const free = async () => 1_000_000; // the base is ~4.2 MB
    await expectCode(pull(BASE, 'base', { freeBytes: free }), 'DISK_FULL', [BASE, 'GB to download', 'HF_HUB_CACHE']);
    expect(hub.served.size).toBe(0);
    // What is cached already does not count: with the shards in the cache, the rest fits.
    await pull(BASE, 'base');
    hub.served.clear();
    const again = await pull(BASE, 'base', { freeBytes: free });
    expect(again.fetched).toBe(0);
  });

  it('a repo id that was never pulled is not mistaken for a folder by import', async () => {
    await expectCode(resolveCheckpoint('xalma-test/never-pulled', cache), 'HUB_NOT_CACHED', ['xalma-serve pull xalma-test/never-pulled']);
  });
});

describe.skipIf(!HAVE)('the pull and import commands', () => {
  const BIN = join(REPO_ROOT, 'bin', 'xalma-serve.js');
  async function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, timeout: 60_000, env: { ...process.env, ...env } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  it('pull with X-ALMA repo names and --out imports in one command; import then takes the repo ids offline', async () => {
    const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_TOKEN: '' };
    const out = join(work, 'cli-pulled');
    const r = await cli(['pull', BASE, GROUP1, '--out', out, '--dtype', 'int8'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${BASE}@${hub.commitOf(BASE).slice(0, 12)}: 0 file(s) already cached, 9 downloaded`);
    expect(r.stdout).toContain('weights int8');
    expect((await loadModelPackage(out)).manifest.groups.map((g) => g.id)).toEqual([1]);

    hub.log.length = 0;
    const again = await cli(['import', '--base', BASE, '--adapter', `1=${GROUP1}`, '--out', join(work, 'cli-offline')], { ...env, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' });
    expect(again.code, again.stderr).toBe(0);
    expect(hub.log).toEqual([]);
  });

  it('a bare repo id whose role cannot be told from its name is refused with what to say instead', async () => {
    const r = await cli(['pull', 'someone/some-model'], { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--base someone/some-model or --adapter N=someone/some-model');
  });

  it('a gated repo without a token fails with its code and the next step, exit 1', async () => {
    const r = await cli(['pull', '--adapter', `3=${GATED}`], { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_TOKEN: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^HUB_UNAUTHORIZED: .*set HF_TOKEN/m);
  });
});
