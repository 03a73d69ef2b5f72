/**
 * Placeholders in a run of text, found so that they never reach the model: the run is cut into
 * spans, `keep` (a placeholder, copied to the output as it is) or text (what may be translated).
 * The spans of a run, concatenated, are the run byte for byte (tested as a property).
 *
 * What is a placeholder, as localization tools send them (Weblate, gettext, i18next, ICU/formatjs,
 * Android/iOS, Symfony, Qt):
 *   {name} {0} {count, number} ${var}   a balanced brace block; `{{var}}` and `{{{raw}}}` likewise
 *   %s %d %1$s %(name)s %.2f %-5d %% %@  printf and Python formats (no space flag: "50% done" is text)
 *   %name%  %1                           Symfony parameters, Qt arguments
 *   <x id="7"/>  <x id="7"></x>          Weblate's placeholder element, in plain text too
 * ICU `{n, plural|selectordinal|select, ...}` is taken apart: its header, selectors, braces and
 * `#` are kept and the message texts are text spans (translated one by one). A block that does not
 * parse as ICU (a quote that changes the syntax, a missing message) is kept whole, untranslated.
 *
 * A run with an unmatched brace is kept whole: in markup, that is an ICU message cut by inline
 * tags (`{n, plural, one {<b>#</b> item} ...}`), whose pieces (`n, plural, one`) must not reach
 * the model; in plain text a lone brace is rare enough that leaving such a string untranslated is
 * the safe side.
 */

export interface Span {
  keep: boolean;
  text: string;
}

