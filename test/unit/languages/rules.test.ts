import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetector, type Detector } from '../../../src/languages/index.ts';
import { CONFUSABLE_GROUPS, confusableGroupOf, ruleEvidence } from '../../../src/languages/rules.ts';
import { routeScript } from '../../../src/languages/script.ts';
import { markerScores } from '../../../src/languages/markers.ts';

const tokens = (s: string) => s.toLowerCase().split(/[^\p{L}\p{M}'ʻ’‘`·-]+/u).filter((w) => w.length > 0);
const evidence = (lang: string, s: string) => ruleEvidence(lang, tokens(s), s.toLowerCase());

describe('group rules (rules.ts)', () => {
  it('puts every language in at most one group', () => {
    const seen = new Set<string>();
    for (const g of CONFUSABLE_GROUPS) for (const l of g) {
      expect(seen.has(l)).toBe(false);
      seen.add(l);
      expect(confusableGroupOf(l)).toBe(g);
    }
    expect(confusableGroupOf('en')).toBeUndefined();
  });

  it('separates Indonesian from Malay spellings and vocabulary', () => {
    const id = 'Pemerintah mengatakan bahwa kualitas layanan kesehatan harus ditingkatkan karena banyak pasien.';
    const ms = 'Kerajaan berkata bahawa kualiti perkhidmatan kesihatan perlu dipertingkatkan kerana ramai pesakit.';
    expect(evidence('id', id)).toBeGreaterThan(evidence('ms', id));
    expect(evidence('ms', ms)).toBeGreaterThan(evidence('id', ms));
  });

  it('separates Danish from Norwegian and Galician from Portuguese', () => {
    expect(evidence('da', 'Hvad sagde hun efter mødet? Det ved jeg ikke, men hun gik hjem igen.')).toBeGreaterThan(
      evidence('no', 'Hvad sagde hun efter mødet? Det ved jeg ikke, men hun gik hjem igen.'),
    );
    expect(evidence('no', 'Hva sa hun etter møtet? Det vet jeg ikke, men hun gikk hjem igjen.')).toBeGreaterThan(
      evidence('da', 'Hva sa hun etter møtet? Det vet jeg ikke, men hun gikk hjem igjen.'),
    );
    const gl = 'Non hai xente abondo na cidade, pero o goberno dixo que xa ten unha solución.';
    expect(evidence('gl', gl)).toBeGreaterThan(evidence('pt', gl));
    expect(evidence('gl', gl)).toBeGreaterThan(evidence('es', gl));
  });

  it('uses Danish ud-/Norwegian ut- prefixes and Galician vs Portuguese pronoun and verb spellings', () => {
    expect(evidence('da', 'Udviklingen udenfor byen')).toBeGreaterThan(evidence('no', 'Udviklingen udenfor byen'));
    expect(evidence('no', 'Utviklingen utenfor byen')).toBeGreaterThan(evidence('da', 'Utviklingen utenfor byen'));
    expect(evidence('gl', 'Quen sexa o mellor')).toBeGreaterThan(evidence('pt', 'Quen sexa o mellor'));
    expect(evidence('pt', 'Quem seja o melhor')).toBeGreaterThan(evidence('gl', 'Quem seja o melhor'));
  });

  it('does not count the nh of Galician unha as a Portuguese marker', () => {
    const out = new Float64Array(2);
    markerScores(tokens('Hai unha casa'), 'hai unha casa', ['gl', 'pt'], out);
    expect(out[0]).toBeGreaterThan(out[1]);
    markerScores(tokens('Tenho uma casa'), 'tenho uma casa', ['gl', 'pt'], out);
    expect(out[1]).toBeGreaterThan(out[0]);
  });

  it('uses the Turkic letters: ə for Azerbaijani, oʻ/gʻ for Uzbek, ı/ğ for Turkish', () => {
    expect(evidence('az', 'Bu gün hava çox gözəldir və biz parka getdik.')).toBeGreaterThan(evidence('tr', 'Bu gün hava çox gözəldir və biz parka getdik.'));
    expect(evidence('uz', "Bu yil oʻzbek tilida koʻp kitob chiqdi.")).toBeGreaterThan(evidence('tr', "Bu yil oʻzbek tilida koʻp kitob chiqdi."));
    expect(evidence('tr', 'Bugün hava çok güzel ve biz parka gittik, çünkü yağmur yağmadı.')).toBeGreaterThan(
      evidence('az', 'Bugün hava çok güzel ve biz parka gittik, çünkü yağmur yağmadı.'),
    );
  });
});

describe('group rules added for Cyrillic, Kazakh/Kyrgyz and Arabic script', () => {
  const more = (a: string, s: string, b: string) => expect(evidence(a, s)).toBeGreaterThan(evidence(b, s));

  it('separates the Slavic Cyrillic five by letters and function words', () => {
    more('ru', 'Он сказал, что это было сделано ещё вчера.', 'uk');
    more('uk', 'Він сказав, що це було зроблено ще вчора.', 'ru');
    more('bg', 'Той каза, че това вече е направено.', 'mk');
    more('mk', 'Тој рече дека тоа веќе е направено.', 'bg');
    more('sr', 'Он је рекао да ће то већ бити урађено.', 'mk');
    more('mk', 'Тој рече дека тоа ќе биде направено.', 'sr');
  });

  it('separates Kazakh letters from Kyrgyz long vowels and genitive', () => {
    more('kk', 'Қазақстан үкіметі бұл туралы айтты.', 'ky');
    more('ky', 'Кыргызстандын өкмөтү бул тууралуу айтты.', 'kk');
  });

  it('separates Arabic, Persian and Urdu by letters and function words', () => {
    more('ar', 'قال الرئيس إن الحكومة ستعمل على هذه القضية.', 'fa');
    more('fa', 'رئیس جمهور گفت که دولت برای این مسئله کار می کند.', 'ar');
    more('ur', 'صدر نے کہا کہ حکومت اس مسئلے پر کام کرے گی۔', 'fa');
  });

  it('uses Indonesian/Malay word pairs (terjadi/berlaku, mulai/bermula, tersebut)', () => {
    more('id', 'Kejadian tersebut terjadi sekitar pukul tiga.', 'ms');
    more('ms', 'Kejadian itu berlaku kira-kira pukul tiga.', 'id');
  });

  it('uses Afrikaans -sie and sk- against Dutch -tie and sch-', () => {
    more('af', 'Die polisie se situasie by die skool', 'nl');
    more('nl', 'De politie en de situatie bij de school', 'af');
  });

  it('uses Galician -ción/ñ against Portuguese -ção/nh and Spanish diphthongs', () => {
    more('gl', 'Descoñécese a situación', 'pt');
    more('pt', 'Desconhece-se a situação', 'gl');
    more('es', 'Se desconoce la situación del puerto', 'gl');
  });
});

describe('script routing with embedded Latin names', () => {
  it('keeps Chinese, Thai and Korean text with Latin brand names in its own script', () => {
    expect(routeScript('CBS 为 310 万、NBC 为 294 万、MSNBC 为 289 万。').script).toBe('Hani');
    expect(routeScript('Scherzer ต้องการปะทะกับ Rockies').script).toBe('Thai');
    expect(routeScript('Manchester United 감독은 말했다').script).toBe('Hang');
  });

  it('reads Han with Japanese-only kanji as Japanese, and simplified or traditional Chinese as Chinese', () => {
    expect(routeScript('国立気象局').script).toBe('Kana');
    expect(routeScript('機関広報担当').script).toBe('Kana');
    expect(routeScript('国家气象局').script).toBe('Hani');
    expect(routeScript('國家氣象局').script).toBe('Hani');
    expect(routeScript('但无核化谈判已停滞不前。').script).toBe('Hani');
    // One stray Japanese form in a long Chinese text does not flip it.
    expect(routeScript('北京市政府今天宣布，从下个月开始将在全市范围内推广新的垃圾分类制度，市民需要按照规定投放気').script).toBe('Hani');
  });

  it('lets any kana or hangul decide a Latin-majority snippet (Japanese or Korean around a name)', () => {
    expect(routeScript('Scott Robinsonが').script).toBe('Kana');
    expect(routeScript('Facebook、Googleや').script).toBe('Kana');
    expect(routeScript('Samsung Electronics는').script).toBe('Hang');
    expect(routeScript('Scott Robinson').script).toBe('Latn');
  });

  it('leaves Latin text with a few foreign letters Latin', () => {
    expect(routeScript('The word 你好 means hello in Mandarin Chinese.').script).toBe('Latn');
    expect(routeScript('Sie nannte es «Москва» in ihrem Bericht über die Reise.').script).toBe('Latn');
  });
});

describe('Danish ej / Norwegian ei and b-d-g / p-t-k spellings', () => {
  it('counts them for the right language', () => {
    const da = 'Han havde brugt hele dagen på at købe en ny lejlighed uden hendes hjælp.';
    const no = 'Han hadde brukt hele dagen på å kjøpe en ny leilighet uten hennes hjelp.';
    expect(evidence('da', da)).toBeGreaterThan(evidence('no', da));
    expect(evidence('no', no)).toBeGreaterThan(evidence('da', no));
  });
});

describe('Uzbek markers outside its group', () => {
  it('gives Uzbek q (not qu) and oʻ/gʻ a marker over Estonian and English', () => {
    const out = new Float64Array(3);
    const text = 'yangi qonun qabul';
    markerScores(tokens(text), text, ['uz', 'et', 'en'], out);
    expect(out[0]).toBeGreaterThan(out[1]);
    expect(out[0]).toBeGreaterThan(out[2]);
  });
});

describe('detector on confusable pairs', () => {
  let detector: Detector;
  beforeAll(async () => {
    detector = await createDetector();
  }, 30_000);
  afterAll(() => detector?.dispose());

  const cases: Array<[string, string]> = [
    ['id', 'Pemerintah mengatakan bahwa kualitas layanan kesehatan harus ditingkatkan karena banyak pasien menunggu terlalu lama.'],
    ['ms', 'Kerajaan berkata bahawa kualiti perkhidmatan kesihatan perlu dipertingkatkan kerana ramai pesakit menunggu terlalu lama.'],
    ['da', 'Hvad sagde hun efter mødet? Det ved jeg ikke, men hun gik hjem igen lidt senere.'],
    ['no', 'Hva sa hun etter møtet? Det vet jeg ikke, men hun gikk hjem igjen litt senere.'],
    ['gl', 'Non hai xente abondo na cidade, pero o goberno dixo que xa ten unha solución para o problema.'],
    ['pt', 'Não há gente suficiente na cidade, mas o governo disse que já tem uma solução para o problema.'],
    ['af', 'Die regering het gesê dat hulle nie die nuwe wet sal aanvaar nie, want dit is baie duur.'],
    ['nl', 'De regering heeft gezegd dat zij de nieuwe wet niet zal aanvaarden, want het is erg duur.'],
    ['az', 'Bu gün hava çox gözəldir və biz uşaqlarla birlikdə parka getdik.'],
    ['uz', "Bu yil oʻzbek tilida koʻp kitoblar chiqdi va ular juda mashhur boʻldi."],
    // 3-word snippets (short-text weights) and the new groups.
    ['ms', 'Kerajaan berkata bahawa'],
    ['id', 'Pemerintah mengatakan bahwa'],
    ['mk', 'Владата на Македонија рече дека ќе ги намали даноците следната година.'],
    ['sr', 'Влада Србије је рекла да ће следеће године смањити порезе.'],
    ['bg', 'Правителството на България каза, че ще намали данъците догодина.'],
    ['zh', 'CBS 为 310 万、NBC 为 294 万、MSNBC 为 289 万。'],
  ];
  for (const [lang, text] of cases) {
    it(`detects ${lang}`, () => {
      expect(detector.detect(text).language).toBe(lang);
    });
  }
});
