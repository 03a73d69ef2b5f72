/**
 * X-ALMA prompts for a group, as the engine builds them (encodePrompt with the package's
 * template): alternating English -> a group language and back, over a fixed set of sentences.
 */
import { encodePrompt, formatPrompt, loadTokenizer } from '../../src/engine/tokenizer.ts';
import type { ModelPackage } from '../../src/model/package.ts';
import { BOS_MARKER } from '../../src/model/prompt.ts';
import { XALMA_LANGUAGES } from '../../src/model/xalma-languages.ts';

const SENTENCES = [
  'The weather is nice today.',
  'Where is the train station?',
  'I would like a cup of coffee, please.',
  'The meeting has been moved to Thursday afternoon.',
  'Please read the instructions before using the device.',
  'My sister lives in a small town near the sea.',
  'How much does this book cost?',
  'The museum opens at nine and closes at six.',
  'We need to finish the report by Friday.',
  'Thank you very much for your help!',
  'It rained all night, so the roads are wet.',
  'Can you recommend a good restaurant nearby?',
];

export interface XalmaPrompt {
  /** The text to translate. */
  prompt: string;
  /** The prompt after its BOS marker, as characters (what a tokenizer without BOS encodes). */
  body: string;
  /** Prompt ids with BOS, as the engine feeds them. */
  ids: number[];
}

export async function xalmaPrompts(pkg: ModelPackage, group: number, count: number): Promise<XalmaPrompt[]> {
  const { manifest } = pkg;
  const tokenizer = await loadTokenizer(pkg.tokenizerPath, { bosId: manifest.tokenizer.bosId, eosId: manifest.tokenizer.eosId, padId: manifest.tokenizer.padId });
  const names = new Map(XALMA_LANGUAGES.map(([code, , name]) => [code, name]));
  const langs = manifest.groups.find((g) => g.id === group)?.languages ?? [];
  const template = manifest.promptTemplate;
  const body = template.startsWith(BOS_MARKER) ? template.slice(BOS_MARKER.length) : template;
  return Array.from({ length: count }, (_, i) => {
    const other = names.get(langs[i % Math.max(1, langs.length)]) ?? 'German';
    const [sourceName, targetName] = i % 2 === 0 ? ['English', other] : [other, 'English'];
    const text = SENTENCES[i % SENTENCES.length];
    return { prompt: text, body: formatPrompt(body, sourceName, targetName, text), ids: encodePrompt(tokenizer, { template, sourceName, targetName, text }) };
  });
}
