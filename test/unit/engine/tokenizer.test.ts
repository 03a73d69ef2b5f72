import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isXalmaError } from '../../../src/errors.ts';
import { buildTokenizerJson } from '../../../src/model/tokenizer-builder.ts';
import {
  DEFAULT_PROMPT_TEMPLATE,
  encodePrompt,
  formatPrompt,
  loadTokenizer,
  type TextTokenizer,
} from '../../../src/engine/tokenizer.ts';

/** One phrase per language, written for these tests (not the builder's training text). */
const SAMPLES: Record<string, string> = {
  en: 'Where is the train station? I would like a cup of coffee, please.',
  af: "Waar is die treinstasie? Ek wil graag 'n koppie koffie hê, asseblief.",
  da: 'Hvor er togstationen? Jeg vil gerne have en kop kaffe, tak.',
  de: 'Wo ist der Bahnhof? Ich hätte gern eine Tasse Kaffee, bitte.',
  is: 'Hvar er lestarstöðin? Mig langar í kaffibolla, takk fyrir.',
  nl: 'Waar is het treinstation? Ik wil graag een kopje koffie, alstublieft.',
  no: 'Hvor er togstasjonen? Jeg vil gjerne ha en kopp kaffe, takk.',
  sv: 'Var ligger tågstationen? Jag skulle vilja ha en kopp kaffe, tack.',
  ca: "On és l'estació de tren? Voldria una tassa de cafè, si us plau.",
  es: '¿Dónde está la estación de tren? Quisiera una taza de café, por favor.',
  gl: 'Onde está a estación de tren? Quería unha cunca de café, por favor.',
  it: "Dov'è la stazione ferroviaria? Vorrei una tazza di caffè, per favore.",
  pt: 'Onde fica a estação de comboios? Queria uma chávena de café, por favor.',
  ro: 'Unde este gara? Aș dori o ceașcă de cafea, vă rog.',
  bg: 'Къде е гарата? Бих искал чаша кафе, моля.',
  mk: 'Каде е железничката станица? Би сакал шолја кафе, ве молам.',
  ru: 'Где находится вокзал? Я бы хотел чашку кофе, пожалуйста.',
  sr: 'Где је железничка станица? Желео бих шољу кафе, молим вас.',
  uk: 'Де знаходиться вокзал? Я хотів би чашку кави, будь ласка. Ґудзик, їжа, єнот.',
  fr: "Où est la gare ? Je voudrais une tasse de café, s'il vous plaît.",
  id: 'Di mana stasiun kereta? Saya mau secangkir kopi, tolong.',
  mg: 'Aiza ny gara? Te hisotro kafe iray kaopy aho, azafady.',
  ms: 'Di manakah stesen kereta api? Saya mahu secawan kopi, sila.',
  th: 'สถานีรถไฟอยู่ที่ไหน ฉันขอกาแฟหนึ่งถ้วยค่ะ',
  vi: 'Nhà ga ở đâu? Tôi muốn một tách cà phê, làm ơn.',
  cs: 'Kde je nádraží? Dal bych si šálek kávy, prosím.',
  el: 'Πού είναι ο σιδηροδρομικός σταθμός; Θα ήθελα ένα φλιτζάνι καφέ, παρακαλώ.',
  hu: 'Hol van a vasútállomás? Kérek egy csésze kávét, köszönöm.',
  lt: 'Kur yra traukinių stotis? Norėčiau puodelio kavos, prašau.',
  lv: 'Kur ir dzelzceļa stacija? Es vēlētos tasi kafijas, lūdzu.',
  pl: 'Gdzie jest dworzec kolejowy? Poproszę filiżankę kawy, dziękuję.',
  et: 'Kus on rongijaam? Sooviksin tassi kohvi, palun.',
  fi: 'Missä rautatieasema on? Haluaisin kupin kahvia, kiitos.',
  ja: '駅はどこですか？コーヒーを一杯ください。',
  ka: 'სად არის რკინიგზის სადგური? ერთი ფინჯანი ყავა მინდა, თუ შეიძლება.',
  ko: '기차역이 어디에 있어요? 커피 한 잔 주세요.',
  zh: '火车站在哪里？请给我一杯咖啡，谢谢。',
  gu: 'રેલવે સ્ટેશન ક્યાં છે? મને એક કપ કોફી જોઈએ છે, કૃપા કરીને.',
  hi: 'रेलवे स्टेशन कहाँ है? मुझे एक कप कॉफ़ी चाहिए, कृपया।',
  mr: 'रेल्वे स्टेशन कुठे आहे? मला एक कप कॉफी हवी आहे, कृपया.',
  ne: 'रेलवे स्टेसन कहाँ छ? मलाई एक कप कफी चाहियो, कृपया।',
  ur: 'ریلوے اسٹیشن کہاں ہے؟ مجھے ایک کپ کافی چاہیے، براہ کرم۔',
  ar: 'أين محطة القطار؟ أريد فنجان قهوة من فضلك.',
  az: 'Dəmir yolu vağzalı haradadır? Bir fincan qəhvə istərdim, zəhmət olmasa.',
  fa: 'ایستگاه قطار کجاست؟ یک فنجان قهوه می‌خواهم، لطفاً.',
  he: 'איפה תחנת הרכבת? אני רוצה כוס קפה, בבקשה.',
  kk: 'Теміржол вокзалы қайда? Маған бір кесе кофе беріңізші.',
  ky: 'Темир жол вокзалы кайда? Мага бир чыны кофе бериңизчи.',
  tr: 'Tren istasyonu nerede? Bir fincan kahve istiyorum, lütfen.',
  uz: 'Temir yoʻl vokzali qayerda? Menga bir piyola qahva bering, iltimos.',
};
const CODES = Object.keys(SAMPLES);
/** Scripts whose syllables/ideographs are mostly left to byte fallback by design. */
const BYTE_FALLBACK_SCRIPTS = new Set(['ja', 'ko', 'zh']);
/** ../shared/data/ntrex-50 relative to the repository root (test data; never copied here). */
const NTREX_DIR = fileURLToPath(new URL('../../../../shared/data/ntrex-50/', import.meta.url));

