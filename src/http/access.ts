/**
 * Access control: optional API keys and @fastify/rate-limit per key (per client IP when no keys
 * are configured). /v1 reads the key from `Authorization: Bearer <key>` (installAccess); the
 * compatible APIs read it where their clients send it (DeepL: `Authorization: DeepL-Auth-Key`,
 * LibreTranslate: `api_key` in the body) with ApiKeyRing and installRateLimit, and answer in
 * their own error shapes. Registered inside the API scopes only, so health, readiness and metrics
 * stay open to probes.
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

/** The configured API keys, held as digests; answers which key (by index, never the key itself) a client presented. */
export class ApiKeyRing {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  /** Keys are configured: every request to an API must present one. */
  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** `key-<index>` of the matching key, or undefined. */
  identify(presented: string): string | undefined {
    const d = digest(presented);
    // Compare against every key in constant time per key, so timing does not reveal which matched.
    let index = -1;
    this.digests.forEach((k, i) => {
      if (timingSafeEqual(k, d)) index = i;
    });
    return index === -1 ? undefined : `key-${index}`;
  }
}

/** The key in an Authorization header of the form `<scheme> <key>`, for any of `schemes` (case-insensitive). */
export function keyFromAuthorization(header: unknown, schemes: readonly string[]): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^(\S+)\s+(\S+)\s*$/.exec(header);
  if (!match || !schemes.some((s) => s.toLowerCase() === match[1].toLowerCase())) return undefined;
  return match[2];
}

export interface RateLimitOptions {
  max: number;
  windowMs: number;
  /** preParsing when the identity is known from headers; preHandler when it comes from the body. */
  hook: 'preParsing' | 'preHandler';
  /** The client's identity for the window (a key index), or undefined to count by client IP. */
  identity: (request: FastifyRequest) => string | undefined;
  /** The error to throw at the limit, in the API's own shape. */
  error: (limit: { max: number; after: string }) => Error;
}

/**
 * @fastify/rate-limit in `scope`. Each scope has its own window: a client that uses two API
 * families has the limit once in each (documented in the README).
 */
export async function installRateLimit(scope: FastifyInstance, opts: RateLimitOptions): Promise<void> {
  if (opts.max <= 0) return;
  await scope.register(rateLimit, {
    max: opts.max,
    timeWindow: opts.windowMs,
    hook: opts.hook,
    keyGenerator: (request) => opts.identity(request) ?? `ip-${request.ip}`,
    errorResponseBuilder: (_request, context) => opts.error({ max: context.max, after: context.after }),
  });
}

/** /v1: Authorization: Bearer <key> checked on arrival, then the rate limit before the body is read. */
export async function installAccess(scope: FastifyInstance, opts: AccessOptions): Promise<void> {
  const keys = new ApiKeyRing(opts.apiKeys);
  /** The client identity for rate limiting: which key (by index, never the key itself). */
  const identity = new WeakMap<FastifyRequest, string>();

  if (keys.enabled) {
    scope.addHook('onRequest', async (request) => {
      const presented = keyFromAuthorization(request.headers.authorization, ['Bearer']);
      if (presented === undefined) throw new XalmaError('API_KEY_INVALID', 'missing Authorization: Bearer header');
      const id = keys.identify(presented);
      if (id === undefined) throw new XalmaError('API_KEY_INVALID', 'unknown API key');
      identity.set(request, id);
    });
  }

  await installRateLimit(scope, {
    max: opts.rateLimitMax,
    windowMs: opts.rateLimitWindowMs,
    // After the auth hook (onRequest) and before the body is read.
    hook: 'preParsing',
    identity: (request) => identity.get(request),
    error: (limit) => new XalmaError('RATE_LIMITED', `limit ${limit.max} per ${limit.after}`, { limit: limit.max, retryAfter: limit.after }),
  });
}
