/**
 * Access control for /v1/*: optional API keys (Authorization: Bearer <key>) and
 * @fastify/rate-limit per key (per client IP when no keys are configured).
 * Registered inside the /v1 scope only, so health, readiness and metrics stay open to probes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { XalmaError } from '../errors.ts';

export interface AccessOptions {
  apiKeys: readonly string[];
  rateLimitMax: number;
  rateLimitWindowMs: number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export async function installAccess(scope: FastifyInstance, opts: AccessOptions): Promise<void> {
  const keyDigests = opts.apiKeys.map(digest);
  /** The client identity for rate limiting: which key (by index, never the key itself). */
  const identity = new WeakMap<FastifyRequest, string>();

  if (keyDigests.length > 0) {
    scope.addHook('onRequest', async (request) => {
      const header = request.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (!match) throw new XalmaError('API_KEY_INVALID', 'missing Authorization: Bearer header');
      const presented = digest(match[1]);
      // Compare against every key in constant time per key, so timing does not reveal which matched.
      let index = -1;
      keyDigests.forEach((d, i) => {
        if (timingSafeEqual(d, presented)) index = i;
      });
      if (index === -1) throw new XalmaError('API_KEY_INVALID', 'unknown API key');
      identity.set(request, `key-${index}`);
    });
  }

  if (opts.rateLimitMax > 0) {
    await scope.register(rateLimit, {
      max: opts.rateLimitMax,
      timeWindow: opts.rateLimitWindowMs,
      // After the auth hook (onRequest) and before the body is read.
      hook: 'preParsing',
      keyGenerator: (request) => identity.get(request) ?? `ip-${request.ip}`,
      errorResponseBuilder: (_request, context) => new XalmaError('RATE_LIMITED', `limit ${context.max} per ${context.after}`, { limit: context.max, retryAfter: context.after }),
    });
  }
}
