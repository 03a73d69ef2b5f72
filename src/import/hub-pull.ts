/**
 * `xalma-serve pull`: fetch what the importer needs from the Hugging Face Hub into the standard
 * Hub cache (hub-cache.ts), through the Hub's own JS client (@huggingface/hub: model info for
 * the commit, the tree listing for sizes and LFS sha256, downloadFile for the bytes, with its
 * Range requests and Xet support). What this file adds is what a self-hoster expects of
 * `ollama pull` or `huggingface-cli download`:
 *   - only the files the import needs (config, tokenizer, weights; merged models on request);
 *   - nothing fetched twice: a blob already in the cache (from any tool) is linked, not fetched;
 *   - resume: bytes go to blobs/<hash>.incomplete and a later pull continues from its end;
 *   - verification: size, and the hash the Hub lists (LFS sha256, git sha1 for small files),
 *     before a blob is renamed into place;
 *   - free disk space checked before the first byte; progress per file and in total;
 *   - HF_HUB_OFFLINE=1: the cache alone, no request made.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, statfs, symlink, writeFile, lstat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { downloadFile, HubApiError, listFiles, modelInfo, type ListFileEntry } from '@huggingface/hub';
import { XalmaError, isXalmaError } from '../errors.ts';
import { cachedCommit, COMMIT, hubCacheDir, repoCacheDir, snapshotDir } from './hub-cache.ts';

/** What a repo is for: which of its files the import reads. */
export type RepoRole = 'base' | 'adapter' | 'merged';

export interface HubSettings {
  /** HF_ENDPOINT (a mirror), default https://huggingface.co */
  endpoint?: string;
  /** HF_TOKEN, for gated and private repos. */
  token?: string;
  /** HF_HUB_OFFLINE=1: the cache alone. */
  offline?: boolean;
  cacheDir?: string;
  fetch?: typeof fetch;
}

/** The settings the Hugging Face tools read from the environment. */
export function hubSettingsFromEnv(env: NodeJS.ProcessEnv): HubSettings {
  const offline = /^(1|true|yes|on)$/i.test(env.HF_HUB_OFFLINE ?? '');
  return {
    endpoint: env.HF_ENDPOINT?.replace(/\/+$/, '') || undefined,
    token: env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined,
    offline,
  };
}

export interface PullProgress {
  repo: string;
  file: string;
  fileDone: number;
  fileTotal: number;
  /** Over every file this pull fetches (cached ones excluded). */
  done: number;
  total: number;
}

export interface PullOptions extends HubSettings {
  repo: string;
  role: RepoRole;
  revision?: string;
  onProgress?: (p: PullProgress) => void;
  /** Called once per file with what the pull decided for it. */
  onFile?: (f: PulledFile) => void;
  /** Free bytes on the disk holding `dir` (default: statfs); injectable for tests. */
  freeBytes?: (dir: string) => Promise<number>;
  signal?: AbortSignal;
}

export interface PulledFile {
  path: string;
  size: number;
  /** 'cached': blob already here; 'downloaded': fetched now (resumed: from a partial file). */
  status: 'cached' | 'downloaded';
  resumedFrom?: number;
}

