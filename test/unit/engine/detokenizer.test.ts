import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTokenizerJson } from '../../../src/model/tokenizer-builder.ts';
import { createTokenizer, type TextTokenizer } from '../../../src/engine/tokenizer.ts';
import { IncrementalDetokenizer, type DetokenizerOptions } from '../../../src/engine/detokenizer.ts';

let tok: TextTokenizer;

beforeAll(() => {
  tok = createTokenizer(buildTokenizerJson({ vocabSize: 4096 }));
});

/** Id of the byte-fallback token for byte `b` (LLaMA layout: <0x00> is id 3). */
const byteId = (b: number) => 3 + b;
const bytesOf = (text: string) => [...Buffer.from(text, 'utf8')].map(byteId);

function streamed(ids: readonly number[], options?: DetokenizerOptions): string[] {
  const detok = new IncrementalDetokenizer(tok, options);
  const pieces = ids.map((id) => detok.push(id));
  pieces.push(detok.flush());
  return pieces;
}

/** Code points from every script the server handles, plus emoji, controls and unassigned ones. */
const SCRIPT_RANGES: Array<[number, number]> = [
  [0x20, 0x7e], [0x09, 0x0a], [0xa0, 0x24f], [0x1ea0, 0x1ef9], [0x370, 0x3ff], [0x400, 0x4ff],
  [0x590, 0x5ff], [0x600, 0x6ff], [0x900, 0x97f], [0xa80, 0xaff], [0xe00, 0xe7f], [0x10a0, 0x10ff],
  [0x3000, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xff00, 0xffef], [0x1f300, 0x1faff],
  [0x2000, 0x206f], [0xe000, 0xe0ff], [0x10000, 0x10ffff],
];
const codePoint = fc
  .oneof(...SCRIPT_RANGES.map(([lo, hi]) => fc.integer({ min: lo, max: hi })))
  // U+2581 is the metaspace: LLaMA tokenizers read it back as a space, by design.
  .filter((cp) => cp !== 0x2581)
  .map((cp) => String.fromCodePoint(cp));
const scriptText = fc.array(codePoint, { maxLength: 40 }).map((chars) => chars.join(''));

describe('IncrementalDetokenizer', () => {
  it('emits a multi-byte character only when its last byte token arrives', () => {
    expect(streamed(bytesOf('€'))).toEqual(['', '', '€', '']);
    expect(streamed(bytesOf('😀'))).toEqual(['', '', '', '😀', '']);
  });

  it('turns an unfinished or invalid byte sequence into U+FFFD and never throws', () => {
    expect(streamed(bytesOf('€').slice(0, 2)).join('')).toBe('\uFFFD');
    expect(streamed([byteId(0xff), byteId(0x41)]).join('')).toBe('\uFFFDA');
    const hello = tok.encode('Hello');
    expect(streamed([byteId(0xe2), ...hello]).join('')).toBe(tok.decode([byteId(0xe2), ...hello]));
  });

  it('strips only the first leading space, as LLaMA decoding does', () => {
    expect(streamed(tok.encode('Hello world')).join('')).toBe('Hello world');
    expect(streamed(tok.encode('  two')).join('')).toBe('  two');
    expect(streamed([byteId(0x20), byteId(0x20), ...tok.encode('x')]).join('')).toBe(tok.decode([byteId(0x20), byteId(0x20), ...tok.encode('x')]));
    expect(streamed([tok.bosId, ...tok.encode('Hi')]).join('')).toBe('<s> Hi');
  });

  it('matches decode around a leading byte-order mark (the library drops it at a byte run start)', () => {
    const ids = [...bytesOf('\uFEFF'), ...tok.encode('a'), ...bytesOf('\uFEFFb')];
    expect(streamed(ids).join('')).toBe(tok.decode(ids));
  });

  it('equals decode(allIds) for random id sequences', () => {
    const id = fc.oneof(
      { arbitrary: fc.integer({ min: 0, max: tok.vocabSize - 1 }), weight: 4 },
      { arbitrary: fc.integer({ min: byteId(0), max: byteId(255) }), weight: 4 },
      { arbitrary: fc.integer({ min: byteId(0x80), max: byteId(0xf4) }), weight: 2 },
      { arbitrary: fc.integer({ min: -2, max: 2 }), weight: 1 },
      { arbitrary: fc.integer({ min: tok.vocabSize, max: tok.vocabSize + 5 }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.array(id, { maxLength: 64 }), fc.boolean(), (ids, skipSpecialTokens) => {
        expect(streamed(ids, { skipSpecialTokens }).join('')).toBe(tok.decode(ids, { skipSpecialTokens }));
      }),
      { numRuns: 1500 },
    );
  });

  it('equals decode(allIds) and the input for encodings of random text from all scripts', () => {
    fc.assert(
      fc.property(scriptText, (text) => {
        const ids = tok.encode(text);
        const out = streamed(ids).join('');
        expect(out).toBe(tok.decode(ids));
        expect(out).toBe(text);
      }),
      { numRuns: 800 },
    );
  });

  it('streams a long generation with the same result as one decode', () => {
    const text = 'Ein langer Text, 東京 und ქართული, mit Emoji 🎉 und Zahlen 12345. '.repeat(400);
    const ids = tok.encode(text);
    expect(streamed(ids).join('')).toBe(text);
  });
});
