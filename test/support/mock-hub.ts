/**
 * A stand-in for the Hugging Face Hub on 127.0.0.1, answering the routes @huggingface/hub
 * calls (read from its source, lib/model-info.ts, list-files.ts, file-download-info.ts and
 * utils/WebBlob.ts):
 *   GET /api/models/<org>/<name>/revision/<rev>    model info; `sha` is the commit
 *   GET /api/models/<org>/<name>/tree/<rev>        the file listing (size, git oid, lfs sha256)
 *   GET /<org>/<name>/resolve/<rev>/<path>         the bytes, with Range (206 + Content-Range),
 *                                                  ETag / X-Linked-ETag and X-Repo-Commit
 * Repos are folders of ../shared/fixtures. Faults on demand: a download cut after N bytes, a
 * corrupted file, a gated repo that wants a token. Every request is logged for assertions.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface MockRepo {
  dir: string;
  gated?: boolean;
}

interface RepoFile {
  path: string;
  data: Buffer;
  lfs: boolean;
  sha256: string;
  gitOid: string;
}

export interface MockHub {
  url: string;
  log: Array<{ method: string; url: string; range?: string; auth?: string }>;
  /** Bytes of file contents sent, by `<repo>/<path>`. */
  served: Map<string, number>;
  /** The next download of `<repo>/<path>` stops after this many bytes (once). */
  cutAfter: Map<string, number>;
  /** Downloads of `<repo>/<path>` have one byte flipped. */
  corrupt: Set<string>;
  commitOf(repo: string): string;
  close(): Promise<void>;
}

export const MOCK_TOKEN = 'hf_mock_token_for_tests';
const LFS = /\.(safetensors|bin|model)$/;

function commitOf(repo: string): string {
  return createHash('sha1').update(`commit of ${repo}`).digest('hex');
}

async function loadRepo(dir: string): Promise<RepoFile[]> {
  const files: RepoFile[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const data = await readFile(join(dir, name));
    files.push({
      path: name,
      data,
      lfs: LFS.test(name),
      sha256: createHash('sha256').update(data).digest('hex'),
      gitOid: createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex'),
    });
  }
  return files;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startMockHub(repos: Record<string, MockRepo>): Promise<MockHub> {
  const content = new Map<string, RepoFile[]>();
  for (const [id, r] of Object.entries(repos)) content.set(id, await loadRepo(r.dir));
  const hub: Omit<MockHub, 'url' | 'close'> = { log: [], served: new Map(), cutAfter: new Map(), corrupt: new Set(), commitOf };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    hub.log.push({ method: req.method ?? 'GET', url: url.pathname, range: req.headers.range, auth: req.headers.authorization });
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repo = api?.[1] ?? resolve?.[1];
    const files = repo ? content.get(repo) : undefined;
    if (!repo || !files) return json(res, 404, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
    if (repos[repo].gated && req.headers.authorization !== `Bearer ${MOCK_TOKEN}`) {
      return json(res, 401, { error: `Access to model ${repo} is restricted. You must have access to it and be authenticated to access it. Please log in.` }, { 'x-error-code': 'GatedRepo' });
    }
    const rev = api?.[3] ?? resolve![2];
    if (rev !== 'main' && rev !== commitOf(repo)) return json(res, 404, { error: `Invalid rev id: ${rev}` }, { 'x-error-code': 'RevisionNotFound' });
    if (api?.[2] === 'revision') {
      return json(res, 200, { _id: repo, id: repo, sha: commitOf(repo), private: false, gated: repos[repo].gated ? 'manual' : false, pipeline_tag: 'text-generation', downloads: 0, likes: 0, lastModified: '2025-01-01T00:00:00.000Z', siblings: files.map((f) => ({ rfilename: f.path })) });
    }
    if (api?.[2] === 'tree') {
      return json(res, 200, files.map((f) => ({
        type: 'file',
        path: f.path,
        size: f.lfs ? 134 : f.data.length,
        oid: f.lfs ? createHash('sha1').update(`pointer ${f.sha256}`).digest('hex') : f.gitOid,
        ...(f.lfs ? { lfs: { oid: f.sha256, size: f.data.length, pointerSize: 134 } } : {}),
      })));
    }
    const file = files.find((f) => f.path === resolve![3]);
    if (!file) return json(res, 404, { error: 'Entry not found' }, { 'x-error-code': 'EntryNotFound' });
    const key = `${repo}/${file.path}`;
    let data = file.data;
    if (hub.corrupt.has(key)) {
      data = Buffer.from(data);
      data[data.length >> 1] ^= 0x01;
    }
    const size = data.length;
    let start = 0;
    let end = size - 1;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    }
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag: `"${file.lfs ? file.sha256 : file.gitOid}"`,
      'x-repo-commit': commitOf(repo),
      'content-length': String(end - start + 1),
      ...(file.lfs ? { 'x-linked-etag': `"${file.sha256}"`, 'x-linked-size': String(size) } : {}),
    };
    if (m) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(m ? 206 : 200, headers);
    let body = data.subarray(start, end + 1);
    // A probe of one byte (Range: bytes=0-0) is not a download: faults apply to real reads.
    const cut = body.length > 1 ? hub.cutAfter.get(key) : undefined;
    if (cut !== undefined) {
      hub.cutAfter.delete(key);
      body = body.subarray(0, cut);
      hub.served.set(key, (hub.served.get(key) ?? 0) + body.length);
      // A clean FIN after the cut bytes (not a reset, which may drop bytes still in flight):
      // the client sees the body end short of its Content-Length.
      res.write(body, () => res.socket?.end());
      return;
    }
    if (body.length > 1) hub.served.set(key, (hub.served.get(key) ?? 0) + body.length);
    res.end(body);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    ...hub,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}
