import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetector, type Detector } from '../../../src/languages/index.ts';
import { CONFUSABLE_GROUPS, groupOf, ruleEvidence } from '../../../src/languages/rules.ts';

const tokens = (s: string) => s.toLowerCase().split(/[^\p{L}\p{M}'ʻ’‘`·-]+/u).filter((w) => w.length > 0);
const evidence = (lang: string, s: string) => ruleEvidence(lang, tokens(s), s.toLowerCase());

describe('group rules (rules.ts)', () => {
  it('puts every language in at most one group', () => {
    const seen = new Set<string>();
    for (const g of CONFUSABLE_GROUPS) for (const l of g) {
      expect(seen.has(l)).toBe(false);
      seen.add(l);
      expect(groupOf(l)).toBe(g);
    }
    expect(groupOf('en')).toBeUndefined();
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

  it('uses the Turkic letters: ə for Azerbaijani, oʻ/gʻ for Uzbek, ı/ğ for Turkish', () => {
    expect(evidence('az', 'Bu gün hava çox gözəldir və biz parka getdik.')).toBeGreaterThan(evidence('tr', 'Bu gün hava çox gözəldir və biz parka getdik.'));
    expect(evidence('uz', "Bu yil oʻzbek tilida koʻp kitob chiqdi.")).toBeGreaterThan(evidence('tr', "Bu yil oʻzbek tilida koʻp kitob chiqdi."));
    expect(evidence('tr', 'Bugün hava çok güzel ve biz parka gittik, çünkü yağmur yağmadı.')).toBeGreaterThan(
      evidence('az', 'Bugün hava çok güzel ve biz parka gittik, çünkü yağmur yağmadı.'),
    );
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
  ];
  for (const [lang, text] of cases) {
    it(`detects ${lang}`, () => {
      expect(detector.detect(text).language).toBe(lang);
    });
  }
});
