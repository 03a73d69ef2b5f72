/**
 * The Hugging Face Hub cache on this machine, as huggingface-cli, transformers and
 * @huggingface/hub lay it out (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub):
 *
 *   models--<org>--<name>/refs/<revision>                 the commit a branch or tag pointed to
 *   models--<org>--<name>/blobs/<sha256 | git sha1>       file contents, named by their hash
 *   models--<org>--<name>/snapshots/<commit>/<path>       symlinks to the blobs
 *
 * Files any of those tools downloaded are found here and never fetched twice. A repo id given
 * to `import` resolves to its snapshot folder from this cache alone.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { getHFHubCachePath, getRepoFolderName } from '@huggingface/hub';
import { XalmaError } from '../errors.ts';

/** org/name, as the Hub spells repo ids. */
const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
export const COMMIT = /^[0-9a-f]{40}$/;

export function isRepoId(s: string): boolean {
  return REPO_ID.test(s);
}

/** `org/name` or `org/name@revision`. */
export function parseRepoRef(s: string): { repo: string; revision?: string } {
  const at = s.indexOf('@');
  const repo = at < 0 ? s : s.slice(0, at);
  const revision = at < 0 ? undefined : s.slice(at + 1);
  if (!isRepoId(repo) || revision === '') throw new XalmaError('HUB_REPO_NOT_FOUND', `${JSON.stringify(s)} is not a Hub repo id (org/name[@revision])`);
  return { repo, revision };
}

export function hubCacheDir(): string {
  return getHFHubCachePath();
}

export function repoCacheDir(repo: string, cacheDir = hubCacheDir()): string {
  return join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));
}

/** The commit a revision stands for in the cache (a commit hash stands for itself). */
export async function cachedCommit(repo: string, revision = 'main', cacheDir = hubCacheDir()): Promise<string | undefined> {
  if (COMMIT.test(revision)) return revision;
  try {
    const commit = (await readFile(join(repoCacheDir(repo, cacheDir), 'refs', revision), 'utf8')).trim();
    return COMMIT.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

export function snapshotDir(repo: string, commit: string, cacheDir = hubCacheDir()): string {
  return join(repoCacheDir(repo, cacheDir), 'snapshots', commit);
}

/**
 * What `import` does with a --base/--adapter/--merged value: an existing folder is itself; a
 * repo id (optionally @revision) is its snapshot in the Hub cache. Nothing is downloaded here.
 */
export async function resolveCheckpoint(value: string, cacheDir = hubCacheDir()): Promise<string> {
  if (await stat(value).then((s) => s.isDirectory(), () => false)) return value;
  if (!isRepoId(value.split('@')[0])) return value; // not a repo id: the importer reports the missing folder
  const { repo, revision } = parseRepoRef(value);
  const commit = await cachedCommit(repo, revision, cacheDir);
  const dir = commit ? snapshotDir(repo, commit, cacheDir) : undefined;
  if (!dir || !(await stat(dir).then((s) => s.isDirectory(), () => false))) {
    throw new XalmaError('HUB_NOT_CACHED', `${value} is neither a folder nor in the Hub cache (${cacheDir}): run \`xalma-serve pull ${value}\` first, or give the folder`, { repo });
  }
  return dir;
}

/**
 * How a manifest names a checkpoint folder: `org/name@commit` for a Hub-cache snapshot (the
 * folder's own name is only the commit), the folder name otherwise.
 */
export function checkpointName(dir: string): string {
  const m = /models--([^/\\]+?)--([^/\\]+)[/\\]snapshots[/\\]([0-9a-f]{40})[/\\]?$/.exec(resolve(dir));
  return m ? `${m[1]}/${m[2]}@${m[3]}` : basename(resolve(dir));
}
