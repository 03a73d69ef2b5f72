/**
 * One table of every error the server can report: stable code -> HTTP status + message, and
 * how the server treats it (Retry-After, logging). Callers switch on `code`; the message may be
 * refined with details (fastify lib/errors.js style).
 * Keep the table sorted by area; every code is documented in the OpenAPI spec (test/http).
 */
export interface ErrorSpec {
  status: number;
  message: string;
  /** The same request may succeed later: the response carries Retry-After. */
  retryable?: boolean;
  /** false: a 5xx expected under load, at start-up or shutdown, logged at info, not as an error. */
  log?: boolean;
}

export const ERROR_TABLE = {
  // model package (src/model)
  MODEL_FILE_MISSING: { status: 500, message: 'A file listed in the model manifest is missing' },
  MODEL_CHECKSUM_MISMATCH: { status: 500, message: 'A model file does not match its sha256 in the manifest' },
  MODEL_SHAPE_MISMATCH: { status: 500, message: 'A tensor does not have the shape the manifest requires' },
  MODEL_UNKNOWN_ARCHITECTURE: { status: 500, message: 'The model manifest names an architecture this server does not know' },
  MODEL_MANIFEST_INVALID: { status: 500, message: 'The model manifest is not valid' },
  MODEL_UNSUPPORTED_VERSION: { status: 500, message: 'The model package format version is not supported' },
  SAFETENSORS_INVALID: { status: 500, message: 'A safetensors file is malformed' },
  TOKENIZER_INVALID: { status: 500, message: 'The tokenizer file is not a supported LLaMA-style tokenizer.json' },
  // import of Hugging Face checkpoints (src/model/import; CLI only, never answered over HTTP)
  CHECKPOINT_INVALID: { status: 500, message: 'A checkpoint to import is missing a file or tensor, truncated, or does not match its checksum or shapes' },
  CHECKPOINT_UNSUPPORTED: { status: 500, message: 'The checkpoint uses a feature this server does not support' },
  IMPORT_OUTPUT_EXISTS: { status: 500, message: 'The import output folder already exists' },
  // pulling from the Hugging Face Hub (src/import/hub-*.ts; CLI only)
  HUB_REPO_NOT_FOUND: { status: 500, message: 'The Hub repository or revision was not found' },
  HUB_UNAUTHORIZED: { status: 500, message: 'The Hub repository is gated or private and the token gives no access' },
  HUB_UNREACHABLE: { status: 500, message: 'The Hugging Face Hub could not be reached' },
  HUB_NOT_CACHED: { status: 500, message: 'The repository is not in the local Hub cache' },
  DOWNLOAD_CHECKSUM_MISMATCH: { status: 500, message: 'A downloaded file does not match the size and hash the Hub lists' },
  DISK_FULL: { status: 500, message: 'Not enough free disk space' },
  // LoRA modules (src/lora)
  MODULE_UNAVAILABLE: { status: 503, message: 'The language-group module could not be loaded', retryable: true },
  MODULE_INVALID: { status: 503, message: 'The language-group module file is invalid' },
  // languages (src/languages)
  LANGUAGE_INVALID: { status: 400, message: 'The language field is not a language code or name' },
  LANGUAGE_UNSUPPORTED: { status: 400, message: 'The language is not supported' },
  LANGUAGE_NOT_IN_MODEL: { status: 400, message: 'The loaded model has no language group for this language' },
  SOURCE_UNDETECTED: { status: 422, message: 'The source language could not be detected; give it explicitly' },
  // engine (src/engine)
  INPUT_TOO_LONG: { status: 400, message: 'The text does not fit in the model context' },
  ENGINE_FAILED: { status: 503, message: 'The inference engine stopped' },
  ENGINE_RESTARTED: { status: 503, message: 'The inference engine worker was lost and is being replaced; retry the request', retryable: true, log: false },
  // http + scheduler (src/http, src/scheduler)
  INVALID_REQUEST: { status: 400, message: 'The request does not match the schema' },
  BAD_JSON: { status: 400, message: 'The request body is not valid JSON' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request body must be application/json' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than the configured limit' },
  BAD_REQUEST_LINE: { status: 400, message: 'The request line or headers are not valid HTTP' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are larger than the server accepts' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time' },
  NOT_FOUND: { status: 404, message: 'No such route' },
  LANGUAGE_MISSING: { status: 400, message: 'The target language is required' },
  TEXT_EMPTY: { status: 400, message: 'The text to process is empty' },
  TEXT_TOO_LONG: { status: 400, message: 'A text is longer than the configured limit' },
  TOO_MANY_ITEMS: { status: 400, message: 'The request holds more texts than the configured limit' },
  OPTIONS_INVALID: { status: 400, message: 'The decoding options are not valid' },
  API_KEY_INVALID: { status: 401, message: 'A valid API key is required (Authorization: Bearer <key>)' },
  RATE_LIMITED: { status: 429, message: 'Too many requests for this API key' },
  QUEUE_FULL: { status: 503, message: 'The server queue is full; retry later', retryable: true, log: false },
  NOT_READY: { status: 503, message: 'The model is not loaded yet', retryable: true, log: false },
  SHUTTING_DOWN: { status: 503, message: 'The server is shutting down', retryable: true, log: false },
  DEADLINE_EXCEEDED: { status: 504, message: 'The request did not finish within its deadline' },
  REQUEST_ABORTED: { status: 499, message: 'The client closed the request' },
  INTERNAL_ERROR: { status: 500, message: 'Internal server error' },
  CONFIG_INVALID: { status: 500, message: 'The server configuration is not valid' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_TABLE;

/** A code's entry with every field of ErrorSpec visible (the table's own type has only those it sets). */
export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERROR_TABLE[code];
}

/** An error with a stable code; `details` is safe to return to clients. */
export class XalmaError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, detail?: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    const entry = ERROR_TABLE[code];
    super(detail ? `${entry.message}: ${detail}` : entry.message, options);
    this.name = 'XalmaError';
    this.code = code;
    this.status = entry.status;
    this.details = details;
  }
}

export function isXalmaError(err: unknown, code?: ErrorCode): err is XalmaError {
  return err instanceof XalmaError && (code === undefined || err.code === code);
}
