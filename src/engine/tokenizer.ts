/**
 * Text <-> token ids for LLaMA-2-style tokenizer.json files (the project's own, see
 * model/tokenizer-builder.ts, or an imported X-ALMA one), on @huggingface/tokenizers, plus the
 * X-ALMA chat prompt.
 *
 * Two rules the library does not give us by default:
 *   - encode never adds special tokens, and text is never scanned for "<s>"/"</s>": a user who
 *     types "</s>" gets those characters, not an end-of-sequence id. The one BOS of a prompt
 *     comes from `encodePrompt`, which turns the template's leading "<s>" into `bosId`.
 *   - decode never "cleans up" spaces (the library's default turns " ." into "."), so
 *     encode -> decode gives the input back.
 */
import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { XalmaError } from '../errors.ts';

import { BOS_MARKER, DEFAULT_PROMPT_TEMPLATE } from '../model/prompt.ts';

export { DEFAULT_PROMPT_TEMPLATE };

export interface EncodeOptions {
  /** Prepend `bosId` (default false). */
  addBos?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (<unk> <s> </s>) before decoding (default false, as HF). */
  skipSpecialTokens?: boolean;
}

export interface TextTokenizer {
  /** Number of ids (largest id + 1), the model's embedding rows. */
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  /** Ids for `text`; special-token spellings in `text` are ordinary characters. */
  encode(text: string, options?: EncodeOptions): number[];
  /** The text of integer ids; unknown ids read as the unk token. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The raw vocabulary string of an id ("▁the", "<0xE4>", "</s>"), as decoding sees it. */
  tokenString(id: number): string;
  /** true for the tokenizer's special tokens (what `skipSpecialTokens` drops). */
  isSpecial(id: number): boolean;
}

export interface TokenizerIds {
  bosId?: number;
  eosId?: number;
  /** LLaMA-2 has no pad token; the default is the unk id (0), as the package manifest records. */
  padId?: number;
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

interface TokenizerJson {
  added_tokens?: AddedTokenJson[];
  decoder?: unknown;
  model?: { type?: string; byte_fallback?: boolean; unk_token?: string; vocab?: Record<string, number> };
}

function invalid(detail: string, cause?: unknown): XalmaError {
  return new XalmaError('TOKENIZER_INVALID', detail, undefined, cause === undefined ? undefined : { cause });
}

/**
 * The incremental detokenizer reproduces LLaMA's decoder chain exactly, so only that chain is
 * accepted: Replace "▁" -> " ", ByteFallback, Fuse, Strip one leading " ".
 */
function isLlamaDecoder(decoder: unknown): boolean {
  const d = decoder as { type?: string; decoders?: Array<Record<string, unknown>> } | null;
  if (!d || d.type !== 'Sequence' || !Array.isArray(d.decoders) || d.decoders.length !== 4) return false;
  const [replace, byteFallback, fuse, strip] = d.decoders;
  const pattern = replace.pattern as { String?: string } | undefined;
  return (
    replace.type === 'Replace' && pattern?.String === '\u2581' && replace.content === ' ' &&
    byteFallback.type === 'ByteFallback' && fuse.type === 'Fuse' &&
    strip.type === 'Strip' && strip.content === ' ' && strip.start === 1 && strip.stop === 0
  );
}

class HfTextTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  /** Knows every added token: used for ids -> strings and decoding. */
  private readonly full: Tokenizer;
  /** Same model without the special added tokens: used to encode text literally. */
  private readonly plain: Tokenizer;
  private readonly unkToken: string;
  private readonly specials: ReadonlySet<string>;