let dir: string;
let tok: TextTokenizer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xalma-tokenizer-'));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(buildTokenizerJson({ vocabSize: 4096 })));
  tok = await loadTokenizer(join(dir, 'tokenizer.json'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function isByteToken(id: number): boolean {
  return /^<0x[0-9A-F]{2}>$/.test(tok.tokenString(id));
}

describe('loadTokenizer', () => {
  it('reads the LLaMA-2 special ids and the vocabulary size', () => {
    expect(tok.vocabSize).toBe(4096);
    expect([tok.unkId, tok.bosId, tok.eosId, tok.padId]).toEqual([0, 1, 2, 0]);
    expect(tok.tokenString(3)).toBe('<0x00>');
    expect(tok.isSpecial(tok.eosId)).toBe(true);
    expect(tok.isSpecial(3)).toBe(false);
  });

  it('takes bos/eos/pad ids from the caller when given', async () => {
    const custom = await loadTokenizer(join(dir, 'tokenizer.json'), { padId: 2 });
    expect(custom.padId).toBe(2);
  });

  it('rejects a missing file, a placeholder and a non-LLaMA decoder with TOKENIZER_INVALID', async () => {
    await expect(loadTokenizer(join(dir, 'absent.json'))).rejects.toSatisfy((e) => isXalmaError(e, 'TOKENIZER_INVALID'));
    await writeFile(join(dir, 'placeholder.json'), '{"model": {"type": "placeholder"}}');
    await expect(loadTokenizer(join(dir, 'placeholder.json'))).rejects.toSatisfy((e) => isXalmaError(e, 'TOKENIZER_INVALID'));
    const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
    json.decoder = { type: 'Metaspace', replacement: '\u2581' };
    await writeFile(join(dir, 'metaspace.json'), JSON.stringify(json));
    await expect(loadTokenizer(join(dir, 'metaspace.json'))).rejects.toSatisfy((e) => isXalmaError(e, 'TOKENIZER_INVALID'));
  });
});

describe('encode/decode', () => {
  it.each(CODES)('round-trips the %s sample exactly, without <unk>', (code) => {
    const text = SAMPLES[code];
    const ids = tok.encode(text);
    expect(ids).not.toContain(tok.unkId);
    expect(tok.decode(ids)).toBe(text);
  });

  it('covers every alphabetic script with base characters (byte fallback only for ja/ko/zh)', () => {
    for (const code of CODES) {
      if (BYTE_FALLBACK_SCRIPTS.has(code)) continue;
      const bytes = tok.encode(SAMPLES[code]).filter(isByteToken).map((id) => tok.tokenString(id));
      expect(bytes, code).toEqual([]);
    }
  });

  it('round-trips the first 20 NTREX-50 lines of every language when the data is present', async () => {
    if (!existsSync(NTREX_DIR)) {
      console.log(`skipping NTREX round-trip: ${NTREX_DIR} is absent`);
      return;
    }
    let checked = 0;
    for (const code of CODES) {
      const path = join(NTREX_DIR, `${code}.txt`);
      if (!existsSync(path)) {
        console.log(`skipping NTREX round-trip for ${code}: ${path} is absent`);
        continue;
      }
      const lines = (await readFile(path, 'utf8')).split('\n').slice(0, 20);
      for (const line of lines) {
        const ids = tok.encode(line);
        expect(ids, `${code}: ${line}`).not.toContain(tok.unkId);
        expect(tok.decode(ids), code).toBe(line);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('adds no special tokens unless asked, and BOS once when asked', () => {
    const ids = tok.encode('Hello world');
    expect(ids.some((id) => tok.isSpecial(id))).toBe(false);
    expect(tok.encode('Hello world', { addBos: true })).toEqual([tok.bosId, ...ids]);
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('', { addBos: true })).toEqual([tok.bosId]);
  });

  it('encodes special-token spellings in text as plain characters', () => {
    const ids = tok.encode('stop </s> here <s> <unk>');
    expect(ids.some((id) => tok.isSpecial(id))).toBe(false);
    expect(tok.decode(ids)).toBe('stop </s> here <s> <unk>');
  });

  it('keeps spaces before punctuation and leading/trailing/multiple spaces (no clean-up)', () => {
    for (const text of ['a . b , c ! d ?', " don't 's", '  two leading', 'trailing  ', 'tab\there\nnew line', '']) {
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });

  it('decodes the empty list to "" and can skip special tokens', () => {
    expect(tok.decode([])).toBe('');
    const ids = [tok.bosId, ...tok.encode('Hello'), tok.eosId];
    expect(tok.decode(ids)).toBe('<s> Hello</s>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('Hello');
  });

  it('uses fewer tokens than UTF-8 bytes on Latin text', () => {
    const text = ['en', 'de', 'fr', 'es', 'it', 'pt', 'nl', 'pl', 'cs', 'tr'].map((c) => SAMPLES[c]).join(' ');
    expect(tok.encode(text).length).toBeLessThan(Buffer.byteLength(text, 'utf8'));
  });
});

describe('prompt', () => {
  const parts = { template: DEFAULT_PROMPT_TEMPLATE, sourceName: 'German', targetName: 'English', text: 'Guten Morgen!' };

  it('formats the X-ALMA chat prompt', () => {
    expect(formatPrompt(DEFAULT_PROMPT_TEMPLATE, 'German', 'English', 'Guten Morgen!')).toBe(
      '<s>[INST] Translate this from German to English:\nGerman: Guten Morgen!\nEnglish: [/INST]',
    );
  });

  it('fills placeholders in one pass, leaving placeholders typed by the user alone', () => {
    expect(formatPrompt('{source}>{target}: {text}', 'A', 'B', '{target} {source} $& $1')).toBe('A>B: {target} {source} $& $1');
  });

  it('encodes with exactly one BOS, at the start, and no other special token', () => {
    const ids = encodePrompt(tok, parts);
    expect(ids[0]).toBe(tok.bosId);
    expect(ids.filter((id) => id === tok.bosId)).toHaveLength(1);
    expect(ids.slice(1).some((id) => tok.isSpecial(id))).toBe(false);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(formatPrompt(DEFAULT_PROMPT_TEMPLATE.slice(3), 'German', 'English', 'Guten Morgen!'));
  });

  it('gives one BOS even when the user text holds "<s>" or "</s>" or the template has no "<s>"', () => {
    const injected = encodePrompt(tok, { ...parts, text: '<s> hi </s>' });
    expect(injected.filter((id) => tok.isSpecial(id))).toEqual([tok.bosId]);
    expect(injected[0]).toBe(tok.bosId);
    const bare = encodePrompt(tok, { ...parts, template: DEFAULT_PROMPT_TEMPLATE.slice(3) });
    expect(bare).toEqual(encodePrompt(tok, parts));
  });
});
