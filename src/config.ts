/**
 * One typed, validated options object for the server (DESIGN 2: flags > env > file > defaults).
 * The table below is the single definition of every option: its flag, environment variables,
 * file key, default and bounds. `loadConfig` reads all sources, validates every value and throws
 * one CONFIG_INVALID error that lists every problem in words an operator can act on.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { XalmaError } from './errors.ts';
import { DEFAULT_SUPERVISION } from './engine/threaded-engine.ts';
import type { LoadingMode } from './engine/types.ts';
import { DEFAULT_ENGINES, ENGINE_NAMES, type EngineName } from './languages/engine-names.ts';
import { DEFAULT_MODEL_DIR, DEFAULT_MODEL_RELATIVE } from './paths.ts';

export interface Config {
  modelDir: string;
  mode: LoadingMode;
  provider: 'cpu' | 'cuda';
  cudaDeviceId: number;
  cudaMemLimitMb: number;
  intraOpThreads: number;
  interOpThreads: number;
  maxResidentModules: number;
  maxMergedSessions: number;
  host: string;
  port: number;
  maxBatchSize: number;
  maxBatchTokens: number;
  maxPrefillTokens: number;
  prefixCacheMb: number;
  maxWaitMs: number;
  groupAgeBoundMs: number;
  maxQueue: number;
  requestTimeoutMs: number;
  retryAfterSeconds: number;
  shutdownTimeoutMs: number;
  engineMaxRestarts: number;
  engineRestartWindowMs: number;
  engineHangTimeoutMs: number;
  bodyLimitBytes: number;
  bodyTimeoutMs: number;
  maxTextChars: number;
  maxItems: number;
  defaultMaxNewTokens: number;
  maxNewTokensLimit: number;
  maxBeams: number;
  cacheBytes: number;
  cacheUrl: string;
  cacheTimeoutMs: number;
  cacheTtlSeconds: number;
  apiKeys: string[];
  rateLimitMax: number;
  rateLimitWindowMs: number;
  characterQuota: number;
  corsOrigins: string[];
  detectEngines: EngineName[];
  detectPreload: 'on' | 'off';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

type Kind = 'string' | 'int' | 'enum' | 'list';

export interface OptionSpec {
  key: keyof Config;
  flag: string;
  env: readonly string[];
  kind: Kind;
  default: string | number | readonly string[];
  min?: number;
  max?: number;
  values?: readonly string[];
  /** Values are secrets: never echoed back in errors or logs. */
  secret?: boolean;
  description: string;
}

/** `defaultConfig().modelDir` (defined in paths.ts with the repository root). */
export { DEFAULT_MODEL_DIR };
const MIB = 1024 * 1024;

