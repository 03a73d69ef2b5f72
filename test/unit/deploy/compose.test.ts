/**
 * deploy/compose.yaml cannot run here (no Docker); test/cluster/ starts the same topology
 * without containers. These checks keep the two in step: the replicas' environment is the one
 * the cluster test gives its replicas, nginx runs the same deploy/nginx/xalma.conf, whose
 * upstreams name compose's services, and the shipped nginx config passes `nginx -t` once
 * rendered the way the cluster test renders it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_OPTIONS } from '../../../src/config.ts';
import { COMPOSE_FILE, NGINX_CONF, composeReplicaEnv, renderNginxConfig } from '../../cluster/topology.ts';
import { ensureDebianPackages } from '../../support/services.ts';

interface ComposeService {
  image?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  stop_grace_period?: string;
  healthcheck?: { test: string[] };
}
const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const nginxConf = readFileSync(NGINX_CONF, 'utf8');
const replicas = Object.keys(compose.services).filter((name) => name.startsWith('replica-'));

describe('deploy/compose.yaml and deploy/nginx/xalma.conf', () => {
  it('runs nginx, Redis and 3 replicas that share one environment (the one test/cluster gives its replicas)', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['nginx', 'redis', 'replica-1', 'replica-2', 'replica-3']);
    const env = composeReplicaEnv();
    for (const name of replicas) expect(compose.services[name].environment).toEqual(env);
  });

  it('the replica environment names only options the server knows, with values config.ts accepts', async () => {
    const known = new Set(CONFIG_OPTIONS.flatMap((o) => o.env));
    const env = composeReplicaEnv();
    expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
    const { loadConfig } = await import('../../../src/config.ts');
    const config = await loadConfig([], env);
    expect(config.cacheUrl).toBe('redis://redis:6379');
    expect(config.mode).toBe('merged');
  });

  it('nginx mounts the shipped config, whose upstreams are exactly the replica services on their port', () => {
    expect(compose.services.nginx.volumes).toContain('./nginx/xalma.conf:/etc/nginx/conf.d/default.conf:ro');
    const port = composeReplicaEnv().XALMA_PORT;
    const servers = [...nginxConf.matchAll(/^\s*server (\S+) [^;]*;/gm)].map((m) => m[1]);
    expect(servers).toEqual([...replicas, ...replicas].map((r) => `${r}:${port}`));
    expect(nginxConf).toMatch(/listen 8080; # xalma-listen/);
  });

  it('the cache URL names the redis service, and the stop grace period outlasts the drain bound', () => {
    const env = composeReplicaEnv();
    expect(new URL(env.XALMA_CACHE_URL).hostname).toBe('redis');
    const graceS = Number(/^(\d+)s$/.exec(compose.services['replica-1'].stop_grace_period ?? '')?.[1]);
    expect(graceS * 1000).toBeGreaterThan(Number(env.XALMA_SHUTDOWN_TIMEOUT_MS));
    expect(compose.services['replica-1'].healthcheck?.test.join(' ')).toContain('/ready');
  });

  it('the cluster test rewrites only the marked places of the shipped nginx config', () => {
    const rendered = renderNginxConfig(nginxConf, { port: 18080, upstreams: ['127.0.0.1:1', '127.0.0.1:2'], accessLog: '/tmp/x.log' });
    const strip = (s: string) => s.split('\n').filter((l) => !/xalma-listen|xalma-access-log|^\s*server \S+:\d+ /.test(l));
    expect(strip(rendered)).toEqual(strip(nginxConf));
    expect(rendered).toContain('server 127.0.0.1:2 max_fails=1 fail_timeout=5s;');
    expect(() => renderNginxConfig(nginxConf.replace('# xalma-listen', ''), { port: 1, upstreams: [], accessLog: '/x' })).toThrow(/marker/);
  });

  const noNginx = ensureDebianPackages({ nginx: 'nginx-light' });
  it.skipIf(noNginx)('the shipped nginx config, rendered for the cluster test, passes nginx -t', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xalma-nginx-t-'));
    writeFileSync(join(dir, 'xalma.conf'), renderNginxConfig(nginxConf, { port: 18080, upstreams: ['127.0.0.1:18081', '127.0.0.1:18082'], accessLog: join(dir, 'access.log') }));
    writeFileSync(join(dir, 'nginx.conf'), `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  include ${dir}/xalma.conf;\n}\n`);
    const out = execFileSync('nginx', ['-t', '-c', join(dir, 'nginx.conf'), '-p', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toBe('');
  });
});
