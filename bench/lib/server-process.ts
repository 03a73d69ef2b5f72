/**
 * Our server as the benchmarks see it: a child process started with the real CLI
 * (`tsx src/main.ts serve ...`) on a free loopback port, ready when GET /ready answers 200.
 * Stopped with SIGTERM to its own pid (graceful drain), SIGKILL if it does not exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/paths.ts';

export interface ServerProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const READY_TIMEOUT_MS = 10 * 60_000;

/** `args` are extra `serve` flags (e.g. --mode merged --max-batch-size 32). */
export async function startServerProcess(modelDir: string, args: string[]): Promise<ServerProcess> {
  const port = await freePort();
  const argv = ['--import', 'tsx', join(REPO_ROOT, 'src', 'main.ts'), 'serve', '--model', modelDir, '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn', ...args];
  const child: ChildProcess = spawn(process.execPath, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  // Keep the tail of the output for error messages; always drain the pipes.
  let tail = '';
  const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited) throw new Error(`server exited before it was ready (${argv.slice(3).join(' ')}):\n${tail}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not ready after ${READY_TIMEOUT_MS} ms:\n${tail}`);
    }
    try {
      if ((await fetch(`${url}/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exit;
      clearTimeout(killer);
    },
  };
}
