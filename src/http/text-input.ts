/**
 * `text` as clients send it (one string or an array) -> a checked list of texts, with the
 * configured limits turned into coded errors that name the offending item.
 */
import { XalmaError } from '../errors.ts';

export const textInputSchema = {
  description: 'One text, or an array of texts processed as independent items',
  anyOf: [
    { type: 'string' },
    { type: 'array', items: { type: 'string' } },
  ],
} as const;

export interface TextLimits {
  maxItems: number;
  maxTextChars: number;
}

export function checkTexts(text: string | string[], limits: TextLimits): string[] {
  const texts = typeof text === 'string' ? [text] : text;
  if (texts.length === 0) throw new XalmaError('TEXT_EMPTY', 'the array holds no texts', { field: 'body/text' });
  if (texts.length > limits.maxItems) {
    throw new XalmaError('TOO_MANY_ITEMS', `${texts.length} texts, at most ${limits.maxItems}`, { items: texts.length, limit: limits.maxItems });
  }
  texts.forEach((t, index) => {
    if (t.trim() === '') throw new XalmaError('TEXT_EMPTY', `item ${index} is empty`, { index });
    if (t.length > limits.maxTextChars) {
      throw new XalmaError('TEXT_TOO_LONG', `item ${index} has ${t.length} characters, at most ${limits.maxTextChars}`, { index, length: t.length, limit: limits.maxTextChars });
    }
  });
  return texts;
}
