/**
 * Hand-written disambiguation markers for languages that the statistical detectors confuse
 * (bench/detect.ts: id/ms, da/no, gl/pt/es, af/nl, hi/mr/ne, az/tr/uz, the Slavic Cyrillic five).
 *
 * Written from knowledge of the languages' spelling and function words, not extracted from the
 * evaluation data. Each word is one that is common in its language and rare or absent in the
 * others of the same script that it is confused with; each letter pattern is an orthographic
 * feature the neighbours lack. Only the weights that combine these with the detectors were
 * chosen on data (see detect.ts).
 */

/** Marker words per language (lowercase, whole tokens). */
const WORDS: Record<string, string> = {
  // Austronesian pair: Malay (Malaysia) vs Indonesian spellings and vocabulary.
  ms: 'ialah kerana bahawa boleh sahaja iaitu selepas manakala semasa apabila wang kerajaan polis syarikat semalam baharu bilion peratus antarabangsa tempatan kanak-kanak lelaki isteri cuba mencuba fikir berfikir mahu cakap bercakap walaupun macam esok kedai kereta bandar perlawanan sokongan menyokong kenyataan tentera pegawai jabatan mahkamah peguam cukai hospital doktor projek parti undi filem muzik televisyen universiti komuniti kualiti aktiviti minit ogos julai disember khamis jumaat ahad encik puan menerusi amat ramai patut sepatutnya dakwaan kakitangan negeri daripada',
  id: 'karena bahwa bisa yaitu uang pemerintah polisi perusahaan kemarin miliar persen internasional siswa anak-anak laki-laki pria istri coba mencoba pikir berpikir mau besok toko mobil tim pertandingan dukungan mendukung pernyataan tentara petugas pengadilan pengacara pajak dokter proyek partai pemilu film musik televisi universitas komunitas kualitas aktivitas menit agustus juli desember kamis jumat nggak mengatakan serikat',
  // Scandinavian pair: Danish vs Norwegian Bokmål (and Swedish beside them).
  da: 'af hvad nogle meget efter end mellem uge siger sagde gøre ud op mod nu blev bliver være været hvis kun hvor ikke også sådan mindst første anden tredje skal nogen kan godt øvrigt derfor selv dag dage år siden',
  no: 'av hva noen mye etter enn mellom uke sier sa gjøre ut opp mot nå ble blir vært hvordan bare fikk kjøre kommer hjem ikkje dei eit mange også første andre tredje slik dette disse fra',
  sv: 'och att inte är för jag hade från eller när också skulle mycket säger sade',
  // Ibero-Romance trio.
  gl: 'non unha un xa polo pola cos coas tamén moi hai cando cun cunha dun dunha nun nunha isto iso aínda despois ata millóns día anos eles súa seu este esta como pero máis mais ten ao á ás aos',
  pt: 'não uma já pelo pela também muito há quando isso ainda depois até milhões dia ano anos eles sua seu você são está mas mais tem ao à às aos ser foi foram pode sobre',
  es: 'no una ya por el los las muy hay cuando esto eso todavía después hasta millones día año años ellos su sus está pero más tiene al del se ha fue son también',
  ca: 'no una ja pel per la els les molt hi ha quan això encara després fins milions dia any anys ells seva seu està però més té al del es va amb també',
  // Afrikaans vs Dutch.
  af: "die nie 'n ŉ het ek jy hulle julle vir baie sê gewees sal ons maar wat hierdie daardie egter nou",
  nl: 'de het een niet voor zijn wordt werd hij zij wij jullie hun veel dat deze die van ook naar bij uit dan',
  // Turkic Latin trio.
  az: 'və ilə bu üçün deyil kimi çox olan edir etdi idi daha bir onun',
  tr: 've ile bu için değil gibi çok olarak ancak ama daha bir olan ise yaptı',
  uz: "va bilan bu uchun ham edi emas kabi juda boʻlgan bo'lgan qilgan yil yilda bir lekin hamda haqida orqali keyin mumkin kerak qilib esa yoki ular shu hech nima qanday boʻyicha bo'yicha oʻz o'z koʻp ko'p endi hali yana faqat ekan deb dedi yangi katta hamma barcha davlat hukumat shahar toshkent oʻzbekiston o'zbekiston kuni boshqa birinchi ikki toʻrt to'rt besh olti yetti sakkiz ming eng koʻra ko'ra sababli tomonidan qarshi hozir bugun kecha ertaga odamlar xalq mamlakat dunyo vaqt",
  // Devanagari trio.
  hi: 'है हैं का की के में से को ने और यह था थे थी कि भी पर लिए गया किया रहा',
  mr: 'आहे आहेत च्या ची चा चे ला मध्ये आणि हे होते होता झाले केले या त्या नाही',
  ne: 'छ छन् मा ले र पनि भएको गरेको हो थियो यो त्यो हरू गर्न भने',
  // Slavic Cyrillic five (+kk, ky).
  ru: 'в что это как он был была были также который которые его ее не по с для от',
  bg: 'във че това които който са ще от за се е беше бяха но също',
  mk: 'во со ќе што е од се не ги го ја беа бил била дека исто',
  sr: 'у је да ће што од се са био била били али такође',
  uk: 'в у що це як він був була також який які його її не по з для від і',
  kk: 'және мен бұл үшін деп болды еді бір осы',
  ky: 'жана менен бул үчүн деп болгон эле бир ошол',
};

/** Letters or letter sequences peculiar to one language within its script group. */
const LETTERS: Record<string, RegExp> = {
  af: /ŉ|ê|ë|ô|û/u,
  nl: /ij|sch/u,
  da: /\baf\b|hed\b/u,
  no: /kj|gj|het\b/u,
  gl: /\bx[aeiouáéíóú]|óns\b/u,
  pt: /[ãõ]|ç[ãõ]|lh|(?<!u)nh/u,
  es: /ñ|ción\b/u,
  ca: /l·l|[àèò]|ny\b/u,
  az: /ə/u,
  uz: /[og][ʻ'‘’`]|q(?!u)/u,
  tr: /ı/u,
  mr: /ळ/u,
  mk: /[ѓќѕ]/u,
  sr: /[ђћ]/u,
  bg: /ъ/u,
  ru: /[ыэё]/u,
  uk: /[їєґ]/u,
  kk: /[әғқұһ]/u,
  ky: /[ңөү]/u,
};

const wordSets = new Map<string, Set<string>>(
  Object.entries(WORDS).map(([lang, words]) => [lang, new Set(words.split(' '))]),
);

/** Languages for which markers exist. */
export const MARKED_LANGUAGES: ReadonlySet<string> = new Set([...Object.keys(WORDS), ...Object.keys(LETTERS)]);

/**
 * Marker evidence for each candidate: the share of the text's words that are marker words of
 * the language, plus 1 when a peculiar letter pattern occurs. Candidates without markers score 0.
 */
export function markerScores(words: readonly string[], lower: string, candidates: readonly string[], out: Float64Array): void {
  for (let i = 0; i < candidates.length; i++) {
    const lang = candidates[i];
    let score = 0;
    const set = wordSets.get(lang);
    if (set && words.length > 0) {
      let hits = 0;
      for (const w of words) if (set.has(w)) hits++;
      score += hits / words.length;
    }
    const letters = LETTERS[lang];
    if (letters && letters.test(lower)) score += 1;
    out[i] = score;
  }
}