export interface PullResult {
  repo: string;
  commit: string;
  dir: string;
  files: PulledFile[];
  /** Bytes fetched over the network by this pull. */
  fetched: number;
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model'];

/** The files of a repo's listing the import reads, by role. */
export function selectFiles(role: RepoRole, paths: readonly string[]): string[] {
  const has = new Set(paths);
  if (role === 'adapter') {
    const weights = has.has('adapter_model.safetensors') ? 'adapter_model.safetensors' : 'adapter_model.bin';
    return ['adapter_config.json', weights].filter((p) => has.has(p));
  }
  const small = ['config.json', 'generation_config.json', ...TOKENIZER_FILES].filter((p) => has.has(p));
  const index = has.has('model.safetensors.index.json');
  // Shards are named model-0000k-of-0000n.safetensors; the index lists them all.
  const weights = index
    ? ['model.safetensors.index.json', ...paths.filter((p) => /^model-\d+-of-\d+\.safetensors$/.test(p))]
    : paths.filter((p) => p === 'model.safetensors');
  return [...small, ...weights];
}

function hubError(err: unknown, repo: string, settings: HubSettings): XalmaError {
  if (isXalmaError(err)) return err;
  const where = settings.endpoint ?? 'https://huggingface.co';
  if (err instanceof HubApiError) {
    if (err.statusCode === 401 || err.statusCode === 403) {
      return new XalmaError('HUB_UNAUTHORIZED', `${repo}: the Hub answered ${err.statusCode}. The repo is gated or private: ${settings.token ? 'the token in HF_TOKEN has no access to it' : 'set HF_TOKEN to a token of yours'} and accept the model's terms at ${where}/${repo}`, { repo, status: err.statusCode }, { cause: err });
    }
    if (err.statusCode === 404) {
      return new XalmaError('HUB_REPO_NOT_FOUND', `${repo}: not found on ${where} (check the spelling and the revision; a private repo also answers 404 without a token)`, { repo }, { cause: err });
    }
    return new XalmaError('HUB_UNREACHABLE', `${repo}: the Hub answered ${err.statusCode} (${err.message})`, { repo, status: err.statusCode }, { cause: err });
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC') return new XalmaError('DISK_FULL', `${repo}: the disk filled up while downloading; free space or set HF_HUB_CACHE to a larger disk, then pull again (it resumes)`, { repo }, { cause: err });
  // fetch (undici) reports a network failure as TypeError('fetch failed') with the cause inside;
  // a cut connection mid-body surfaces as the socket's own error.
  const causeCode = ((err as { cause?: NodeJS.ErrnoException }).cause)?.code;
  const network = ['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE', 'UND_ERR_SOCKET'];
  if ((err instanceof TypeError && /fetch failed|terminated/i.test(err.message)) || network.includes(code ?? '') || network.includes(causeCode ?? '')) {
    return new XalmaError('HUB_UNREACHABLE', `${repo}: cannot reach ${where} (${(err as Error).message}${(err as { cause?: Error }).cause ? `: ${(err as { cause?: Error }).cause!.message}` : ''}). Check the network, set HF_ENDPOINT for a mirror, or HF_HUB_OFFLINE=1 to use what is cached; a pull that was cut resumes where it stopped`, { repo }, { cause: err });
  }
  return new XalmaError('INTERNAL_ERROR', `${repo}: ${(err as Error).message}`, { repo }, { cause: err });
}

async function diskFree(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

async function linkSnapshot(blobPath: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  await rm(pointer, { force: true });
  await symlink(relative(dirname(pointer), blobPath), pointer);
}

/** The hash the Hub lists for a file: LFS files by sha256, others by git's blob sha1. */
function expectedHash(e: ListFileEntry): { name: string; algo: 'sha256' | 'git-sha1'; size: number } {
  if (e.lfs) return { name: e.lfs.oid, algo: 'sha256', size: e.lfs.size };
  return { name: e.oid ?? '', algo: 'git-sha1', size: e.size };
}

function newHash(algo: 'sha256' | 'git-sha1', size: number): Hash {
  if (algo === 'sha256') return createHash('sha256');
  return createHash('sha1').update(`blob ${size}\0`);
}

async function hashExisting(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

/** Offline: the snapshot of the cached commit, as it is. */
async function fromCache(opts: PullOptions, cacheDir: string): Promise<PullResult> {
  const commit = await cachedCommit(opts.repo, opts.revision, cacheDir);
  const dir = commit ? snapshotDir(opts.repo, commit, cacheDir) : undefined;
  if (!commit || !dir || !(await exists(dir))) {
    throw new XalmaError('HUB_NOT_CACHED', `${opts.repo}${opts.revision ? `@${opts.revision}` : ''}: HF_HUB_OFFLINE is set and the repo is not in the Hub cache (${cacheDir}); pull it once with the network`, { repo: opts.repo });
  }
  return { repo: opts.repo, commit, dir, files: [], fetched: 0 };
}

export async function pullRepo(opts: PullOptions): Promise<PullResult> {
  const cacheDir = opts.cacheDir ?? hubCacheDir();
  if (opts.offline) return fromCache(opts, cacheDir);
  const common = { hubUrl: opts.endpoint, accessToken: opts.token, fetch: opts.fetch };
  const repoDir = repoCacheDir(opts.repo, cacheDir);
  try {
    const info = await modelInfo({ name: opts.repo, revision: opts.revision ?? 'main', additionalFields: ['sha'], ...common });
    const commit = (info as { sha?: string }).sha;
    if (!commit || !COMMIT.test(commit)) throw new XalmaError('HUB_UNREACHABLE', `${opts.repo}: the Hub did not say which commit ${opts.revision ?? 'main'} is`);
    const entries: ListFileEntry[] = [];
    for await (const e of listFiles({ repo: opts.repo, revision: commit, recursive: true, ...common })) if (e.type === 'file') entries.push(e);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const wanted = selectFiles(opts.role, [...byPath.keys()]);
    if (!wanted.some((p) => p.endsWith('.safetensors') || p.endsWith('.bin'))) {
      throw new XalmaError('HUB_REPO_NOT_FOUND', `${opts.repo}: no ${opts.role === 'adapter' ? 'adapter_model.safetensors or .bin' : 'model.safetensors or shards'} in the repo at ${commit.slice(0, 12)}; is it the right repo for --${opts.role === 'base' ? 'base' : opts.role}?`, { repo: opts.repo });
    }
    const snap = snapshotDir(opts.repo, commit, cacheDir);

    // What is already here, what is half here, and whether the rest fits on the disk.
    const plan: Array<{ e: ListFileEntry; blob: string; partial: number }> = [];
    const files: PulledFile[] = [];
    for (const path of wanted) {
      const e = byPath.get(path)!;
      const h = expectedHash(e);
      const blob = join(repoDir, 'blobs', h.name);
      const have = await stat(blob).catch(() => null);
      if (have && have.size === h.size) {
        await linkSnapshot(blob, join(snap, path));
        const f: PulledFile = { path, size: h.size, status: 'cached' };
        files.push(f);
        opts.onFile?.(f);
        continue;
      }
      const partial = (await stat(`${blob}.incomplete`).catch(() => null))?.size ?? 0;
      plan.push({ e, blob, partial: partial <= h.size ? partial : 0 });
    }
    const total = plan.reduce((n, p) => n + expectedHash(p.e).size - p.partial, 0);
    if (total > 0) {
      await mkdir(join(repoDir, 'blobs'), { recursive: true });
      const free = await (opts.freeBytes ?? diskFree)(join(repoDir, 'blobs'));
      if (total > free) {
        throw new XalmaError('DISK_FULL', `${opts.repo}: ${(total / 1e9).toFixed(2)} GB to download, ${(free / 1e9).toFixed(2)} GB free in ${cacheDir}; free space or set HF_HUB_CACHE to a larger disk`, { repo: opts.repo, needed: total, free });
      }
    }

    let done = 0;
    let fetched = 0;
    for (const { e, blob, partial } of plan) {
      const h = expectedHash(e);
      const incomplete = `${blob}.incomplete`;
      const hash = newHash(h.algo, h.size);
      if (partial > 0) await hashExisting(incomplete, hash);
      else await rm(incomplete, { force: true });
      const fh = await open(incomplete, partial > 0 ? 'a' : 'w');
      let fileDone = partial;
      try {
        if (partial < h.size) {
          const remote = await downloadFile({ repo: opts.repo, path: e.path, revision: commit, ...common });
          if (!remote) throw new XalmaError('HUB_REPO_NOT_FOUND', `${opts.repo}: ${e.path} is listed but cannot be downloaded`, { repo: opts.repo });
          // A Range request from where the partial file ends (WebBlob.slice), or the whole file.
          for await (const chunk of remote.slice(partial).stream() as unknown as AsyncIterable<Uint8Array>) {
            opts.signal?.throwIfAborted();
            await fh.write(chunk);
            hash.update(chunk);
            fileDone += chunk.byteLength;
            done += chunk.byteLength;
            fetched += chunk.byteLength;
            opts.onProgress?.({ repo: opts.repo, file: e.path, fileDone, fileTotal: h.size, done, total });
          }
        }
      } finally {
        await fh.close();
      }
      const actual = hash.digest('hex');
      if (fileDone !== h.size || actual !== h.name) {
        await rm(incomplete, { force: true });
        throw new XalmaError('DOWNLOAD_CHECKSUM_MISMATCH', `${opts.repo}: ${e.path}: ${fileDone} bytes with ${h.algo} ${actual}, the Hub lists ${h.size} bytes with ${h.name}; the partial file was removed, pull again`, { repo: opts.repo, file: e.path });
      }
      await rename(incomplete, blob);
      await linkSnapshot(blob, join(snap, e.path));
      const f: PulledFile = { path: e.path, size: h.size, status: 'downloaded', ...(partial > 0 ? { resumedFrom: partial } : {}) };
      files.push(f);
      opts.onFile?.(f);
    }
    if (!COMMIT.test(opts.revision ?? 'main')) {
      await mkdir(join(repoDir, 'refs'), { recursive: true });
      await writeFile(join(repoDir, 'refs', opts.revision ?? 'main'), commit);
    }
    return { repo: opts.repo, commit, dir: snap, files, fetched };
  } catch (err) {
    if ((err as Error)?.name === 'AbortError' || opts.signal?.aborted) throw err;
    throw hubError(err, opts.repo, opts);
  }
}
