import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { joinSegments, maxSegmentChars, splitText, worstFinishReason } from '../../../src/languages/segment.ts';

const split = (text: string, locale = 'en', maxChars = 1000) => splitText(text, { locale, maxChars });
const roundTrip = (text: string, locale?: string, maxChars?: number) => {
  const s = split(text, locale, maxChars);
  return joinSegments(s.separators, s.sentences);
};

describe('splitText', () => {
  it('round-trips any text byte for byte, with whitespace-only separators and trimmed non-empty sentences', () => {
    const piece = fc.oneof(
      fc.string(),
      fc.constantFrom('. ', '.\n', '\n\n', '\r\n', ' \t ', '。', '! ', '? ', 'Dr. ', '\u00a0', '\u3000', '😀', 'สวัสดีครับ', ', ', '、'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), fc.constantFrom('en', 'de', 'ja', 'th', 'zh', 'xx-invalid-!!'), fc.integer({ min: 1, max: 40 }), (parts, locale, maxChars) => {
        const text = parts.join('');
        const s = split(text, locale, maxChars);
        expect(joinSegments(s.separators, s.sentences)).toBe(text);
        expect(s.separators).toHaveLength(s.sentences.length + 1);
        for (const sep of s.separators) expect(sep).toMatch(/^\s*$/u);
        for (const sentence of s.sentences) {
          expect(sentence.trim()).toBe(sentence);
          expect(sentence.length).toBeGreaterThan(0);
          // At most maxChars, except one surrogate pair that cannot be halved.
          expect(sentence.length).toBeLessThanOrEqual(Math.max(maxChars, 2));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps paragraphs, blank lines and line breaks as separators, never as rows', () => {
    const text = '  First one. Second one!\n\n\nThird?\r\nFourth line\n  \n';
    const s = split(text);
    expect(s.sentences).toEqual(['First one.', 'Second one!', 'Third?', 'Fourth line']);
    expect(s.separators).toEqual(['  ', ' ', '\n\n\n', '\r\n', '\n  \n']);
  });

  it('a one-sentence text is one row; an empty or blank text has none', () => {
    expect(split('Hello world.').sentences).toEqual(['Hello world.']);
    expect(split('').sentences).toEqual([]);
    expect(split('').separators).toEqual(['']);
    expect(split(' \n\n ').sentences).toEqual([]);
    expect(roundTrip(' \n\n ')).toBe(' \n\n ');
  });

  it('splits Japanese and Chinese at full stops with no spaces between sentences', () => {
    expect(split('素早い茶色の狐。犬は寝ている！本当？', 'ja').sentences).toEqual(['素早い茶色の狐。', '犬は寝ている！', '本当？']);
    expect(split('我们走吧。他来了。', 'zh').sentences).toEqual(['我们走吧。', '他来了。']);
  });

  it('Thai has no sentence marks: a paragraph is one sentence, cut at spaces only when longer than maxChars', () => {
    const thai = 'สุนัขจิ้งจอกสีน้ำตาล กระโดดข้ามสุนัขขี้เกียจ';
    expect(split(thai, 'th').sentences).toEqual([thai]);
    expect(split(thai, 'th', 25).sentences).toEqual(['สุนัขจิ้งจอกสีน้ำตาล', 'กระโดดข้ามสุนัขขี้เกียจ']);
  });

  it('documents Intl.Segmenter on abbreviations: "Dr." and "Mr." end a sentence, decimals do not', () => {
    expect(split('Dr. Smith went home. Mr. Jones paid 3.5 euros.').sentences).toEqual(['Dr.', 'Smith went home.', 'Mr.', 'Jones paid 3.5 euros.']);
  });

  it('cuts a sentence longer than maxChars at a clause mark, then at a space, then hard', () => {
    expect(split('one two three, four five six seven', 'en', 20).sentences).toEqual(['one two three,', 'four five six seven']);
    expect(split('alpha beta gamma delta', 'en', 12).sentences).toEqual(['alpha beta', 'gamma delta']);
    expect(split('abcdefghij', 'en', 4).sentences).toEqual(['abcd', 'efgh', 'ij']);
    expect(split('东京是一个城市、很大的城市', 'zh', 8).sentences).toEqual(['东京是一个城市、', '很大的城市']);
    expect(split('😀😀😀', 'en', 3).sentences).toEqual(['😀', '😀', '😀']);
  });
});

describe('worstFinishReason and maxSegmentChars', () => {
  it('a text is as cut as its worst sentence: aborted > context > length > eos', () => {
    expect(worstFinishReason(['eos', 'eos'])).toBe('eos');
    expect(worstFinishReason(['eos', 'length', 'eos'])).toBe('length');
    expect(worstFinishReason(['length', 'context', 'eos'])).toBe('context');
    expect(worstFinishReason(['context', 'aborted'])).toBe('aborted');
  });

  it('a row gets a quarter of the context in characters', () => {
    expect(maxSegmentChars(1024)).toBe(256);
    expect(maxSegmentChars(4096)).toBe(1024);
  });
});