export const CONFIG_OPTIONS: readonly OptionSpec[] = [
  { key: 'modelDir', flag: '--model', env: ['XALMA_MODEL'], kind: 'string', default: DEFAULT_MODEL_RELATIVE, description: 'Model package folder (holds manifest.json)' },
  { key: 'mode', flag: '--mode', env: ['XALMA_MODE'], kind: 'enum', values: ['all', 'single', 'merged'], default: 'all', description: 'How group modules are held: all (one batch mixes groups), single (base + one module on demand), merged (a merged model per group)' },
  { key: 'provider', flag: '--provider', env: ['XALMA_PROVIDER'], kind: 'enum', values: ['cpu', 'cuda'], default: 'cpu', description: 'onnxruntime execution provider' },
  { key: 'cudaDeviceId', flag: '--cuda-device', env: ['XALMA_CUDA_DEVICE'], kind: 'int', min: 0, max: 64, default: 0, description: 'CUDA device id (provider cuda)' },
  { key: 'cudaMemLimitMb', flag: '--cuda-mem-limit-mb', env: ['XALMA_CUDA_MEM_LIMIT_MB'], kind: 'int', min: 0, max: 4_194_304, default: 0, description: 'CUDA arena limit in MiB, 0 = no limit' },
  { key: 'intraOpThreads', flag: '--intra-op-threads', env: ['XALMA_INTRA_OP_THREADS'], kind: 'int', min: 0, max: 1024, default: 0, description: 'ORT intra-op threads, 0 = ORT default (one per core)' },
  { key: 'interOpThreads', flag: '--inter-op-threads', env: ['XALMA_INTER_OP_THREADS'], kind: 'int', min: 0, max: 1024, default: 0, description: 'ORT inter-op threads, 0 = ORT default' },
  { key: 'maxResidentModules', flag: '--max-resident-modules', env: ['XALMA_MAX_RESIDENT_MODULES'], kind: 'int', min: 1, max: 64, default: 2, description: 'single mode: modules kept in memory (LRU)' },
  { key: 'maxMergedSessions', flag: '--max-merged-sessions', env: ['XALMA_MAX_MERGED_SESSIONS'], kind: 'int', min: 1, max: 64, default: 2, description: 'merged mode: merged group sessions kept open (LRU)' },
  { key: 'host', flag: '--host', env: ['HOST', 'XALMA_HOST'], kind: 'string', default: '127.0.0.1', description: 'Listen address (the Docker image sets 0.0.0.0)' },
  { key: 'port', flag: '--port', env: ['PORT', 'XALMA_PORT'], kind: 'int', min: 0, max: 65535, default: 8080, description: 'Listen port (0 = any free port)' },
  // Batch cap 32: on 2 cores output tokens/s still grows from batch 16 to 32 (bench/results/engine.md),
  // and DESIGN 4 measures batching at 32 concurrent requests. Max wait 15 ms (from the later of a
  // row's arrival and the engine freeing up): closed-loop clients whose batch just ended send
  // their next requests over ~10 ms, and a 5 ms window sent half-full batches (bench/results/
  // peers.md); 15 ms is ~1% of a bench-model translation. The 200 ms group age bound is a
  // starting point, not yet tuned by measurement.
  { key: 'maxBatchSize', flag: '--max-batch-size', env: ['XALMA_MAX_BATCH_SIZE'], kind: 'int', min: 1, max: 1024, default: 32, description: 'Most rows the engine runs at once (a beam counts as a row); rows join and leave its batch at every step' },
  // The engine's step loop (src/engine/generate.ts). Tokens reserved = prompt + maxNewTokens per row; the KV cache holds them.
  { key: 'maxBatchTokens', flag: '--max-batch-tokens', env: ['XALMA_MAX_BATCH_TOKENS'], kind: 'int', min: 64, max: 16_777_216, default: 16_384, description: 'Most tokens the running rows may reserve (prompt + maxNewTokens each); the KV cache holds rows x the longest such reservation, 8 x layers x kvHeads x headDim bytes per token' },
  { key: 'maxPrefillTokens', flag: '--max-prefill-tokens', env: ['XALMA_MAX_PREFILL_TOKENS'], kind: 'int', min: 1, max: 1_048_576, default: 512, description: 'Most prompt tokens prefilled between two decode steps: running rows wait at most one such prefill for new ones (one prompt always goes)' },
  { key: 'prefixCacheMb', flag: '--prefix-cache-mb', env: ['XALMA_PREFIX_CACHE_MB'], kind: 'int', min: 0, max: 1_048_576, default: 256, description: 'Memory for the keys and values of prompt heads (the start every prompt of a language pair shares), so later prompts of the pair skip that part of their prefill; 0 turns it off' },
  { key: 'maxWaitMs', flag: '--max-wait-ms', env: ['XALMA_MAX_WAIT_MS'], kind: 'int', min: 0, max: 10_000, default: 15, description: 'How long an idle engine waits for a batch to fill (from the later of the oldest row and the engine freeing up)' },
  { key: 'groupAgeBoundMs', flag: '--group-age-bound-ms', env: ['XALMA_GROUP_AGE_BOUND_MS'], kind: 'int', min: 0, max: 600_000, default: 200, description: 'single/merged: stay on the active group only while the oldest queued item is younger than this' },
  { key: 'maxQueue', flag: '--max-queue', env: ['XALMA_MAX_QUEUE'], kind: 'int', min: 1, max: 1_000_000, default: 512, description: 'Queued rows beyond which requests get 503 QUEUE_FULL' },
  { key: 'requestTimeoutMs', flag: '--request-timeout-ms', env: ['XALMA_REQUEST_TIMEOUT_MS'], kind: 'int', min: 1, max: 86_400_000, default: 60_000, description: 'Per-request deadline (504 DEADLINE_EXCEEDED)' },
  { key: 'retryAfterSeconds', flag: '--retry-after-s', env: ['XALMA_RETRY_AFTER_S'], kind: 'int', min: 1, max: 3600, default: 1, description: 'Retry-After sent with retryable errors (503 QUEUE_FULL, NOT_READY, ENGINE_RESTARTED, ...)' },
  { key: 'shutdownTimeoutMs', flag: '--shutdown-timeout-ms', env: ['XALMA_SHUTDOWN_TIMEOUT_MS'], kind: 'int', min: 0, max: 3_600_000, default: 30_000, description: 'On SIGTERM/SIGINT: how long in-flight work may drain before it is aborted' },
  // Supervision of the engine worker (src/engine/threaded-engine.ts gives the reasons for the defaults).
  { key: 'engineMaxRestarts', flag: '--engine-max-restarts', env: ['XALMA_ENGINE_MAX_RESTARTS'], kind: 'int', min: 0, max: 1000, default: DEFAULT_SUPERVISION.maxRestarts, description: 'Engine workers the server may start within --engine-restart-window-ms to replace one that exited or stopped answering; one more loss in the window makes /health answer 503 ENGINE_FAILED so that an orchestrator restarts the process' },
  { key: 'engineRestartWindowMs', flag: '--engine-restart-window-ms', env: ['XALMA_ENGINE_RESTART_WINDOW_MS'], kind: 'int', min: 1000, max: 86_400_000, default: DEFAULT_SUPERVISION.restartWindowMs, description: 'The sliding window of --engine-max-restarts' },
  { key: 'engineHangTimeoutMs', flag: '--engine-hang-timeout-ms', env: ['XALMA_ENGINE_HANG_TIMEOUT_MS'], kind: 'int', min: 0, max: 3_600_000, default: DEFAULT_SUPERVISION.hangTimeoutMs, description: 'An engine worker that answers no ping for this long while it runs no onnxruntime call is replaced (one in a call is never interrupted), 0 = never' },
  { key: 'bodyLimitBytes', flag: '--body-limit', env: ['XALMA_BODY_LIMIT'], kind: 'int', min: 1024, max: 1024 * MIB, default: MIB, description: 'Largest request body in bytes (413 BODY_TOO_LARGE)' },
  // 30 s: a 1 MiB body at 64 KiB/s (a slow mobile uplink) still arrives; a client that stalls is
  // answered 408 and its socket freed instead of being held for ever (the server had no bound: 2000
  // stalled sockets stayed open). Behind nginx, its client_body_timeout acts first (deploy/nginx/).
  { key: 'bodyTimeoutMs', flag: '--body-timeout-ms', env: ['XALMA_BODY_TIMEOUT_MS'], kind: 'int', min: 100, max: 3_600_000, default: 30_000, description: 'How long a client may take to send a whole request, headers and body; past it the request is answered 408 REQUEST_TIMEOUT and the connection closed' },
  { key: 'maxTextChars', flag: '--max-text-chars', env: ['XALMA_MAX_TEXT_CHARS'], kind: 'int', min: 1, max: 1_000_000, default: 4000, description: 'Longest text per item, in characters (TEXT_TOO_LONG)' },
  { key: 'maxItems', flag: '--max-items', env: ['XALMA_MAX_ITEMS'], kind: 'int', min: 1, max: 100_000, default: 64, description: 'Most texts per request (TOO_MANY_ITEMS)' },
  { key: 'defaultMaxNewTokens', flag: '--default-max-new-tokens', env: ['XALMA_DEFAULT_MAX_NEW_TOKENS'], kind: 'int', min: 1, max: 100_000, default: 256, description: 'maxNewTokens when a request does not say' },
  { key: 'maxNewTokensLimit', flag: '--max-new-tokens-limit', env: ['XALMA_MAX_NEW_TOKENS_LIMIT'], kind: 'int', min: 1, max: 100_000, default: 1024, description: 'Largest maxNewTokens a request may ask for' },
  { key: 'maxBeams', flag: '--max-beams', env: ['XALMA_MAX_BEAMS'], kind: 'int', min: 1, max: 64, default: 8, description: 'Largest beams a request may ask for' },
  { key: 'cacheBytes', flag: '--cache-bytes', env: ['XALMA_CACHE_BYTES'], kind: 'int', min: 0, max: 64 * 1024 * MIB, default: 64 * MIB, description: 'Translation cache size in bytes, 0 = off' },
  { key: 'cacheUrl', flag: '--cache-url', env: ['XALMA_CACHE_URL'], kind: 'string', default: '', secret: true, description: 'redis:// (or rediss://) URL of a translation cache shared by replicas, consulted after the in-process one; empty = none. Redis down or slow never fails a request: it is logged once and counted in /metrics' },
  // 50 ms: a Redis on the same network answers a GET in well under 1 ms; a lookup that takes longer
  // is costing the request more than it may save, and a miss then costs at most this much.
  { key: 'cacheTimeoutMs', flag: '--cache-timeout-ms', env: ['XALMA_CACHE_TIMEOUT_MS'], kind: 'int', min: 1, max: 60_000, default: 50, description: 'Shared cache (--cache-url): command timeout; a slower answer counts as an error and the request goes on without the cache' },
  { key: 'cacheTtlSeconds', flag: '--cache-ttl-s', env: ['XALMA_CACHE_TTL_S'], kind: 'int', min: 0, max: 31_536_000, default: 604_800, description: "Shared cache (--cache-url): how long an entry lives, 0 = for ever (then bound Redis with maxmemory and an LRU policy)" },
  { key: 'apiKeys', flag: '--api-keys', env: ['XALMA_API_KEYS'], kind: 'list', default: [], secret: true, description: 'Comma-separated API keys; when set, /v1/* needs Authorization: Bearer <key> (prefer the env var or file over the flag)' },
  { key: 'rateLimitMax', flag: '--rate-limit', env: ['XALMA_RATE_LIMIT'], kind: 'int', min: 0, max: 10_000_000, default: 0, description: 'Requests per window per API key (per client IP without keys), 0 = off' },
  { key: 'rateLimitWindowMs', flag: '--rate-limit-window-ms', env: ['XALMA_RATE_LIMIT_WINDOW_MS'], kind: 'int', min: 1, max: 86_400_000, default: 60_000, description: 'Rate-limit window' },
  { key: 'characterQuota', flag: '--character-quota', env: ['XALMA_CHARACTER_QUOTA'], kind: 'int', min: 0, max: 1_000_000_000_000, default: 0, description: 'DeepL-compatible API: characters each API key (all clients together when no keys are set) may send to /v2/translate while the server runs; a request that would pass it gets 456, /v2/usage reports it. 0 = no quota' },
  { key: 'corsOrigins', flag: '--cors-origins', env: ['XALMA_CORS_ORIGINS'], kind: 'list', default: [], description: 'Comma-separated allowed CORS origins ("*" for any); empty = CORS off' },
  { key: 'detectEngines', flag: '--detect-engines', env: ['XALMA_DETECT_ENGINES'], kind: 'list', values: ENGINE_NAMES, default: DEFAULT_ENGINES, description: `Language-detection engines to combine; without lingua, start-up is about 9 s faster, the server about 700 MB smaller, and 3-word detection 1.4 points worse` },
  { key: 'detectPreload', flag: '--detect-preload', env: ['XALMA_DETECT_PRELOAD'], kind: 'enum', values: ['on', 'off'], default: 'on', description: "on: load lingua's models at start-up (about 9 s, overlapping the engine's start); off: on first use of each language (a request can then wait ~100 ms per new language)" },
  { key: 'logLevel', flag: '--log-level', env: ['XALMA_LOG_LEVEL', 'LOG_LEVEL'], kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', description: 'pino log level' },
];

/** The config-file option itself (not part of Config). */
export const CONFIG_FILE_OPTION = { flag: '--config', env: 'XALMA_CONFIG', description: 'Optional JSON file whose keys are the option names of the table (camelCase)' };

type Source = { origin: string; value: unknown };

/** flags > env > file > defaults; every problem is collected, then thrown as one error. */
export async function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Config> {
  const problems: string[] = [];
  const flags = parseFlags(argv, problems);
  const configPath = flags.get(CONFIG_FILE_OPTION.flag)?.value ?? env[CONFIG_FILE_OPTION.env];
  const file = typeof configPath === 'string' && configPath !== '' ? await readConfigFile(configPath, problems) : {};

  const out: Record<string, unknown> = {};
  for (const spec of CONFIG_OPTIONS) {
    const source = pickSource(spec, flags, env, file);
    const value = source ? coerce(spec, source, problems) : spec.default;
    out[spec.key] = Array.isArray(value) ? [...value] : value;
  }
  const config = out as unknown as Config;
  if (config.defaultMaxNewTokens > config.maxNewTokensLimit) {
    problems.push(`defaultMaxNewTokens (${config.defaultMaxNewTokens}) must not exceed maxNewTokensLimit (${config.maxNewTokensLimit})`);
  }
  if (config.cacheUrl !== '' && !/^rediss?:\/\//.test(config.cacheUrl)) problems.push('cacheUrl must start with redis:// or rediss:// (got <hidden>)');
  if (problems.length === 0) config.modelDir = await checkModelDir(config.modelDir, problems);
  if (problems.length > 0) {
    throw new XalmaError('CONFIG_INVALID', `\n  - ${problems.join('\n  - ')}`, { problems });
  }
  return config;
}

/** The defaults as a Config, without reading any source (tests, embedding). */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  const out: Record<string, unknown> = {};
  for (const spec of CONFIG_OPTIONS) out[spec.key] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
  out.modelDir = DEFAULT_MODEL_DIR;
  return { ...(out as unknown as Config), ...overrides };
}

/** Markdown table of every option (for the README). */
export function formatOptionTable(): string {
  const rows = CONFIG_OPTIONS.map((o) => {
    const def = Array.isArray(o.default) ? (o.default.length ? o.default.join(',') : '(none)') : o.default === '' ? '(none)' : String(o.default);
    const values = o.values ? ` (${o.values.join(' \\| ')})` : '';
    return `| \`${o.flag}\` | ${o.env.map((e) => `\`${e}\``).join(', ')} | \`${o.key}\` | ${def} | ${o.description}${values} |`;
  });
  const cfg = `| \`${CONFIG_FILE_OPTION.flag}\` | \`${CONFIG_FILE_OPTION.env}\` | - | (none) | ${CONFIG_FILE_OPTION.description} |`;
  return ['| flag | env | file key | default | meaning |', '|---|---|---|---|---|', ...rows, cfg].join('\n');
}

