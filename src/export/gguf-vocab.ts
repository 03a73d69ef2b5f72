/**
 * A package's tokenizer.json (Hugging Face BPE with byte fallback, LLaMA-2 style: see
 * tokenizer-builder.ts) as GGUF's `tokenizer.ggml.*` arrays for llama.cpp's SentencePiece
 * ("llama") tokenizer.
 *
 * llama.cpp's SPM tokenizer does not read merges: it joins the adjacent pair whose joined piece
 * has the highest score. SentencePiece's own BPE scores are what Hugging Face derived the merge
 * list from (a lower rank for a higher score), so the score of a piece is minus the rank of the
 * first merge that makes it; pieces no merge makes (characters, bytes, specials) score 0 (they
 * are never the result of a join). Token types are llama.cpp's: 1 normal, 2 unknown, 3 control,
 * 6 byte (`<0xNN>`), 5 unused for ids past the tokenizer's vocabulary (a model's embedding may be
 * padded beyond it).
 */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface GgufVocab {
  tokens: string[];
  scores: Float32Array;
  tokenTypes: Int32Array;
}

interface TokenizerJsonLike {
  model?: { type?: string; vocab?: Record<string, number>; merges?: Array<string | [string, string]>; unk_token?: string | null };
  added_tokens?: Array<{ id: number; content: string; special?: boolean }>;
}

const BYTE_PIECE = /^<0x[0-9A-F]{2}>$/;

export function ggufVocab(json: object, vocabSize: number): GgufVocab {
  const t = json as TokenizerJsonLike;
  const model = t.model;
  if (model?.type !== 'BPE' || !model.vocab || !model.merges) {
    throw new Error(`export-gguf: tokenizer.json model is ${model?.type ?? 'missing'}; only a BPE model with merges (LLaMA-2 style) converts to llama.cpp's SentencePiece vocabulary`);
  }
  const tokens: string[] = new Array(vocabSize);
  const scores = new Float32Array(vocabSize);
  const tokenTypes = new Int32Array(vocabSize).fill(TokenType.NORMAL);
  for (const [piece, id] of Object.entries(model.vocab)) {
    if (id >= vocabSize) throw new Error(`export-gguf: token ${JSON.stringify(piece)} has id ${id}, past the model's vocabulary of ${vocabSize}`);
    tokens[id] = piece;
    if (BYTE_PIECE.test(piece)) tokenTypes[id] = TokenType.BYTE;
  }
  model.merges.forEach((m, rank) => {
    const [a, b] = typeof m === 'string' ? splitMerge(m) : m;
    const id = model.vocab![a + b];
    if (id !== undefined && scores[id] === 0) scores[id] = -(rank + 1);
  });
  for (const added of t.added_tokens ?? []) {
    if (added.id >= vocabSize) continue;
    tokens[added.id] = added.content;
    tokenTypes[added.id] = added.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  const unk = model.unk_token ?? '<unk>';
  if (model.vocab[unk] !== undefined) tokenTypes[model.vocab[unk]] = TokenType.UNKNOWN;
  for (let id = 0; id < vocabSize; id++) {
    if (tokens[id] !== undefined) continue;
    tokens[id] = `[PAD${id}]`;
    tokenTypes[id] = TokenType.UNUSED;
  }
  return { tokens, scores, tokenTypes };
}

/** "a b" -> [a, b]; a piece never holds a plain space (SentencePiece writes it as ▁). */
function splitMerge(m: string): [string, string] {
  const i = m.indexOf(' ', 1);
  if (i < 0) throw new Error(`export-gguf: merge ${JSON.stringify(m)} is not "left right"`);
  return [m.slice(0, i), m.slice(i + 1)];
}
