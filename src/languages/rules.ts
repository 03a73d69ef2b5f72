/**
 * Hand-written disambiguation rules for the confusable groups (id/ms, da/no/sv, gl/pt/es/ca,
 * af/nl, hi/mr/ne, uz/az/tr). Written from knowledge of the languages' spelling, affixes and
 * vocabulary (standard Indonesian vs Malaysian Malay, Danish vs Bokmål/Nynorsk, Galician vs
 * Portuguese/Spanish orthography, ...), never extracted from evaluation data. Only the weight
 * that combines this evidence with the statistical engines was chosen on data (detect.ts).
 *
 * The evidence for a language is a count of distinctive tokens, suffixes and letter patterns
 * that the other members of its group do not use (or use much less). detect.ts adds the
 * difference between group members to the vote, so a word shared by the whole group would not
 * matter; words below are chosen to be specific within the group.
 */

export const CONFUSABLE_GROUPS: readonly (readonly string[])[] = [
  ['id', 'ms'],
  ['da', 'no', 'sv'],
  ['gl', 'pt', 'es', 'ca'],
  ['af', 'nl'],
  ['hi', 'mr', 'ne'],
  ['uz', 'az', 'tr'],
];

interface Rule {
  /** Whole lowercase tokens. */
  words: ReadonlySet<string>;
  /** Token endings (checked on tokens at least 2 letters longer than the ending). */
  suffixes: readonly string[];
  /** Patterns over the whole lowercase text; each pattern counts once per match (global regexes). */
  patterns: readonly RegExp[];
}

function rule(words: string, suffixes = '', patterns: RegExp[] = []): Rule {
  return {
    words: new Set(words.split(/\s+/).filter((w) => w.length > 0)),
    suffixes: suffixes.split(/\s+/).filter((s) => s.length > 0),
    patterns,
  };
}

