/**
 * Request decoding options -> engine DecodingOptions. The JSON schema checks types and hard
 * ranges (so the spec documents them); the checks here depend on configured limits or on
 * combinations of fields.
 */
import { DEFAULT_DECODING, type DecodingOptions } from '../engine/types.ts';
import { XalmaError } from '../errors.ts';

export interface RequestOptions {
  maxNewTokens?: number;
  beams?: number;
  lengthPenalty?: number;
  sample?: boolean;
  temperature?: number;
  topP?: number;
  seed?: number;
  ignoreEos?: boolean;
}

export const decodingOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Decoding options. Omitted fields take the server defaults (greedy, one beam).',
  properties: {
    maxNewTokens: { type: 'integer', minimum: 1, maximum: 100000, description: 'Most tokens to generate (capped by the server limit)' },
    beams: { type: 'integer', minimum: 1, maximum: 64, description: 'Beam search width; 1 = greedy or sampling' },
    lengthPenalty: { type: 'number', minimum: 0, maximum: 10, description: 'Beam score = logprob / length^lengthPenalty' },
    sample: { type: 'boolean', description: 'Sample instead of greedy decoding (needs beams = 1)' },
    temperature: { type: 'number', exclusiveMinimum: 0, maximum: 10 },
    topP: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295, description: 'Sampling seed; seeded requests are deterministic and cacheable' },
    ignoreEos: { type: 'boolean', description: 'Benchmarks: keep generating past end-of-sequence up to maxNewTokens (fixed-length output)' },
  },
} as const;

export interface OptionLimits {
  defaultMaxNewTokens: number;
  maxNewTokensLimit: number;
  maxBeams: number;
}

export function resolveDecoding(given: RequestOptions | undefined, limits: OptionLimits): DecodingOptions {
  const o = given ?? {};
  const options: DecodingOptions = {
    maxNewTokens: o.maxNewTokens ?? limits.defaultMaxNewTokens,
    beams: o.beams ?? DEFAULT_DECODING.beams,
    lengthPenalty: o.lengthPenalty ?? DEFAULT_DECODING.lengthPenalty,
    sample: o.sample ?? DEFAULT_DECODING.sample,
    temperature: o.temperature ?? DEFAULT_DECODING.temperature,
    topP: o.topP ?? DEFAULT_DECODING.topP,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.ignoreEos ? { ignoreEos: true } : {}),
  };
  if (options.maxNewTokens > limits.maxNewTokensLimit) {
    throw new XalmaError('OPTIONS_INVALID', `maxNewTokens ${options.maxNewTokens} is above this server's limit of ${limits.maxNewTokensLimit}`, { field: 'body/options/maxNewTokens', limit: limits.maxNewTokensLimit });
  }
  if (options.beams > limits.maxBeams) {
    throw new XalmaError('OPTIONS_INVALID', `beams ${options.beams} is above this server's limit of ${limits.maxBeams}`, { field: 'body/options/beams', limit: limits.maxBeams });
  }
  if (options.sample && options.beams > 1) {
    throw new XalmaError('OPTIONS_INVALID', 'sampling runs with beams = 1', { field: 'body/options/beams' });
  }
  if (!options.sample && (o.temperature !== undefined || o.topP !== undefined || o.seed !== undefined)) {
    throw new XalmaError('OPTIONS_INVALID', 'temperature, topP and seed apply only with sample: true', { field: 'body/options/sample' });
  }
  return options;
}
