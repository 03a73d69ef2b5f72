/**
 * Names of the detection engines, apart from their adapters (backends.ts) so the config can
 * validate them without loading any engine.
 */
export const ENGINE_NAMES = ['fasttext', 'cld3', 'eld', 'franc', 'lingua'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
/** All of them: lingua costs about 9 s of start-up and 700 MB, and buys 1.4 points on 3-word snippets (bench/results/detect.md). */
export const DEFAULT_ENGINES: readonly EngineName[] = ENGINE_NAMES;