  constructor(json: TokenizerJson, ids: TokenizerIds) {
    const model = json.model;
    if (!model || model.type !== 'BPE' || !model.vocab) throw invalid('model must be BPE with a vocab');
    if (model.byte_fallback !== true) throw invalid('model.byte_fallback must be true');
    if (!isLlamaDecoder(json.decoder)) throw invalid('decoder must be LLaMA\'s Replace/ByteFallback/Fuse/Strip sequence');
    for (let b = 0; b < 256; b++) {
      const token = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      if (model.vocab[token] === undefined) throw invalid(`byte token ${token} is missing`);
    }
    const added = json.added_tokens ?? [];
    // LLaMA-2 keeps no clean-up; the library's default (true) would rewrite " ." to ".".
    const config = { clean_up_tokenization_spaces: false };
    try {
      this.full = new Tokenizer({ ...json, added_tokens: added }, config);
      this.plain = new Tokenizer({ ...json, added_tokens: added.filter((t) => !t.special) }, config);
    } catch (err) {
      throw invalid('the tokenizer library rejected it', err);
    }
    this.specials = new Set(added.filter((t) => t.special).map((t) => t.content));
    this.unkToken = model.unk_token ?? '<unk>';

    let maxId = -1;
    for (const id of Object.values(model.vocab)) maxId = Math.max(maxId, id);
    for (const t of added) maxId = Math.max(maxId, t.id);
    this.vocabSize = maxId + 1;

    const lookup = (token: string): number => {
      const id = this.full.token_to_id(token);
      if (id === undefined) throw invalid(`token ${token} is missing`);
      return id;
    };
    this.unkId = lookup(this.unkToken);
    this.bosId = ids.bosId ?? lookup('<s>');
    this.eosId = ids.eosId ?? lookup('</s>');
    this.padId = ids.padId ?? this.unkId;
    for (const [name, id] of [['bosId', this.bosId], ['eosId', this.eosId], ['padId', this.padId]] as const) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw invalid(`${name} ${id} is outside the vocabulary`);
    }
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids = text.length === 0 ? [] : this.plain.encode(text, { add_special_tokens: false }).ids;
    if (options.addBos) ids.unshift(this.bosId);
    return ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const kept = options.skipSpecialTokens ? ids.filter((id) => !this.isSpecial(id)) : [...ids];
    // The library throws on an empty list; the text of no tokens is "".
    if (kept.length === 0) return '';
    return this.full.decode(kept, { clean_up_tokenization_spaces: false });
  }

  tokenString(id: number): string {
    return this.full.id_to_token(id) ?? this.unkToken;
  }

  isSpecial(id: number): boolean {
    return this.specials.has(this.tokenString(id));
  }
}

/** A tokenizer from a parsed tokenizer.json (throws TOKENIZER_INVALID if unsupported). */
export function createTokenizer(json: object, ids: TokenizerIds = {}): TextTokenizer {
  return new HfTextTokenizer(json as TokenizerJson, ids);
}

/** Reads and checks a tokenizer.json; ids default to the "<s>"/"</s>" tokens and pad = unk. */
export async function loadTokenizer(path: string, ids: TokenizerIds = {}): Promise<TextTokenizer> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw invalid(`cannot read ${path}`, err);
  }
  if (typeof json !== 'object' || json === null) throw invalid(`${path} is not a JSON object`);
  return createTokenizer(json, ids);
}

/**
 * Fills {source}, {target} and {text} in one pass, so placeholders inside the user's text stay
 * as typed. The result is the prompt as a string (its "<s>" is still characters).
 */
export function formatPrompt(template: string, sourceName: string, targetName: string, text: string): string {
  const values: Record<string, string> = { source: sourceName, target: targetName, text };
  return template.replace(/\{(source|target|text)\}/g, (_, name: string) => values[name]);
}

export interface PromptParts {
  template: string;
  /** English language names ("German"), as the X-ALMA prompt uses them. */
  sourceName: string;
  targetName: string;
  text: string;
}

/**
 * Prompt ids: exactly one `bosId` first, then the template's text. A leading "<s>" in the
 * template stands for that BOS (the prompt always gets one, as LLaMA-2's tokenizer adds it);
 * everything else, template and user text alike, is encoded as plain characters.
 */
export function encodePrompt(tokenizer: TextTokenizer, parts: PromptParts): number[] {
  const body = parts.template.startsWith(BOS_MARKER) ? parts.template.slice(BOS_MARKER.length) : parts.template;
  return tokenizer.encode(formatPrompt(body, parts.sourceName, parts.targetName, parts.text), { addBos: true });
}
