/**
 * The traffic every system gets: the same English sentences, the same language pairs, the same
 * number of new tokens. Mixed traffic cycles through one target per group (all 8 groups);
 * single-group traffic and the peer comparison use en -> de (group 1), the group whose merged
 * graph the transformers.js copy holds (lib/hf-model.ts).
 */
export const NEW_TOKENS = 32;
/** --quick: short generations, a smoke run only. */
export const QUICK_NEW_TOKENS = 8;
export const CONCURRENCY = [1, 8, 32] as const;

/** A comma list of concurrencies from the command line, or the default set. */
export function concurrencyList(arg: string | undefined): number[] {
  if (!arg) return [...CONCURRENCY];
  const list = arg.split(',').map(Number);
  if (list.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`--concurrency wants positive integers, got ${arg}`);
  return list;
}

export const TEXTS = [
  'The committee will meet again on Tuesday to discuss the budget for next year.',
  'Where is the nearest train station?',
  'Prices rose by three percent in May, the fastest increase since last autumn.',
  'Thank you very much for your help.',
  'The museum opens at nine in the morning and closes at six.',
  'Scientists have found a new species of frog in the rainforest.',
  'Please send me the report before Friday.',
  'It was raining heavily when the match began.',
];

/** One target per group, in group order (DESIGN 1): de es ru fr cs fi hi tr. */
export const MIXED_TARGETS = [
  { code: 'de', name: 'German', group: 1 },
  { code: 'es', name: 'Spanish', group: 2 },
  { code: 'ru', name: 'Russian', group: 3 },
  { code: 'fr', name: 'French', group: 4 },
  { code: 'cs', name: 'Czech', group: 5 },
  { code: 'fi', name: 'Finnish', group: 6 },
  { code: 'hi', name: 'Hindi', group: 7 },
  { code: 'tr', name: 'Turkish', group: 8 },
] as const;
export const SINGLE_TARGET = MIXED_TARGETS[0];

export type Traffic = 'mixed' | 'single-group';

export interface WorkItem {
  text: string;
  targetCode: string;
  targetName: string;
  group: number;
}

/**
 * The i-th request of a run. Texts and targets advance at different strides so mixed traffic
 * pairs every text with every group over 64 requests.
 */
export function workItem(i: number, traffic: Traffic): WorkItem {
  const t = traffic === 'mixed' ? MIXED_TARGETS[i % MIXED_TARGETS.length] : SINGLE_TARGET;
  return { text: TEXTS[Math.floor(i / MIXED_TARGETS.length + i) % TEXTS.length], targetCode: t.code, targetName: t.name, group: t.group };
}

/** Requests per measured run: two waves at high concurrency, at least 8 (one per group). */
export function requestsFor(concurrency: number, quick: boolean): number {
  return quick ? Math.max(4, concurrency) : Math.max(8, 2 * concurrency);
}

/**
 * The request body our server gets for a work item: source given (no detection), fixed
 * length (ignoreEos: generation runs to maxNewTokens whatever the model says).
 */
export function translateBody(item: WorkItem, newTokens: number): string {
  return JSON.stringify({ text: item.text, source: 'en', target: item.targetCode, options: { maxNewTokens: newTokens, ignoreEos: true } });
}
