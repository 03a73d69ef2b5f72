import { describe, expect, it } from 'vitest';
import { ggufVocab, TokenType } from '../../../src/export/gguf-vocab.ts';

const json = {
  added_tokens: [{ id: 0, content: '<unk>', special: true }, { id: 1, content: '<s>', special: true }, { id: 2, content: '</s>', special: true }],
  model: {
    type: 'BPE', unk_token: '<unk>',
    vocab: { '<unk>': 0, '<s>': 1, '</s>': 2, '<0x0A>': 3, '▁': 4, 'a': 5, 'b': 6, '▁a': 7, 'ab': 8, '▁ab': 9 },
    merges: ['▁ a', 'a b', '▁a b', '▁ ab'],
  },
};

describe('ggufVocab: tokenizer.json -> llama.cpp SentencePiece arrays', () => {
  it('scores a piece by minus the rank of the first merge that makes it; other pieces score 0', () => {
    const v = ggufVocab(json, 10);
    expect(Array.from(v.scores)).toEqual([0, 0, 0, 0, 0, 0, 0, -1, -2, -3]);
  });

  it('types: unk UNKNOWN, specials CONTROL, <0xNN> BYTE, the rest NORMAL; ids past the vocabulary are UNUSED [PADn]', () => {
    const v = ggufVocab(json, 12);
    expect(v.tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x0A>']);
    expect(Array.from(v.tokenTypes)).toEqual([2, 3, 3, 6, 1, 1, 1, 1, 1, 1, 5, 5].map((t) => t as number));
    expect(v.tokens.slice(10)).toEqual(['[PAD10]', '[PAD11]']);
    expect(TokenType.UNUSED).toBe(5);
  });

  it('accepts merges as pairs, and refuses a non-BPE model or an id past the model vocabulary', () => {
    const pairs = { ...json, model: { ...json.model, merges: json.model.merges.map((m) => m.split(' ')) } };
    expect(Array.from(ggufVocab(pairs, 10).scores)).toEqual(Array.from(ggufVocab(json, 10).scores));
    expect(() => ggufVocab({ model: { type: 'Unigram', vocab: [] } }, 10)).toThrow(/Unigram/);
    expect(() => ggufVocab(json, 8)).toThrow(/id 8.*vocabulary of 8/);
  });
});
