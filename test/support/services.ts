/**
 * Real outside services for the tests that need them (Redis, nginx, server replicas): Debian
 * packages installed when missing, free loopback ports, and processes started in their own
 * process group and stopped by that group's id (never by name: other work runs on this machine).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { createServer, connect } from 'node:net';

/** `binary -> Debian package`; installs what is missing. Returns a reason when that is impossible. */
export function ensureDebianPackages(wanted: Record<string, string>): string | null {
  const missing = Object.entries(wanted).filter(([bin]) => !hasBinary(bin));
  if (missing.length === 0) return null;
  const packages = missing.map(([, pkg]) => pkg);
  if (process.getuid?.() !== 0) return `missing ${missing.map(([b]) => b).join(', ')} and not root: apt-get install -y ${packages.join(' ')}`;
  // Test files run in parallel workers: one apt at a time (flock), waiting for any other dpkg user.
  const apt = (args: string[], timeout: number) =>
    execFileSync('flock', ['/tmp/xalma-apt.lock', 'apt-get', '-o', 'DPkg::Lock::Timeout=300', ...args], { stdio: 'ignore', timeout, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  try {
    apt(['update'], 300_000);
    apt(['install', '-y', '--no-install-recommends', ...packages], 600_000);
  } catch (err) {
    return `apt-get install ${packages.join(' ')} failed: ${(err as Error).message}`;
  }
  const still = missing.filter(([bin]) => !hasBinary(bin));
  return still.length === 0 ? null : `still missing after apt-get: ${still.map(([b]) => b).join(', ')}`;
}

function hasBinary(bin: string): boolean {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin']) {
    try {
      execFileSync('test', ['-x', `${dir}/${bin}`]);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** A port nothing listens on now (bound and released; then checked that nothing answers on it). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    if (!(await portAnswers(port))) return port;
  }
}

export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface Service {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Signals the whole process group. */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `command` detached (its own process group), stdout and stderr appended to `logFile`. */
export function startService(command: string, args: string[], opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string }): Service {
  const out = openSync(opts.logFile, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out], env: opts.env ?? process.env, cwd: opts.cwd });
  const pid = child.pid!;
  let done = false;
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, sig) => {
      done = true;
      resolve(code ?? sig ?? 'unknown');
    }),
  );
  const signal = (sig: NodeJS.Signals) => {
    if (done) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  return {
    pid,
    child,
    exited,
    signal,
    async stop(graceMs = 5000) {
      if (done) return;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 100 ms until it holds; throws after `ms`. */
export async function waitFor(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** redis-server on 127.0.0.1:port, nothing persisted (a cache), logs in `dir`. */
export function startRedis(port: number, dir: string): Service {
  return startService('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'], {
    logFile: `${dir}/redis-${port}.log`,
  });
}
