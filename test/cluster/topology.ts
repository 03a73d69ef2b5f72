/**
 * The topology of deploy/compose.yaml started on 127.0.0.1 without containers: N replicas
 * (`node src/main.ts serve`, each its own process group), Redis and nginx running the shipped
 * deploy/nginx/xalma.conf. Replicas get compose's replica environment; only host, port and the
 * cache URL differ, set by flags. Everything is stopped by process-group id.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { freePort, portAnswers, sleep, startRedis, startService, waitFor, type Service } from '../support/services.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
export const NGINX_CONF = join(ROOT, 'deploy/nginx/xalma.conf');
export const COMPOSE_FILE = join(ROOT, 'deploy/compose.yaml');

/** The replica environment of deploy/compose.yaml (its x-xalma-replica block). */
export function composeReplicaEnv(): Record<string, string> {
  const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as { 'x-xalma-replica': { environment: Record<string, string> } };
  return Object.fromEntries(Object.entries(compose['x-xalma-replica'].environment).map(([k, v]) => [k, String(v)]));
}

export interface NginxRender {
  port: number;
  upstreams: string[];
  accessLog: string;
}

/**
 * The shipped config with the three marked places rewritten (upstream server lines, listen
 * port, access log); everything else is used as shipped.
 */
export function renderNginxConfig(text: string, r: NginxRender): string {
  const block = /# xalma-upstream-servers-begin\n([\s\S]*?)# xalma-upstream-servers-end/g;
  let blocks = 0;
  const out = text
    .replace(block, (_m, body: string) => {
      blocks++;
      const options = /server \S+ ([^;]*);/.exec(body)?.[1] ?? '';
      return `# xalma-upstream-servers-begin\n${r.upstreams.map((u) => `    server ${u} ${options};`).join('\n')}\n    # xalma-upstream-servers-end`;
    })
    .replace(/listen \d+; # xalma-listen/, `listen 127.0.0.1:${r.port}; # xalma-listen`)
    .replace(/access_log \S+ (\S+); # xalma-access-log/, `access_log ${r.accessLog} $1; # xalma-access-log`);
  if (blocks !== 2 || !out.includes(`listen 127.0.0.1:${r.port};`) || !out.includes(`access_log ${r.accessLog} `)) {
    throw new Error('deploy/nginx/xalma.conf lost a marker the cluster test rewrites');
  }
  return out;
}

/** The main-context wrapper nginx needs to run unprivileged-style in a temp dir. */
function nginxMainConf(dir: string, include: string): string {
  return [
    'daemon off;',
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/nginx-error.log warn;`,
    'events { worker_connections 4096; }',
    'http {',
    `  client_body_temp_path ${dir}/client_body;`,
    `  proxy_temp_path ${dir}/proxy;`,
    `  fastcgi_temp_path ${dir}/fastcgi;`,
    `  uwsgi_temp_path ${dir}/uwsgi;`,
    `  scgi_temp_path ${dir}/scgi;`,
    `  include ${include};`,
    '}',
    '',
  ].join('\n');
}

export interface ReplicaOptions {
  /** Extra flags after compose's environment (flags win over env). */
  args?: string[];
}

export class Replica {
  service: Service | null = null;
  constructor(
    readonly index: number,
    readonly port: number,
    private readonly dir: string,
    private readonly cacheUrl: string | undefined,
    private readonly opts: ReplicaOptions,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the process; resolves once the port answers (not yet ready). */
  async start(extraArgs: string[] = []): Promise<void> {
    if (await portAnswers(this.port)) throw new Error(`port ${this.port} is taken`);
    const args = ['--import', 'tsx', 'src/main.ts', 'serve', '--host', '127.0.0.1', '--port', String(this.port), ...(this.cacheUrl ? ['--cache-url', this.cacheUrl] : []), ...(this.opts.args ?? []), ...extraArgs];
    this.service = startService(process.execPath, args, {
      cwd: ROOT,
      logFile: join(this.dir, `replica-${this.index}.log`),
      env: { ...process.env, ...composeReplicaEnv(), XALMA_CACHE_URL: '', XALMA_LOG_LEVEL: process.env.XALMA_CLUSTER_LOG_LEVEL ?? 'info' },
    });
    await waitFor(() => portAnswers(this.port), 60_000, `replica ${this.index} listening`);
  }

  async ready(ms = 120_000): Promise<void> {
    await waitFor(async () => {
      if (this.service && (await Promise.race([this.service.exited.then(() => true), sleep(0).then(() => false)]))) throw new Error(`replica ${this.index} exited`);
      try {
        return (await fetch(`${this.url}/ready`)).ok;
      } catch {
        return false;
      }
    }, ms, `replica ${this.index} ready`);
  }

  kill9(): Promise<number | string> {
    this.service!.signal('SIGKILL');
    return this.service!.exited;
  }

  async stop(): Promise<void> {
    await this.service?.stop();
  }
}

export interface ClusterOptions {
  replicas: number;
  redis: boolean;
  dir: string;
  replica?: ReplicaOptions;
}

export class Cluster {
  readonly replicas: Replica[] = [];
  redis: Service | null = null;
  redisPort = 0;
  nginx: Service | null = null;
  nginxPort = 0;
  private readonly extraNginx: Service[] = [];
  readonly accessLog: string;

  constructor(private readonly opts: ClusterOptions) {
    this.accessLog = join(opts.dir, 'nginx-access.log');
  }

  get url(): string {
    return `http://127.0.0.1:${this.nginxPort}`;
  }

  get redisUrl(): string {
    return `redis://127.0.0.1:${this.redisPort}`;
  }

  async start(opts: { nginx?: boolean } = {}): Promise<void> {
    const { dir } = this.opts;
    if (this.opts.redis) {
      this.redisPort = await freePort();
      await this.startRedis();
    }
    for (let i = 0; i < this.opts.replicas; i++) {
      this.replicas.push(new Replica(i + 1, await freePort(), dir, this.opts.redis ? this.redisUrl : undefined, this.opts.replica ?? {}));
    }
    // In parallel: start-up is mostly waiting (model load in a worker, lingua off).
    await Promise.all(this.replicas.map((r) => r.start()));
    await Promise.all(this.replicas.map((r) => r.ready()));
    if (opts.nginx === false) return;
    const nginx = await this.startNginx(this.replicas, 'nginx', this.accessLog);
    this.nginx = nginx.service;
    this.nginxPort = nginx.port;
  }

  /** One more nginx (shipped config) in front of `replicas`; stopped with the cluster. */
  async startNginx(replicas: Replica[], name: string, accessLog = join(this.opts.dir, `${name}-access.log`)): Promise<{ port: number; service: Service; url: string }> {
    const dir = join(this.opts.dir, name);
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const include = join(dir, 'xalma.conf');
    writeFileSync(include, renderNginxConfig(readFileSync(NGINX_CONF, 'utf8'), { port, upstreams: replicas.map((r) => r.address), accessLog }));
    writeFileSync(join(dir, 'nginx.conf'), nginxMainConf(dir, include));
    const service = startService('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { logFile: join(dir, 'nginx-stderr.log') });
    this.extraNginx.push(service);
    await waitFor(() => portAnswers(port), 20_000, `${name} listening`);
    return { port, service, url: `http://127.0.0.1:${port}` };
  }

  async startRedis(): Promise<void> {
    this.redis = startRedis(this.redisPort, this.opts.dir);
    await waitFor(() => portAnswers(this.redisPort), 20_000, 'redis-server listening');
  }

  /** Parsed access-log lines (log_format xalma_upstream). */
  accessEntries(): AccessEntry[] {
    let text = '';
    try {
      text = readFileSync(this.accessLog, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter(Boolean).map(parseAccessLine);
  }

  async stop(): Promise<void> {
    await Promise.all(this.extraNginx.map((n) => n.stop()));
    await Promise.all(this.replicas.map((r) => r.stop()));
    await this.redis?.stop();
  }
}

export interface AccessEntry {
  request: string;
  status: number;
  upstreams: string[];
  upstreamStatuses: string[];
  time: string;
  /** When nginx logged it ($msec: the end of the request), ms since the epoch. */
  atMs: number;
  /** When the request began ($msec - $request_time). */
  startMs: number;
}

export function parseAccessLine(line: string): AccessEntry {
  const m = /\[(\S+)\] msec=([\d.]+) "([^"]*)" (\d+) \S+ rt=([\d.]+) upstream="([^"]*)" ustatus="([^"]*)"/.exec(line);
  if (!m) throw new Error(`unexpected access log line: ${line}`);
  // Tries are separated by ", "; " : " separates upstream groups after an internal redirect.
  const split = (s: string) => (s === '' || s === '-' ? [] : s.split(/, | : /));
  const atMs = Math.round(Number(m[2]) * 1000);
  return { time: m[1], atMs, startMs: atMs - Math.round(Number(m[5]) * 1000), request: m[3], status: Number(m[4]), upstreams: split(m[6]), upstreamStatuses: split(m[7]) };
}
