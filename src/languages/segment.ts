/**
 * Splits a text into sentences for the engine and puts the translations back in place.
 *
 * The model translates a sentence well and a page badly (and a page may not fit its context),
 * so a text goes to the engine one sentence per row. `splitText` returns the sentences and the
 * whitespace around them: separators[0] + sentences[0] + separators[1] + ... + separators[n]
 * is the input, byte for byte. Separators hold only whitespace (spaces, line breaks, blank
 * lines), so a paragraph break in the input is a paragraph break in the output and the engine
 * never sees a whitespace-only row.
 *
 * Sentences come from `Intl.Segmenter` (ICU, UAX #29 sentence rules) in the source locale.
 * What it does, pinned in test/unit/languages/segment.test.ts:
 *  - a line break always ends a sentence (UAX #29 rule SB4), so lines stay lines;
 *  - CJK full stops (。！？) end a sentence without a following space;
 *  - Thai has no sentence punctuation: a Thai paragraph is one "sentence", and is cut further
 *    by `maxChars` at spaces when it is long;
 *  - abbreviations are not known: "Dr. Smith" is two sentences ("Dr." and "Smith ..."). The
 *    model then sees "Dr." alone, which it translates as a fragment; acceptable, not ideal.
 * A sentence longer than `maxChars` is cut further, at the last clause mark (, ; : and their
 * CJK forms) or else the last space within the limit, or else hard at the limit, so that no
 * row is refused for not fitting the context.
 */
import type { FinishReason } from '../engine/types.ts';

export interface Segmented {
  /** Whitespace only; one more than sentences (before the first, between, after the last). */
  separators: string[];
  /** Never empty and never starting or ending with whitespace. */
  sentences: string[];
}

export interface SplitOptions {
  /** BCP 47 tag for the sentence rules; an invalid one falls back to the default locale. */
  locale?: string;
  /** Longest sentence sent as one row, in UTF-16 code units; longer ones are cut. */
  maxChars: number;
}

const LEADING_SPACE = /^\s*/u;
const TRAILING_SPACE = /\s*$/u;
/** Clause marks that take a following space (Latin, Cyrillic...). */
const SPACED_CLAUSE = new Set([',', ';', ':']);
/** Full-width clause marks used without a following space (CJK). */
const UNSPACED_CLAUSE = new Set(['，', '、', '；', '：']);

export function splitText(text: string, opts: SplitOptions): Segmented {
  const separators: string[] = [];
  const sentences: string[] = [];
  let pending = '';
  const push = (sentence: string) => {
    separators.push(pending);
    sentences.push(sentence);
    pending = '';
  };
  for (const { segment } of segmenter(opts.locale).segment(text)) {
    const lead = LEADING_SPACE.exec(segment)![0];
    if (lead.length === segment.length) {
      pending += segment; // a blank line or the space after a line break
      continue;
    }
    const trail = TRAILING_SPACE.exec(segment)![0];
    pending += lead;
    cutLong(segment.slice(lead.length, segment.length - trail.length), opts.maxChars, push, (space) => (pending += space));
    pending += trail;
  }
  separators.push(pending);
  return { separators, sentences };
}

/** The inverse of splitText with each sentence replaced by its translation. */
export function joinSegments(separators: readonly string[], translated: readonly string[]): string {
  if (separators.length !== translated.length + 1) throw new Error(`joinSegments: ${separators.length} separators for ${translated.length} sentences`);
  let out = separators[0];
  for (let i = 0; i < translated.length; i++) out += translated[i] + separators[i + 1];
  return out;
}

/** The item's finish reason is its worst segment's: a cut anywhere is a cut of the text. */
const SEVERITY: Record<FinishReason, number> = { eos: 0, length: 1, context: 2, aborted: 3 };

export function worstFinishReason(reasons: readonly FinishReason[]): FinishReason {
  let worst: FinishReason = 'eos';
  for (const r of reasons) if (SEVERITY[r] > SEVERITY[worst]) worst = r;
  return worst;
}

/**
 * Characters per row for a model context of `maxPositions` tokens. A quarter of the context:
 * a character costs at most about one token in the X-ALMA (LLaMA-2) tokenizer for Latin,
 * Cyrillic and CJK text (usually 0.25-0.5), which leaves half the context for the output and
 * the rest for the prompt template (about 30 tokens). Not measured per script; a row that
 * still overflows is reported with finishReason "context", never silently.
 */
export function maxSegmentChars(maxPositions: number): number {
  return Math.max(16, Math.floor(maxPositions / 4));
}

function segmenter(locale: string | undefined): Intl.Segmenter {
  try {
    return new Intl.Segmenter(locale, { granularity: 'sentence' });
  } catch {
    return new Intl.Segmenter(undefined, { granularity: 'sentence' });
  }
}

/** Emits `core` (no surrounding whitespace) as pieces of at most maxChars, whitespace between them going to `space`. */
function cutLong(core: string, maxChars: number, push: (piece: string) => void, space: (ws: string) => void): void {
  let rest = core;
  while (rest.length > maxChars) {
    const cut = cutPoint(rest, maxChars);
    const head = rest.slice(0, cut);
    const headTrail = TRAILING_SPACE.exec(head)![0];
    const tail = rest.slice(cut);
    const tailLead = LEADING_SPACE.exec(tail)![0];
    push(head.slice(0, head.length - headTrail.length));
    space(headTrail + tailLead);
    rest = tail.slice(tailLead.length);
  }
  if (rest.length > 0) push(rest);
}

/** Where to cut `text` (longer than max): an index in [1, max] whose head is not all whitespace. */
function cutPoint(text: string, max: number): number {
  // Only the second half of the window: a clause mark near the start would leave a long rest.
  const floor = Math.max(1, Math.floor(max / 2));
  for (let i = max; i >= floor; i--) {
    const before = text[i - 1];
    if (UNSPACED_CLAUSE.has(before) || (SPACED_CLAUSE.has(before) && /\s/u.test(text[i]))) return i;
  }
  for (let i = max; i >= 1; i--) if (/\s/u.test(text[i])) return i;
  // No space at all (Thai without spaces, a long URL): cut hard, never inside a surrogate pair.
  const code = text.charCodeAt(max - 1);
  const cut = code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
  return cut >= 1 ? cut : max + 1;
}
