/**
 * Markup and placeholders: a text is cut into pieces, `keep` (copied to the output byte for
 * byte) and `translate` (what the model sees), and put back together around the translations.
 *
 * Why fragments. A model asked to translate "Click <b>here</b> to {action}" may drop, move,
 * rename or translate the tag and the placeholder; the served demo model, whose output is noise,
 * certainly does. Preservation must not depend on the model copying anything, so every tag,
 * comment, placeholder and ignored element is cut out and only the text runs between them are
 * translated: "Click", "here", "to". The price is translation quality: each run is translated
 * without the words around it (word order cannot move across a tag, "here" is translated alone).
 * Guaranteed preservation was chosen over fluency: a broken tag or a lost `%s` breaks the page
 * or crashes the app that formats the string, a stiff fragment does not.
 *
 * What is kept, by format:
 *  - every format: placeholders (placeholders.ts); the whitespace at both ends of each run; runs
 *    without a letter (punctuation, digits, symbols, emoji alone) never reach the model;
 *  - html and xml: tags with their attributes, comments, CDATA sections, doctype and processing
 *    instructions; the content of `ignoreTags` elements, of elements with `translate="no"`, and in
 *    html of script, style and elements of class `notranslate`. Entities in text are decoded for
 *    the model (it sees "Tom & Jerry", not "Tom &amp; Jerry") and the translation is escaped
 *    again (& < >), so an entity keeps its meaning, not its spelling; entities in kept pieces keep
 *    their bytes. Whitespace entities (&nbsp;) at a run's ends are kept as they were.
 *
 * Malformed markup is not repaired: the parser (htmlparser2) reports text as it finds it, and
 * everything that is not reported as text is kept as it is, so an unclosed `<b>` or a stray
 * `</p>` never loses a byte (a bare `<`, as in "3 < 4", is text: translated with its run and
 * escaped in the output); an unclosed ignored element (`<script>` without its end) keeps
 * everything after it. Line breaks in a text node end a sentence, as in plain text (segment.ts).
 *
 * The parser is htmlparser2 (fb55's, the parser under cheerio: forgiving, widely used, several
 * releases in 2026): it reports the source offsets of every event, so pieces are slices of
 * the input and nothing is re-serialized (parse5 builds a spec-correct tree, adding implied
 * html/body elements and moving misnested content, which is what a browser needs, not what
 * byte-for-byte output needs); it has an XML mode for DeepL's tag_handling xml.
 */
import { decodeHTML, decodeXML } from 'entities';
import { Parser } from 'htmlparser2';
import { splitPlaceholders } from './placeholders.ts';
import { joinSegments, splitText, type SplitOptions } from './segment.ts';

export type TextFormat = 'text' | 'html' | 'xml';

export const TEXT_FORMATS: readonly TextFormat[] = ['text', 'html', 'xml'];

export interface MarkupOptions {
  format: TextFormat;
  /** Elements whose content is kept untranslated (DeepL's ignore_tags); case-insensitive in html. */
  ignoreTags?: readonly string[];
}

/** `keep`: source bytes for the output. `translate`: `raw` is the source, `text` what the model reads (entities decoded in markup). */
export type Piece = { kind: 'keep'; text: string } | { kind: 'translate'; text: string; raw: string };

export const PLAIN: MarkupOptions = { format: 'text' };

/** Elements whose content is never text to translate in HTML. */
const HTML_IGNORED = ['script', 'style'];

