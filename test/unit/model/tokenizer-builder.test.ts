import { beforeAll, describe, expect, it } from 'vitest';
import { baseCharacters, buildTokenizer, buildTokenizerJson, defaultCorpus } from '../../../src/model/tokenizer-builder.ts';
import { createTokenizer } from '../../../src/engine/tokenizer.ts';

interface Json {
  added_tokens: Array<{ id: number; content: string; special: boolean }>;
  model: { vocab: Record<string, number>; merges: string[]; byte_fallback: boolean };
}

const asJson = (o: object) => o as Json;

/** The embedded model's default vocabulary, built once for the read-only checks. */
let built: Json;
beforeAll(() => {
  built = asJson(buildTokenizerJson({ vocabSize: 4096 }));
});

describe('buildTokenizerJson', () => {
  it('is deterministic: the same options give byte-identical JSON', () => {
    const a = JSON.stringify(built);
    const b = JSON.stringify(buildTokenizerJson({ vocabSize: 4096 }));
    expect(a).toBe(b);
    expect(JSON.stringify(defaultCorpus(4096))).toBe(JSON.stringify(defaultCorpus(4096)));
  });

  it('lays out ids as LLaMA-2 does: <unk> <s> </s>, then <0x00>..<0xFF>, then "▁"', () => {
    const { model, added_tokens } = built;
    expect(added_tokens.map((t) => [t.id, t.content, t.special])).toEqual([[0, '<unk>', true], [1, '<s>', true], [2, '</s>', true]]);
    expect(model.vocab['<0x00>']).toBe(3);
    expect(model.vocab['<0x0A>']).toBe(13); // LLaMA-2's newline id
    expect(model.vocab['<0xFF>']).toBe(258);
    expect(model.vocab['\u2581']).toBe(259);
    expect(model.byte_fallback).toBe(true);
  });

  it('has exactly the requested vocabulary size with contiguous ids, and only learnable merges', () => {
    const { model } = built;
    const ids = Object.values(model.vocab).sort((x, y) => x - y);
    expect(ids).toEqual(Array.from({ length: 4096 }, (_, i) => i));
    for (const merge of model.merges) {
      const [left, right, rest] = merge.split(' ');
      expect(rest).toBeUndefined();
      expect(model.vocab[left]).toBeDefined();
      expect(model.vocab[right]).toBeDefined();
      expect(model.vocab[left + right]).toBeGreaterThan(258);
    }
    expect(Object.keys(model.vocab).some((t) => t.includes(' '))).toBe(false);
  });

  it('includes the base characters of every script and never merges digits', () => {
    const { model } = built;
    const chars = baseCharacters();
    for (const ch of 'aäåæøœßðþçñãõăâîșțčšžěřůőűąęłėįųūļņķģəğışıʻʼ' + 'αωάΐЖжёђјљњћџґєїіўғқңүұһәө' + 'אתשא' + 'پچژگکیےںڈٹ' + 'कखज्ञॉ' + 'અઆક' + 'กขคไ' + 'აბგჰ' + 'あいアイ' + '的国人語' + '이다는') {
      expect(chars, ch).toContain(ch);
      expect(model.vocab[ch], ch).toBeDefined();
    }
    expect(model.merges.some((m) => /\p{Nd}/u.test(m))).toBe(false);
  });

  it('pads with <extra_N> when the corpus runs out of merges, and says so in the stats', () => {
    const { json, stats } = buildTokenizer({ vocabSize: 2500, corpus: ['hello hello world world'] });
    const { model } = asJson(json);
    expect(Object.keys(model.vocab)).toHaveLength(2500);
    expect(stats.reserved).toBeGreaterThan(0);
    expect(model.vocab['<extra_0>']).toBe(2500 - stats.reserved);
    expect(model.vocab[`<extra_${stats.reserved - 1}>`]).toBe(2499);
    expect(model.vocab['\u2581hello']).toBeDefined();
  });

  it('rejects a vocabulary smaller than its fixed part', () => {
    expect(() => buildTokenizerJson({ vocabSize: 1000 })).toThrow(RangeError);
  });

  it('builds the 32000-id bench vocabulary quickly, from merges alone', () => {
    const t0 = performance.now();
    const { json, stats } = buildTokenizer({ vocabSize: 32000 });
    const seconds = (performance.now() - t0) / 1000;
    console.log(`32000-id tokenizer built in ${seconds.toFixed(2)} s`, stats);
    expect(Object.keys(asJson(json).model.vocab)).toHaveLength(32000);
    expect(stats.reserved).toBe(0);
    expect(seconds).toBeLessThan(60);
    const tok = createTokenizer(json);
    const text = 'Translate this from German to English: Guten Morgen, wie geht es dir?';
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('compresses Latin text below one token per UTF-8 byte', () => {
    const tok = createTokenizer(built);
    const text = 'Good morning! The children are playing in the garden, and we learn new words every day.';
    expect(tok.encode(text).length).toBeLessThan(Buffer.byteLength(text, 'utf8') / 2);
  });
});
