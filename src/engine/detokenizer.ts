/**
 * Streaming text for generation: push ids one at a time, get the newly completed text.
 * The concatenation of every push and the final flush equals `tokenizer.decode(allIds)`.
 *
 * It follows LLaMA's decoder chain (the only one engine/tokenizer.ts accepts) token by token:
 *   Replace "▁" -> " "   per token, precomputed once per vocabulary entry;
 *   ByteFallback         runs of <0xNN> tokens go through one streaming TextDecoder, so a
 *                        character split over 2-4 byte tokens appears when its last byte does,
 *                        and bad bytes become U+FFFD exactly where a one-shot decode puts them
 *                        (WHATWG streaming decode == one-shot decode; the run ends, and the
 *                        decoder is flushed, at the next non-byte token or at flush());
 *   Fuse + Strip         only the first character of the whole text may be dropped, if " ".
 * Each push costs O(length of the token's text): no re-decoding of the sequence so far.
 */
import type { TextTokenizer } from './tokenizer.ts';

/** Per-id decoding facts, computed once per tokenizer. */
interface DecodeTable {
  /** Byte value of a byte-fallback token, -1 for any other token. */
  readonly byteOf: Int16Array;
  /** The token's text with "▁" already turned into " " (unused for byte tokens). */
  readonly text: string[];
}

const tables = new WeakMap<TextTokenizer, DecodeTable>();

/**
 * The byte of a token, recognised exactly as @huggingface/tokenizers' ByteFallback does
 * (six characters "<0x..>", hex read with parseInt), after the Replace step.
 */
function byteValue(replaced: string): number {
  if (replaced.length === 6 && replaced.startsWith('<0x') && replaced.endsWith('>')) {
    const byte = parseInt(replaced.slice(3, 5), 16);
    if (!Number.isNaN(byte)) return byte;
  }
  return -1;
}

function tableFor(tokenizer: TextTokenizer): DecodeTable {
  let table = tables.get(tokenizer);
  if (table === undefined) {
    const n = tokenizer.vocabSize;
    const byteOf = new Int16Array(n);
    const text = new Array<string>(n);
    for (let id = 0; id < n; id++) {
      const replaced = tokenizer.tokenString(id).replaceAll('\u2581', ' ');
      byteOf[id] = byteValue(replaced);
      text[id] = replaced;
    }
    table = { byteOf, text };
    tables.set(tokenizer, table);
  }
  return table;
}

export interface DetokenizerOptions {
  /** Drop special tokens, as `decode(ids, { skipSpecialTokens: true })` does. */
  skipSpecialTokens?: boolean;
}

export class IncrementalDetokenizer {
  private readonly tokenizer: TextTokenizer;
  private readonly table: DecodeTable;
  private readonly skipSpecial: boolean;
  /** Default options on purpose: decode() uses a default TextDecoder too (BOM handling included). */
  private readonly bytes = new TextDecoder();
  private readonly oneByte = new Uint8Array(1);
  /** A byte run is open in `bytes` (it may hold up to 3 bytes of an unfinished character). */
  private inByteRun = false;
  /** Some text has come out before stripping; the leading-space rule no longer applies. */
  private started = false;

  constructor(tokenizer: TextTokenizer, options: DetokenizerOptions = {}) {
    this.tokenizer = tokenizer;
    this.table = tableFor(tokenizer);
    this.skipSpecial = options.skipSpecialTokens ?? false;
  }

  /** Adds one id; returns the text it completes (possibly ""). */
  push(id: number): string {
    if (this.skipSpecial && this.tokenizer.isSpecial(id)) return '';
    const known = Number.isInteger(id) && id >= 0 && id < this.table.byteOf.length;
    const byte = known ? this.table.byteOf[id] : -1;
    if (byte >= 0) {
      this.oneByte[0] = byte;
      this.inByteRun = true;
      return this.emit(this.bytes.decode(this.oneByte, { stream: true }));
    }
    const text = known ? this.table.text[id] : this.tokenizer.tokenString(id).replaceAll('\u2581', ' ');
    return this.emit(this.endByteRun() + text);
  }

  /** Ends the sequence: returns what is still held (U+FFFD for an unfinished character). */
  flush(): string {
    return this.emit(this.endByteRun());
  }

  private endByteRun(): string {
    if (!this.inByteRun) return '';
    this.inByteRun = false;
    return this.bytes.decode();
  }

  private emit(text: string): string {
    if (this.started || text.length === 0) return text;
    this.started = true;
    return text.charCodeAt(0) === 0x20 ? text.slice(1) : text;
  }
}