const LETTER = /\p{L}/u;
const LEADING_SPACE = /^\s+/u;
const TRAILING_SPACE = /\s+$/u;
const LEADING_ENTITY = /^&(?:#\d+|#[xX][\da-fA-F]+|[A-Za-z][A-Za-z\d]*);/;
const TRAILING_ENTITY = /&(?:#\d+|#[xX][\da-fA-F]+|[A-Za-z][A-Za-z\d]*);$/;

/** The pieces of `input`: keep pieces' `text` and translate pieces' `raw`, concatenated, are `input` (tested as a property). */
export function splitMarkup(input: string, opts: MarkupOptions = PLAIN): Piece[] {
  const out: Piece[] = [];
  const ranges = opts.format === 'text' ? [[0, input.length] as const] : textRanges(input, opts);
  let at = 0;
  for (const [start, end] of ranges) {
    if (start > at) pushKeep(out, input.slice(at, start));
    runPieces(out, input.slice(start, end), opts.format);
    at = end;
  }
  if (input.length > at) pushKeep(out, input.slice(at));
  return out;
}

/** The output: keep pieces as they are, each translate piece replaced by its translation (escaped for markup). */
export function joinPieces(pieces: readonly Piece[], translations: readonly string[], format: TextFormat): string {
  let out = '';
  let k = 0;
  for (const p of pieces) {
    if (p.kind === 'keep') out += p.text;
    else out += format === 'text' ? translations[k++] : escapeText(translations[k++]);
  }
  if (k !== translations.length) throw new Error(`joinPieces: ${translations.length} translations for ${k} runs`);
  return out;
}

/** What detection reads: the text runs alone, without markup or placeholders. */
export function detectionText(pieces: readonly Piece[]): string {
  return pieces
    .filter((p) => p.kind === 'translate')
    .map((p) => p.text)
    .join(' ');
}

/**
 * The text under which a translation is cached: the text itself for plain text (so /v1 and the
 * compatible APIs share entries), else the format and ignored elements in front, after a NUL.
 */
export function markupCacheText(text: string, opts: MarkupOptions = PLAIN): string {
  if (opts.format === 'text') return text;
  return `\u0000${opts.format}\u0000${(opts.ignoreTags ?? []).join(',')}\u0000${text}`;
}

export interface TextLayout {
  /** One engine row per sentence of each translate piece, in order. */
  rows: string[];
  /** The text with every row replaced by its output. */
  assemble(outputs: readonly string[]): string;
}

/**
 * Rows for the engine: each translate piece split into sentences (segment.ts). A sentence without
 * a letter (the "." left alone by ". If it was not you") stays as it is, like a run without one.
 */
export function layoutText(pieces: readonly Piece[], format: TextFormat, split: SplitOptions): TextLayout {
  const segmented = pieces.filter((p) => p.kind === 'translate').map((p) => splitText(p.text, split));
  const rows = segmented.flatMap((s) => s.sentences.filter((x) => LETTER.test(x)));
  return {
    rows,
    assemble(outputs) {
      if (outputs.length !== rows.length) throw new Error(`assemble: ${outputs.length} outputs for ${rows.length} rows`);
      let k = 0;
      const translations = segmented.map((s) => joinSegments(s.separators, s.sentences.map((x) => (LETTER.test(x) ? outputs[k++] : x))));
      return joinPieces(pieces, translations, format);
    },
  };
}

/** Source ranges [start, end) of text to translate: text events outside ignored elements and CDATA, adjacent ones merged. */
function textRanges(input: string, opts: MarkupOptions): Array<readonly [number, number]> {
  const xml = opts.format === 'xml';
  const fold = (name: string) => (xml ? name : name.toLowerCase());
  const ignored = new Set([...(opts.ignoreTags ?? []).map(fold), ...(xml ? [] : HTML_IGNORED)]);
  /** Per open element: whether its content is ignored (inherited). */
  const stack: boolean[] = [];
  const ranges: Array<[number, number]> = [];
  let cdata = false;
  const parser = new Parser(
    {
      onopentag(name, attribs) {
        const parentIgnored = stack.length > 0 && stack[stack.length - 1];
        const skip =
          parentIgnored ||
          ignored.has(fold(name)) ||
          attribs.translate?.trim().toLowerCase() === 'no' ||
          (!xml && /(?:^|\s)notranslate(?:\s|$)/.test(attribs.class ?? ''));
        stack.push(skip);
      },
      onclosetag() {
        stack.pop();
      },
      oncdatastart() {
        cdata = true;
      },
      oncdataend() {
        cdata = false;
      },
      ontext(data) {
        if (cdata || (stack.length > 0 && stack[stack.length - 1])) return;
        // Without entity decoding `data` is the source slice itself. Its start is taken from the
        // end and the length: htmlparser2 12's startIndex is one too low after a processing
        // instruction in xml mode (`<?xml ...?>text` starts text at the `>`; caught by the property test).
        const end = parser.endIndex + 1;
        const start = end - data.length;
        const last = ranges[ranges.length - 1];
        if (last && last[1] === start) last[1] = end;
        else ranges.push([start, end]);
      },
    },
    // Offsets are what is read (entities are decoded per run); self-closing `<x id="1"/>` closes in html too.
    { xmlMode: xml, decodeEntities: false, recognizeSelfClosing: true },
  );
  parser.end(input);
  return ranges;
}

/** The pieces of one text run: placeholders kept, each text span trimmed and kept unless it holds a letter. */
function runPieces(out: Piece[], run: string, format: TextFormat): void {
  for (const span of splitPlaceholders(run)) {
    if (span.keep) {
      pushKeep(out, span.text);
      continue;
    }
    const [lead, core, trail] = trim(span.text, format);
    const text = format === 'text' ? core : decode(core, format);
    if (!LETTER.test(text)) {
      pushKeep(out, span.text);
      continue;
    }
    pushKeep(out, lead);
    out.push({ kind: 'translate', text, raw: core });
    pushKeep(out, trail);
  }
}

/** [leading whitespace, core, trailing whitespace]; in markup, whitespace entities (&nbsp;) count as whitespace. */
function trim(raw: string, format: TextFormat): [string, string, string] {
  let start = 0;
  let end = raw.length;
  for (;;) {
    const rest = raw.slice(start, end);
    const space = LEADING_SPACE.exec(rest)?.[0] ?? (format === 'text' ? undefined : whitespaceEntity(LEADING_ENTITY.exec(rest)?.[0], format));
    if (!space) break;
    start += space.length;
  }
  for (;;) {
    const rest = raw.slice(start, end);
    const space = TRAILING_SPACE.exec(rest)?.[0] ?? (format === 'text' ? undefined : whitespaceEntity(TRAILING_ENTITY.exec(rest)?.[0], format));
    if (!space) break;
    end -= space.length;
  }
  return [raw.slice(0, start), raw.slice(start, end), raw.slice(end)];
}

function whitespaceEntity(entity: string | undefined, format: TextFormat): string | undefined {
  return entity !== undefined && /^\s+$/u.test(decode(entity, format)) ? entity : undefined;
}

function decode(raw: string, format: TextFormat): string {
  return format === 'xml' ? decodeXML(raw) : decodeHTML(raw);
}

/** What a text node needs escaped, in HTML and XML alike. */
function escapeText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

function pushKeep(out: Piece[], text: string): void {
  if (text === '') return;
  const last = out[out.length - 1];
  if (last?.kind === 'keep') last.text += text;
  else out.push({ kind: 'keep', text });
}
