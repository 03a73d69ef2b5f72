/**
 * Debian's `chromium` for the browser tests and the page screenshot: found on PATH, or installed
 * with apt-get when missing (the only download is a Debian package, as the workplace allows).
 * When it cannot be had (not root, no apt-get, the install failed) the caller gets the reason
 * instead of a path and skips, saying why.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export type ChromiumLookup = { path: string } | { path: null; reason: string };

function which(name: string): string | null {
  const found = spawnSync('which', [name], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

export function ensureChromium(): ChromiumLookup {
  const present = which('chromium');
  if (present) return { path: present };
  if (process.getuid?.() !== 0) return { path: null, reason: 'chromium is missing and installing it needs root (apt-get install -y chromium)' };
  if (!which('apt-get')) return { path: null, reason: 'chromium is missing and there is no apt-get to install it with' };
  process.stderr.write('chromium is missing: apt-get update && apt-get install -y chromium (once per machine)\n');
  try {
    // Waits for another apt/dpkg run instead of failing on its lock.
    const lock = ['-o', 'DPkg::Lock::Timeout=300'];
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', [...lock, 'update'], { stdio: ['ignore', 'ignore', 'pipe'], env });
    execFileSync('apt-get', [...lock, 'install', '-y', '--no-install-recommends', 'chromium'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-3).join(' | ');
    return { path: null, reason: `installing chromium failed: ${stderr || String(err)}` };
  }
  const installed = which('chromium');
  return installed ? { path: installed } : { path: null, reason: 'apt-get installed chromium but it is not on PATH' };
}