const RULES: Readonly<Record<string, Rule>> = {
  // Indonesian vs Malaysian Malay: spelling (uang/wang, karena/kerana, -itas/-iti), loanwords
  // from Dutch vs English (polisi/polis, kantor/pejabat), and vocabulary (bisa vs boleh).
  id: rule(
    'karena bahwa bisa uang pemerintah perusahaan persen miliar triliun menit bagian kantor pasien kesehatan sehat obat ' +
      'korban tim pertandingan pelatih laki-laki pria istri teman  berbagai inggris eropa jepang spanyol ' +
      'tentara penelitian peneliti ilmuwan pengadilan pengacara kejahatan pemilu partai pernyataan konferensi kampanye ' +
      ' sesudah saat  harus mau coba mencoba pikir berpikir paham kebijakan dampak terdampak polisi mobil ' +
      'kota yaitu  kemarin   dokter proyek film musik televisi telepon informasi agustus juli desember ' +
      'kamis jumat senin  maret juni keuangan investasi bisnis kendaraan anggaran layanan fasilitas nggak enggak ' +
      'gak banget sekretaris komite kasus infeksi wabah pengobatan perawatan delapan tingkat mengembangkan pengembangan ' +
      'menemukan   koran kejuaraan  penggemar   belakangan    silakan ' +
      '  kabupaten provinsi bandara sepeda brasil italia irak suriah ukraina meksiko belanda memiliki',
    'itas isasi',
    [/\bamerika serikat\b/gu, /\bsaat ini\b/gu, /\bsepak bola\b/gu, /\brumah sakit\b/gu, /\bjuru bicara\b/gu],
  ),
  ms: rule(
    'kerana bahawa wang kerajaan syarikat peratus bilion trilion minit bahagian  pesakit kesihatan sihat ubat ' +
      'mangsa  perlawanan jurulatih kanak-kanak lelaki isteri rakan  pelbagai inggeris eropah jepun sepanyol ' +
      'tentera kajian penyelidik saintis  peguam jenayah parti undi kenyataan akhbar kempen selepas semasa ' +
      'manakala apabila mahu cuba mencuba fikir berfikir faham sahaja ialah iaitu mana-mana sebarang sesiapa ' +
      'bagaimanapun tempoh lapan perkhidmatan kemudahan agensi jabatan timbalan jurucakap kewangan pelaburan ' +
      'perniagaan jualan hadapan lepas  khas peringkat kadar  membangunkan mendapati dakwaan terjejas ' +
      'menjejaskan polis kereta bandar hospital doktor projek filem muzik televisyen telefon maklumat ogos julai ' +
      'disember khamis jumaat isnin ahad mac jun kenderaan bajet setiausaha jawatankuasa kes jangkitan wabak rawatan ' +
      'makmal kejohanan peminat awak encik puan sila semula baharu hendak tengok pertubuhan    ' +
      'justeru seterusnya tiada kakitangan   pelan amalan eksport import brazil itali iraq syria ukraine ' +
      '  menerusi negeri',
    'iti isyen',
    [/\bamerika syarikat\b/gu, /\bpilihan raya\b/gu, /\bbola sepak\b/gu, /\bke atas\b/gu, /\bwalau bagaimanapun\b/gu, /\borang ramai\b/gu],
  ),
  // Danish vs Norwegian (Bokmål, some Nynorsk) vs Swedish.
  da: rule(
    'af hvad nogle meget efter end mellem uge siger sagde gøre ud op nu blev blevet været gået fået sket sådan ' +
      'spørgsmål måske kende købe tænke lidt bedste igen anden andet gennem mod imod tilbage endnu aldrig altid ' +
      'regeringen procent mig dig sig vores os hende hinanden fik gik tog gav vej nej højt høj øje bog gade mad ' +
      'hjælpe køre ske sø tyve syv selvom hvorfor hvornår',
    'hed heden heder ighed tion tionen tioner',
    [/øj/gu, /ej\b/gu],
  ),
  no: rule(
    'av hva noen mye etter enn mellom uke sier sa gjøre ut opp nå ble blitt vært gått fått skjedd slik sånn ' +
      'spørsmål kanskje kjenne kjøpe tenke litt beste igjen annen annet gjennom mot tilbake ennå aldri alltid ' +
      'regjeringen prosent meg deg seg vår våre oss henne hverandre fikk gikk tok ga vei nei høyt høy øye bok gate mat ' +
      'hjelpe kjøre skje sjø tjue sju   hvorfor når ikkje eg ein eit dei kva kor berre heilt mykje frå ' +
      'mennesker fortsatt',
    'het heten heter ighet sjon sjonen sjoner',
    [/øy/gu, /ei\b/gu, /\bkj/gu, /\bgj/gu, /skj/gu],
  ),
  sv: rule(
    'och att inte är för jag hade från  när   mycket säger sade          ' +
      '   hon sina     eftersom        redan',
    'ning ningen het heten',
    [/[äö]/gu],
  ),
  // Galician vs Portuguese vs Spanish vs Catalan.
  gl: rule(
    'non unha unhas xa polo pola polos polas cos coas tamén moi moito moita moitos moitas hai cando cun cunha dun dunha ' +
      'nun nunha aínda despois ata millóns máis ten lle lles dixo dixeron fixo fixeron facer foron  sen nin ' +
      'entón mentres dende porén tódolos algún algunha  ningunha fóra traballo goberno xente xeral xuño xullo ' +
      'xoves mércores venres luns grazas súa seus súas deles delas mesmo sempre agora    ',
    'cións ción ións óns zón',
    [/\bx[aeiouáéíóú]/gu],
  ),
  pt: rule(
    'não uma umas já pelo pela pelos pelas também muito muita muitos muitas há quando isso ainda depois  milhões ' +
      'você vocês são  estão mas tem têm à às foram  disse disseram fez fazer nem  então enquanto ' +
      'trabalho governo gente geral junho julho obrigado sua seus suas mesmo sempre agora outro outra eles elas ' +
      'mais sem também também',
    'ção ções ável ível áveis íveis aram eram iram avam iam   ',
    [/[ãõâêô]/gu, /lh/gu, /nh[aeiou]/gu, /ç/gu],
  ),
  es: rule(
    '  los las y   muy hay también hasta después hacer dijo dijeron hizo entonces mientras cuando   ' +
      '  le  lo su sus puede tiene nuevo nueva bueno tiempo siempre cuenta pueblo cierto mucho mucha ' +
      'muchos muchas millones trabajo gobierno gente  junio julio gracias ahora otro otra otros otras ellos ' +
      'ellas           unas',
    'ción ciones ciones   ',
    [/ñ/gu, /(?<![qg])ue/gu, /ie/gu],
  ),
  ca: rule(
    'amb els  molt més però això aquest aquesta aquests aquestes perquè també seva   seves hi quan fins ' +
      'des durant ja pel pels dels als  uns unes va van dir fer any anys ara altre altra altres són està estan ' +
      'cap mai només  sense aleshores mentre treball govern gent juny juliol gràcies',
    'ció cions ats its ets ',
    [/l·l/gu, /[àèò]/gu, /ny\b/gu, /\b[ldsn]'/gu, /ix/gu, /tx/gu],
  ),
  // Afrikaans vs Dutch.
  af: rule(
    "die nie 'n ŉ ek jy hulle julle vir baie sê gewees sal hierdie daardie egter nou hy sy my oor deur kry sodat " +
      'terwyl nuwe mense jare dae mekaar tydens tyd kinders vrou gesê gedoen gemaak gekry moontlik belangrik verlede ' +
      'sowat gister môre wêreld hê soos sien self seker reg nag gebruik wees gaan toe',
    'jie tjie lik like heid',
    [/[êôû]/gu],
  ),
  nl: rule(
    'de een niet voor zijn wordt werd hij zij wij jullie hun veel deze naar bij dan ik jij je mijn over door krijgen ' +
      'zodat terwijl nieuwe mensen jaren dagen elkaar tijdens tijd kinderen vrouw gezegd gedaan gemaakt mogelijk ' +
      'belangrijk ongeveer gisteren morgen wereld hebben zoals zien zelf zeker recht nacht echter geweest zal zou ' +
      'zich ze er',
    'lijk lijke tje je en',
    [/ij/gu, /sch/gu, /cht/gu, /z/gu],
  ),
  // Hindi vs Marathi vs Nepali (Devanagari).
  hi: rule(
    'है हैं का की के में से को ने और यह था थे थी कि भी पर लिए गया किया रहा रही रहे होता होती होते वह वे इस उस ' +
      'इसके उसके जाता जाती जाते करते करता करती कहा बहुत साथ बाद तक अपने लेकिन क्योंकि अब',
    'ियों ाएं ाओं',
    [],
  ),
  mr: rule(
    'आहे आहेत आणि हे होते होता होती झाले झाला झाली केले केला केली या त्या नाही व म्हणजे मात्र तसेच त्यांनी त्यांना ' +
      'त्यांच्या आम्ही तुम्ही आपण काही सर्व येथे तेथे पण कारण तर असे असा असते असतो',
    'च्या ची चा चे ला ना मध्ये साठी ण्यात ल्या ल्याने',
    [/ळ/gu],
  ),
  ne: rule(
    'छ छन् छु छौं हो हुन् थियो थिए थिइन् मा ले र पनि भएको गरेको यो त्यो गर्न गर्ने गरे भने हुन्छ हुने ' +
      'तर यस उनी उनले उनको हामी तपाईं अहिले धेरै सबै भन्दा लागि',
    'हरू हरूको हरूले हरूलाई लाई को ले मा',
    [],
  ),
  // Uzbek (Latin) vs Azerbaijani vs Turkish.
  uz: rule(
    "va bilan bu uchun ham edi emas kabi juda bo'lgan boʻlgan qilgan yil yilda lekin hamda esa yoki degan dedi " +
      "ular shu bo'ldi boʻldi qilib ko'p koʻp o'z oʻz bo'yicha boʻyicha mumkin kerak",
    'lari larni larga lar ning dagi ni',
    [/[og][ʻ'‘’`]/gu, /sh/gu, /ch/gu],
  ),
  az: rule(
    'və ilə üçün deyil kimi çox olan edir etdi idi daha onun amma lakin həm isə yaxud dedi onlar bu ki artıq ' +
      'görə qədər sonra əvvəl indi bütün hər',
    'lər ları ləri dır dir',
    [/ə/gu, /q/gu, /x/gu],
  ),
  tr: rule(
    've ile için değil gibi çok olarak ancak ama daha olan ise yaptı onun veya dedi onlar bu ki artık göre kadar ' +
      'sonra önce şimdi bütün her ayrıca çünkü yani',
    'ları leri dır dir yor yordu mış miş acak ecek',
    [/ı/gu, /ğ/gu],
  ),
};

const GROUP_OF = new Map<string, readonly string[]>();
for (const g of CONFUSABLE_GROUPS) for (const l of g) GROUP_OF.set(l, g);

/** The confusable group a language belongs to, if any. */
export function groupOf(language: string): readonly string[] | undefined {
  return GROUP_OF.get(language);
}

/** Evidence count for one language; tokens are lowercase words of the text. */
export function ruleEvidence(language: string, tokens: readonly string[], lower: string): number {
  const r = RULES[language];
  if (!r) return 0;
  let e = 0;
  for (const t of tokens) {
    if (r.words.has(t)) {
      e++;
      continue;
    }
    for (const s of r.suffixes) {
      if (t.length >= s.length + 2 && t.endsWith(s)) {
        e += 0.5;
        break;
      }
    }
  }
  for (const p of r.patterns) {
    p.lastIndex = 0;
    let m = 0;
    while (p.exec(lower) !== null && m < 4) m++;
    e += 0.5 * m;
  }
  return e;
}

/** Languages with rules (for tests and docs). */
export const RULE_LANGUAGES: ReadonlySet<string> = new Set(Object.keys(RULES));