/** printf (C, PHP, Python %-formatting); the conversion letter is required, so "100%" stays text. */
const PRINTF = /%%|%(?:\d+\$)?(?:\([^()\s]{1,64}\))?[-+#0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|ll|[hlLqjzt])?[diouxXeEfFgGaAcspn@]/y;
/** Symfony's %name% (two characters at least: "%d%%" is printf), before printf: "%count%" would otherwise be "%c" + "ount%". */
const PERCENT_NAMED = /%[A-Za-z_][\w.-]{1,63}%/y;
/** Qt's %1 ... %99 (after printf, which takes %1$s). */
const QT_ARG = /%\d{1,2}(?![\d$])/y;
/** Weblate's placeholder element (as sent to DeepL with tag_handling xml, ignore_tags x). */
const WEBLATE_X = /<x\s+id=(?:"[^"<>]*"|'[^'<>]*')\s*(?:\/>|>\s*<\/x>)/y;
/** `{arg, plural|selectordinal|select,` at the start of a brace block. */
const ICU_HEAD = /^\{\s*[\p{L}\p{N}_$.-]+\s*,\s*(plural|selectordinal|select)\s*,/u;
/** An ICU selector: `one`, `other`, `=0`, `male`... */
const ICU_SELECTOR = /[^\s{}]+/y;
const ICU_OFFSET = /offset:\s*\d+/y;
const SPACE = /\s*/y;

/** The spans of `run`; the whole run as one keep span when a brace is unmatched. */
export function splitPlaceholders(run: string): Span[] {
  const spans = scan(run, false);
  return spans ?? [{ keep: true, text: run }];
}

/**
 * Spans of a stretch of text; null when a brace is unmatched. `plural`: inside a plural message,
 * where `#` stands for the number.
 */
function scan(text: string, plural: boolean): Span[] | null {
  const out: Span[] = [];
  let textStart = 0;
  let i = 0;
  const keep = (start: number, end: number, spans?: Span[]) => {
    if (start > textStart) push(out, { keep: false, text: text.slice(textStart, start) });
    for (const s of spans ?? [{ keep: true, text: text.slice(start, end) }]) push(out, s);
    textStart = i = end;
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '{' || (c === '$' && text[i + 1] === '{')) {
      const open = c === '$' ? i + 1 : i;
      const close = matchBrace(text, open);
      if (close === -1) return null;
      keep(i, close, c === '{' ? braceSpans(text.slice(open, close)) : undefined);
    } else if (c === '}') {
      return null;
    } else if (c === '%') {
      const end = percentNamed(text, i) ?? sticky(PRINTF, text, i) ?? sticky(QT_ARG, text, i);
      if (end !== undefined) keep(i, end);
      else i++;
    } else if (c === '<') {
      const end = sticky(WEBLATE_X, text, i);
      if (end !== undefined) keep(i, end);
      else i++;
    } else if (c === '#' && plural) {
      keep(i, i + 1);
    } else {
      i++;
    }
  }
  if (text.length > textStart) push(out, { keep: false, text: text.slice(textStart) });
  return out;
}

/**
 * End (exclusive) of the brace block opening at `open`, or -1 when unmatched. With `templates`,
 * `{{x}}` and `{{{x}}}` close with as many braces as they opened (an ICU message never does).
 */
function matchBrace(text: string, open: number, templates = true): number {
  let opening = 0;
  while (templates && text[open + opening] === '{' && opening < 3) opening++;
  if (opening > 1) {
    const closeAt = text.indexOf('}'.repeat(opening), open + opening);
    return closeAt === -1 ? -1 : closeAt + opening;
  }
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

/** A balanced brace block: ICU taken apart when it parses, else kept whole. */
function braceSpans(block: string): Span[] {
  return icuSpans(block) ?? [{ keep: true, text: block }];
}

/** `{arg, plural, one {...} other {...}}` as spans, or null when it is not (well-formed) ICU. */
function icuSpans(block: string): Span[] | null {
  const head = ICU_HEAD.exec(block);
  if (!head) return null;
  const plural = head[1] !== 'select';
  const out: Span[] = [];
  let i = head[0].length;
  let keepFrom = 0;
  let messages = 0;
  const end = block.length - 1; // the block's closing brace
  i = skip(SPACE, block, i);
  if (plural) i = skip(SPACE, block, skip(ICU_OFFSET, block, i));
  while (i < end) {
    const afterSelector = sticky(ICU_SELECTOR, block, i);
    if (afterSelector === undefined) return null;
    i = skip(SPACE, block, afterSelector);
    if (block[i] !== '{') return null;
    const close = matchBrace(block, i, false);
    if (close === -1 || close > end) return null;
    const inner = block.slice(i + 1, close - 1);
    // ICU quoting ('{', '#', '') changes what is syntax: not taken apart.
    if (/'[{}#|']/.test(inner)) return null;
    const spans = scan(inner, plural);
    if (spans === null) return null;
    push(out, { keep: true, text: block.slice(keepFrom, i + 1) });
    for (const s of spans) push(out, s);
    keepFrom = close - 1;
    messages++;
    i = skip(SPACE, block, close);
  }
  if (messages === 0) return null;
  push(out, { keep: true, text: block.slice(keepFrom) });
  return out;
}

/** Appends, merging with the previous span of the same kind. */
function push(out: Span[], span: Span): void {
  if (span.text === '') return;
  const last = out[out.length - 1];
  if (last && last.keep === span.keep) last.text += span.text;
  else out.push({ ...span });
}

/**
 * Symfony's %name% at `at`, unless its closing % opens a printf format other than %%:
 * "%shello%(n)d" is "%s" + "hello" + "%(n)d", not "%shello%" + "(n)d"; "%count%%(n)d" is
 * "%count%" + "%(n)d".
 */
function percentNamed(text: string, at: number): number | undefined {
  const end = sticky(PERCENT_NAMED, text, at);
  if (end === undefined) return undefined;
  const next = sticky(PRINTF, text, end - 1);
  return next === undefined || text.slice(end - 1, next) === '%%' ? end : undefined;
}

/** End of a sticky match at `at`, or undefined. */
function sticky(re: RegExp, text: string, at: number): number | undefined {
  re.lastIndex = at;
  return re.test(text) ? re.lastIndex : undefined;
}

function skip(re: RegExp, text: string, at: number): number {
  return sticky(re, text, at) ?? at;
}
