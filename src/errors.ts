/**
 * One table of every error the server can report: stable code -> HTTP status + message.
 * Callers switch on `code`; the message may be refined with details (fastify lib/errors.js style).
 * Keep the table sorted by area; every code is documented in the OpenAPI spec (test/http).
 */
export const ERROR_TABLE = {
  // model package (src/model)
  MODEL_FILE_MISSING: { status: 500, message: 'A file listed in the model manifest is missing' },
  MODEL_CHECKSUM_MISMATCH: { status: 500, message: 'A model file does not match its sha256 in the manifest' },
  MODEL_SHAPE_MISMATCH: { status: 500, message: 'A tensor does not have the shape the manifest requires' },
  MODEL_UNKNOWN_ARCHITECTURE: { status: 500, message: 'The model manifest names an architecture this server does not know' },
  MODEL_MANIFEST_INVALID: { status: 500, message: 'The model manifest is not valid' },
  MODEL_UNSUPPORTED_VERSION: { status: 500, message: 'The model package format version is not supported' },
  SAFETENSORS_INVALID: { status: 500, message: 'A safetensors file is malformed' },
  // LoRA modules (src/lora)
  MODULE_UNAVAILABLE: { status: 503, message: 'The language-group module could not be loaded' },
  MODULE_INVALID: { status: 503, message: 'The language-group module file is invalid' },
} as const;

export type ErrorCode = keyof typeof ERROR_TABLE;

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