/** node:util parseArgs options from the table: every flag, --config included, takes a value. */
const PARSE_OPTIONS = Object.fromEntries(
  [...CONFIG_OPTIONS.map((o) => o.flag), CONFIG_FILE_OPTION.flag].map((flag) => [flag.slice(2), { type: 'string' as const }]),
);

/**
 * Flags by their table spelling. parseArgs runs non-strict so that every problem is collected
 * rather than the first thrown; its tokens say what was wrong.
 */
function parseFlags(argv: readonly string[], problems: string[]): Map<string, Source> {
  const flags = new Map<string, Source>();
  let rest = argv[0] === 'serve' ? argv.slice(1) : [...argv];
  while (rest.length > 0) rest = parseFlagRun(rest, problems, flags);
  return flags;
}

/**
 * Parses `args` into `flags` and returns what is left to parse: nothing, or the arguments from
 * a flag that stood where a value belonged (`--port --mode all`: --port needs a value, and
 * --mode is parsed as a flag, not taken as the port).
 */
function parseFlagRun(args: string[], problems: string[], flags: Map<string, Source>): string[] {
  const { tokens } = parseArgs({ args, options: PARSE_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  let skip = -1;
  for (const token of tokens) {
    if (token.index === skip) continue;
    if (token.kind === 'positional' || (token.kind === 'option' && !token.rawName.startsWith('--'))) {
      problems.push(`unexpected argument '${args[token.index]}' (options look like --port 8080)`);
      skip = token.index; // '-abc' is one argument, three tokens
      continue;
    }
    // An unknown option's value, if it was given one, is not reported again as a stray argument.
    const valueFollows = !args[token.index + 1]?.startsWith('--');
    if (token.kind === 'option-terminator') {
      // Not an end of options here: the rest is parsed as flags.
      problems.push('unknown option --');
      return args.slice(token.index + (valueFollows ? 2 : 1));
    }
    if (!Object.hasOwn(PARSE_OPTIONS, token.name)) {
      problems.push(`unknown option ${token.rawName}`);
      if (token.inlineValue === undefined && valueFollows) skip = token.index + 1;
      continue;
    }
    const flag = `--${token.name}`;
    if (token.value === undefined) {
      problems.push(`${flag} needs a value`);
      continue;
    }
    if (!token.inlineValue && token.value.startsWith('--')) {
      problems.push(`${flag} needs a value`);
      return args.slice(token.index + 1);
    }
    flags.set(flag, { origin: flag, value: token.value });
  }
  return [];
}

async function readConfigFile(path: string, problems: string[]): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    problems.push(`config file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    problems.push(`config file ${path} is not valid JSON (${(err as Error).message})`);
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`config file ${path} must hold a JSON object`);
    return {};
  }
  const keys = new Set<string>(CONFIG_OPTIONS.map((o) => o.key));
  for (const key of Object.keys(parsed)) {
    if (!keys.has(key)) problems.push(`config file ${path}: unknown key '${key}'`);
  }
  return parsed as Record<string, unknown>;
}

function pickSource(spec: OptionSpec, flags: Map<string, Source>, env: NodeJS.ProcessEnv, file: Record<string, unknown>): Source | undefined {
  const flag = flags.get(spec.flag);
  if (flag) return flag;
  for (const name of spec.env) {
    const v = env[name];
    if (v !== undefined && v !== '') return { origin: `env ${name}`, value: v };
  }
  if (Object.hasOwn(file, spec.key)) return { origin: `config file key '${spec.key}'`, value: file[spec.key] };
  return undefined;
}

function coerce(spec: OptionSpec, source: Source, problems: string[]): unknown {
  const { origin, value } = source;
  const shown = spec.secret ? '<hidden>' : JSON.stringify(value);
  const fail = (why: string) => {
    problems.push(`${origin}: ${why} (got ${shown})`);
    return spec.default;
  };
  switch (spec.kind) {
    case 'string':
      if (typeof value !== 'string' || value.trim() === '') return fail('must be a non-empty string');
      return value;
    case 'enum':
      if (typeof value !== 'string' || !spec.values!.includes(value)) return fail(`must be one of ${spec.values!.join(', ')}`);
      return value;
    case 'int': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) return fail('must be an integer');
      if (n < spec.min! || n > spec.max!) return fail(`must be between ${spec.min} and ${spec.max}`);
      return n;
    }
    case 'list': {
      const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : null;
      if (!items || !items.every((x) => typeof x === 'string')) return fail('must be a comma-separated list of strings');
      const list = (items as string[]).map((x) => x.trim()).filter((x) => x !== '');
      if (spec.key === 'apiKeys' && list.some((k) => k.length < 16)) return fail('every API key must be at least 16 characters');
      if (spec.values) {
        const unknown = list.filter((x) => !spec.values!.includes(x));
        if (unknown.length > 0) return fail(`unknown value${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; use some of ${spec.values.join(', ')}`);
        if (list.length === 0) return fail(`must name at least one of ${spec.values.join(', ')}`);
      }
      return list;
    }
  }
}

async function checkModelDir(dir: string, problems: string[]): Promise<string> {
  // The default is resolved against the package, so `xalma-serve serve` works from any folder.
  const path = dir === DEFAULT_MODEL_RELATIVE ? DEFAULT_MODEL_DIR : resolve(dir);
  try {
    const s = await stat(join(path, 'manifest.json'));
    if (!s.isFile()) problems.push(`model: ${path}/manifest.json is not a file`);
  } catch {
    problems.push(`model: no manifest.json in ${path} (set --model or XALMA_MODEL to a model package folder)`);
  }
  return path;
}
