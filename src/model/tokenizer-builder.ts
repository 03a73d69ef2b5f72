/**
 * Builds the project's own LLaMA-2-style tokenizer.json (the real X-ALMA tokenizer cannot be
 * downloaded here; DESIGN 3). Same shape as meta-llama/Llama-2-7b-hf's tokenizer.json, so the
 * engine treats it exactly like an imported one:
 *   - model: BPE with byte_fallback; ids 0-2 are <unk> <s> </s>, 3-258 are <0x00>..<0xFF>;
 *   - normalizer: Prepend "▁" + Replace " " -> "▁"; no pre-tokenizer (as LLaMA-2);
 *   - decoder: Replace "▁" -> " ", ByteFallback, Fuse, Strip one leading space;
 *   - post-processor: TemplateProcessing "<s> $A" (the engine asks for no special tokens).
 * After the reserved ids come "▁", the base characters of the scripts of the 50 languages, then
 * the results of BPE merges learned by a small deterministic trainer over a corpus the project
 * makes itself: the X-ALMA prompt for every en<->xx pair, one seed paragraph per language
 * written for this file, and pseudo-words sampled from a character-bigram model of each seed.
 * Same options -> byte-identical JSON (no clocks, no Math.random, insertion-ordered maps).
 */
import { BOS_MARKER, DEFAULT_PROMPT_TEMPLATE } from './prompt.ts';
import { Rng } from './random.ts';
import { XALMA_GROUPS } from './xalma-groups.ts';
import { XALMA_LANGUAGES } from './xalma-languages.ts';

export interface TokenizerBuildOptions {
  /** Total ids including specials, byte tokens and any <extra_N> padding. */
  vocabSize: number;
  /** Training lines; replaces the built-in corpus (extend it with `defaultCorpus`). */
  corpus?: string[];
}

export interface TokenizerBuildStats {
  specials: number;
  byteTokens: number;
  baseChars: number;
  merges: number;
  /** Tokens added by merges (two merges can yield the same string: merges >= mergedTokens). */
  mergedTokens: number;
  /** "<extra_N>" padding added because the corpus ran out of pairs seen at least twice. */
  reserved: number;
}

const SPACE = '\u2581'; // "▁", SentencePiece's metaspace
const SPECIALS = ['<unk>', '<s>', '</s>'] as const;
/** Pairs seen fewer times are not merged: single-occurrence merges only memorise noise. */
const MIN_PAIR_COUNT = 2;

/** English names as the X-ALMA prompt uses them (DESIGN 1), in group order, English last. */
const NAME_OF = new Map(XALMA_LANGUAGES.map(([code, , name]) => [code, name]));
const LANGUAGE_NAMES: ReadonlyArray<readonly [string, string]> = [...XALMA_GROUPS.flatMap((g) => g.languages), 'en'].map((code) => [code, NAME_OF.get(code)!]);

/** The prompt text without its BOS marker: the corpus needs its words, not the special token. */
const PROMPT = DEFAULT_PROMPT_TEMPLATE.slice(BOS_MARKER.length);

/**
 * One paragraph per language, written for this project ("Good morning! The weather is nice,
 * the children play in the garden, ..."). Training text only; the tests use other phrases.
 */
const SEED_TEXT: Record<string, string> = {
  en: 'Good morning! Today the weather is beautiful, and the children are playing in the garden. My mother is reading a book and my father works in the city. We learn new words every day.',
  af: "Goeie môre! Vandag is die weer pragtig, en die kinders speel in die tuin. My ma lees 'n boek en my pa werk in die stad. Ons leer elke dag nuwe woorde.",
  da: 'Godmorgen! I dag er vejret smukt, og børnene leger i haven. Min mor læser en bog, og min far arbejder i byen. Vi lærer nye ord hver dag.',
  de: 'Guten Morgen! Heute ist das Wetter schön, und die Kinder spielen im Garten. Meine Mutter liest ein Buch und mein Vater arbeitet in der Stadt. Wir lernen jeden Tag neue Wörter.',
  is: 'Góðan daginn! Í dag er veðrið fallegt og börnin leika sér í garðinum. Móðir mín les bók og faðir minn vinnur í borginni. Við lærum ný orð á hverjum degi.',
  nl: 'Goedemorgen! Vandaag is het weer mooi en de kinderen spelen in de tuin. Mijn moeder leest een boek en mijn vader werkt in de stad. We leren elke dag nieuwe woorden.',
  no: 'God morgen! I dag er været nydelig, og barna leker i hagen. Moren min leser en bok, og faren min jobber i byen. Vi lærer nye ord hver dag.',
  sv: 'God morgon! Idag är vädret vackert och barnen leker i trädgården. Min mamma läser en bok och min pappa arbetar i staden. Vi lär oss nya ord varje dag.',
  ca: 'Bon dia! Avui fa molt bon temps i els nens juguen al jardí. La meva mare llegeix un llibre i el meu pare treballa a la ciutat. Cada dia aprenem paraules noves.',
  es: '¡Buenos días! Hoy hace buen tiempo y los niños juegan en el jardín. Mi madre lee un libro y mi padre trabaja en la ciudad. Aprendemos palabras nuevas cada día.',
  gl: 'Bos días! Hoxe vai bo tempo e os nenos xogan no xardín. A miña nai le un libro e o meu pai traballa na cidade. Aprendemos palabras novas cada día.',
  it: 'Buongiorno! Oggi il tempo è bello e i bambini giocano in giardino. Mia madre legge un libro e mio padre lavora in città. Impariamo parole nuove ogni giorno.',
  pt: 'Bom dia! Hoje o tempo está bonito e as crianças brincam no jardim. A minha mãe lê um livro e o meu pai trabalha na cidade. Aprendemos palavras novas todos os dias.',
  ro: 'Bună dimineața! Astăzi vremea este frumoasă, iar copiii se joacă în grădină. Mama mea citește o carte și tatăl meu lucrează în oraș. Învățăm cuvinte noi în fiecare zi.',
  bg: 'Добро утро! Днес времето е хубаво и децата играят в градината. Майка ми чете книга, а баща ми работи в града. Всеки ден учим нови думи.',
  mk: 'Добро утро! Денес времето е убаво и децата си играат во градината. Мајка ми чита книга, а татко ми работи во градот. Секој ден учиме нови зборови.',
  ru: 'Доброе утро! Сегодня хорошая погода, и дети играют в саду. Моя мама читает книгу, а папа работает в городе. Каждый день мы учим новые слова.',
  sr: 'Добро јутро! Данас је лепо време и деца се играју у башти. Моја мајка чита књигу, а мој отац ради у граду. Сваког дана учимо нове речи.',
  uk: 'Доброго ранку! Сьогодні гарна погода, і діти граються в саду. Моя мама читає книжку, а тато працює в місті. Щодня ми вивчаємо нові слова. Їхня родина живе біля ґанку.',
  fr: "Bonjour ! Aujourd'hui il fait beau et les enfants jouent dans le jardin. Ma mère lit un livre et mon père travaille en ville. Nous apprenons de nouveaux mots chaque jour.",
  id: 'Selamat pagi! Hari ini cuacanya cerah dan anak-anak bermain di kebun. Ibu saya membaca buku dan ayah saya bekerja di kota. Kami belajar kata-kata baru setiap hari.',
  mg: "Manao ahoana! Tsara ny andro anio ary milalao ao an-jaridaina ny ankizy. Mamaky boky ny reniko ary miasa any an-tanàna ny raiko. Mianatra teny vaovao isan'andro izahay.",
  ms: 'Selamat pagi! Hari ini cuaca sangat baik dan kanak-kanak bermain di taman. Ibu saya membaca buku dan bapa saya bekerja di bandar. Kami belajar perkataan baharu setiap hari.',
  th: 'สวัสดีตอนเช้า วันนี้อากาศดีมาก และเด็ก ๆ กำลังเล่นอยู่ในสวน แม่ของฉันอ่านหนังสือ และพ่อของฉันทำงานในเมือง เราเรียนคำศัพท์ใหม่ทุกวัน',
  vi: 'Chào buổi sáng! Hôm nay thời tiết đẹp và bọn trẻ đang chơi trong vườn. Mẹ tôi đọc một cuốn sách và bố tôi làm việc ở thành phố. Chúng tôi học từ mới mỗi ngày.',
  cs: 'Dobré ráno! Dnes je krásné počasí a děti si hrají na zahradě. Moje matka čte knihu a můj otec pracuje ve městě. Každý den se učíme nová slova.',
  el: 'Καλημέρα! Σήμερα ο καιρός είναι ωραίος και τα παιδιά παίζουν στον κήπο. Η μητέρα μου διαβάζει ένα βιβλίο και ο πατέρας μου δουλεύει στην πόλη. Μαθαίνουμε καινούριες λέξεις κάθε μέρα.',
  hu: 'Jó reggelt! Ma szép az idő, és a gyerekek a kertben játszanak. Az anyám egy könyvet olvas, az apám pedig a városban dolgozik. Minden nap új szavakat tanulunk.',
  lt: 'Labas rytas! Šiandien oras gražus, o vaikai žaidžia sode. Mano mama skaito knygą, o tėtis dirba mieste. Kiekvieną dieną mokomės naujų žodžių.',
  lv: 'Labrīt! Šodien ir skaists laiks, un bērni spēlējas dārzā. Mana māte lasa grāmatu, un mans tēvs strādā pilsētā. Katru dienu mēs mācāmies jaunus vārdus.',
  pl: 'Dzień dobry! Dziś jest piękna pogoda, a dzieci bawią się w ogrodzie. Moja mama czyta książkę, a tata pracuje w mieście. Każdego dnia uczymy się nowych słów.',
  et: 'Tere hommikust! Täna on ilus ilm ja lapsed mängivad aias. Mu ema loeb raamatut ja isa töötab linnas. Me õpime iga päev uusi sõnu.',
  fi: 'Hyvää huomenta! Tänään sää on kaunis ja lapset leikkivät puutarhassa. Äitini lukee kirjaa ja isäni on töissä kaupungissa. Opimme joka päivä uusia sanoja.',
  ja: 'おはようございます。今日は天気がよくて、子どもたちは庭で遊んでいます。母は本を読んでいて、父は町で働いています。私たちは毎日新しい言葉を学びます。',
  ka: 'დილა მშვიდობისა! დღეს კარგი ამინდია და ბავშვები ბაღში თამაშობენ. დედაჩემი წიგნს კითხულობს, მამაჩემი კი ქალაქში მუშაობს. ყოველდღე ახალ სიტყვებს ვსწავლობთ.',
  ko: '좋은 아침입니다! 오늘은 날씨가 좋고 아이들은 정원에서 놀고 있습니다. 어머니는 책을 읽고 아버지는 시내에서 일합니다. 우리는 매일 새로운 단어를 배웁니다.',
  zh: '早上好！今天天气很好，孩子们在花园里玩。我妈妈在看书，我爸爸在城里工作。我们每天都学习新的词语。',
  gu: 'સુપ્રભાત! આજે હવામાન સરસ છે અને બાળકો બગીચામાં રમે છે. મારી માતા પુસ્તક વાંચે છે અને મારા પિતા શહેરમાં કામ કરે છે. અમે દરરોજ નવા શબ્દો શીખીએ છીએ.',
  hi: 'सुप्रभात! आज मौसम बहुत अच्छा है और बच्चे बगीचे में खेल रहे हैं। मेरी माँ किताब पढ़ रही हैं और मेरे पिता शहर में काम करते हैं। हम हर दिन नए शब्द सीखते हैं।',
  mr: 'सुप्रभात! आज हवामान छान आहे आणि मुले बागेत खेळत आहेत. माझी आई पुस्तक वाचत आहे आणि माझे वडील शहरात काम करतात. आम्ही दररोज नवीन शब्द शिकतो.',
  ne: 'शुभ प्रभात! आज मौसम राम्रो छ र केटाकेटीहरू बगैंचामा खेलिरहेका छन्। मेरी आमा किताब पढ्दै हुनुहुन्छ र मेरो बुबा सहरमा काम गर्नुहुन्छ। हामी हरेक दिन नयाँ शब्दहरू सिक्छौं।',
  ur: 'صبح بخیر! آج موسم بہت اچھا ہے اور بچے باغ میں کھیل رہے ہیں۔ میری ماں کتاب پڑھ رہی ہیں اور میرے والد شہر میں کام کرتے ہیں۔ ہم ہر روز نئے الفاظ سیکھتے ہیں۔',
  ar: 'صباح الخير! الطقس جميل اليوم، والأطفال يلعبون في الحديقة. أمي تقرأ كتابًا وأبي يعمل في المدينة. نتعلم كلمات جديدة كل يوم.',
  az: 'Sabahınız xeyir! Bu gün hava gözəldir və uşaqlar bağda oynayırlar. Anam kitab oxuyur, atam isə şəhərdə işləyir. Biz hər gün yeni sözlər öyrənirik.',
  fa: 'صبح بخیر! امروز هوا خوب است و بچه‌ها در باغ بازی می‌کنند. مادرم کتاب می‌خواند و پدرم در شهر کار می‌کند. ما هر روز کلمات تازه یاد می‌گیریم.',
  he: 'בוקר טוב! היום מזג האוויר נעים והילדים משחקים בגינה. אמא שלי קוראת ספר ואבא שלי עובד בעיר. אנחנו לומדים מילים חדשות כל יום.',
  kk: 'Қайырлы таң! Бүгін ауа райы жақсы, ал балалар бақшада ойнап жүр. Анам кітап оқып отыр, әкем қалада жұмыс істейді. Біз күн сайын жаңа сөздер үйренеміз.',
  ky: 'Кутман таң! Бүгүн аба ырайы жакшы, балдар бакчада ойноп жатышат. Апам китеп окуп жатат, атам шаарда иштейт. Биз күн сайын жаңы сөздөрдү үйрөнөбүз.',
  tr: 'Günaydın! Bugün hava çok güzel ve çocuklar bahçede oynuyor. Annem kitap okuyor, babam ise şehirde çalışıyor. Her gün yeni kelimeler öğreniyoruz.',
  uz: 'Xayrli tong! Bugun havo juda yaxshi, bolalar bogʻda oʻynashyapti. Onam kitob oʻqiyapti, otam esa shaharda ishlaydi. Biz har kuni yangi soʻzlarni oʻrganamiz.',
};

/** Frequent CJK ideographs (mostly simplified Chinese, then Japanese kanji), from memory. */
const COMMON_CJK =
  '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切排够案查' +
  '駅円私語読書週曜時間会社気雨雪食飲見聞話買売来帰休働勉強東都県区町村様達母庭遊毎葉楽';

/** Frequent Hangul syllables (the remaining ~11k syllables go through byte fallback). */
const COMMON_HANGUL =
  '이다는의에을를하가고지기사서로한대자인정도리수일시국아나어해있보라전제그게부구상적과연주장것들만면요생성원동우미학세위경업중내문소회없같방저때말오관마화개진여신실되선계조공명영분발무모거비교간금치유행감당산물식등후호결으입스체음외심양단반통작러안날점재용복품히까래께터달니네님근별씀습좋합했었겠요은월년번째봐워줘왜누어떻아침오늘씨놀책읽버배운새';

/** Inclusive code point ranges; unassigned code points are dropped when expanded. */
type Range = readonly [number, number];

/** Base characters of every script the 50 languages use (plus common punctuation and signs). */
const BASE_RANGES: readonly Range[] = [
  [0x21, 0x7e], // ASCII printables (space becomes "▁")
  [0xa0, 0xff], // Latin-1: af da de is nl no sv ca es gl it pt fr et fi ... and « » ° · NBSP
  [0x100, 0x17f], // Latin Extended-A: cs hu lt lv pl ro tr et az ...
  [0x18f, 0x18f], [0x259, 0x259], // Ə ə (az)
  [0x1a0, 0x1a1], [0x1af, 0x1b0], // Ơ ơ Ư ư (vi)
  [0x218, 0x21b], // Ș ș Ț ț (ro)
  [0x2bb, 0x2bc], // ʻ ʼ (uz)
  [0x300, 0x301], [0x303, 0x303], [0x309, 0x309], [0x323, 0x323], // decomposed vi tone marks
  [0x386, 0x386], [0x388, 0x3ce], // Greek with tonos
  [0x400, 0x45f], // Cyrillic: bg mk ru sr uk
  [0x490, 0x493], [0x49a, 0x49b], [0x4a2, 0x4a3], [0x4ae, 0x4b1], [0x4ba, 0x4bb], // ґ ғ қ ң ү ұ һ (uk kk ky)
  [0x4d8, 0x4d9], [0x4e8, 0x4e9], // ә ө (kk ky)
  [0x5b0, 0x5c7], [0x5d0, 0x5ea], [0x5f3, 0x5f4], // Hebrew points, letters, geresh
  [0x60c, 0x60c], [0x61b, 0x61b], [0x61f, 0x61f], [0x621, 0x655], [0x660, 0x66c], [0x670, 0x670], // Arabic
  [0x679, 0x679], [0x67e, 0x67e], [0x686, 0x686], [0x688, 0x688], [0x691, 0x691], [0x698, 0x698], // fa ur
  [0x6a9, 0x6a9], [0x6af, 0x6af], [0x6ba, 0x6ba], [0x6be, 0x6be], [0x6c1, 0x6c3], [0x6cc, 0x6cc],
  [0x6d2, 0x6d4], [0x6f0, 0x6f9],
  [0x900, 0x97f], // Devanagari: hi mr ne
  [0xa80, 0xaff], // Gujarati
  [0xe01, 0xe5b], // Thai
  [0x10d0, 0x10f0], // Georgian Mkhedruli
  [0x1ea0, 0x1ef9], // Vietnamese precomposed
  [0x200c, 0x200d], // ZWNJ/ZWJ (fa, Indic)
  [0x2013, 0x2014], [0x2018, 0x201e], [0x2022, 0x2022], [0x2026, 0x2026], [0x2039, 0x203a], [0x202f, 0x202f],
  [0x20ac, 0x20ac], [0x20b8, 0x20bd], [0x2116, 0x2116], // € ₸ ₹ ₺ ₼ ₽ №
  [0x3001, 0x3002], [0x3008, 0x3011], // CJK punctuation 、。〈〉《》「」『』【】
  [0x3041, 0x3096], [0x309b, 0x309c], [0x30a0, 0x30ff], // kana
  [0xff01, 0xff01], [0xff08, 0xff09], [0xff0c, 0xff0c], [0xff1a, 0xff1b], [0xff1f, 0xff1f], // ！（），：；？
  // U+FEFF kept as a token: @huggingface/tokenizers' ByteFallback decoder (a TextDecoder that does
  // not ignore BOMs) would drop it if it arrived as bytes <0xEF><0xBB><0xBF> at a run's start.
  [0xfeff, 0xfeff],
];

function byteToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** The base characters, in a fixed order, without duplicates. */
export function baseCharacters(): string[] {
  const out = new Set<string>();
  for (const [lo, hi] of BASE_RANGES) {
    for (let cp = lo; cp <= hi; cp++) {
      const ch = String.fromCodePoint(cp);
      if (!/\p{Cn}/u.test(ch)) out.add(ch);
    }
  }
  for (const ch of COMMON_CJK + COMMON_HANGUL) out.add(ch);
  out.delete(SPACE);
  return [...out];
}

function seedOf(text: string): number {
  let h = 2166136261; // FNV-1a
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Pseudo-words from a character-bigram model of `text` (start/end marked by ''). */
function pseudoWords(text: string, count: number, rand: () => number): string[] {
  const next = new Map<string, string[]>();
  const add = (a: string, b: string) => {
    const list = next.get(a);
    if (list) list.push(b);
    else next.set(a, [b]);
  };
  for (const word of text.match(/[\p{L}\p{M}]+/gu) ?? []) {
    const chars = Array.from(word);
    add('', chars[0]);
    for (let i = 0; i + 1 < chars.length; i++) add(chars[i], chars[i + 1]);
    add(chars[chars.length - 1], '');
  }
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    let word = '';
    let cur = '';
    for (let len = 0; len < 14; len++) {
      const options = next.get(cur);
      if (!options) break;
      cur = options[Math.floor(rand() * options.length)];
      if (cur === '') break;
      word += cur;
    }
    if (word) out.push(word);
  }
  return out;
}

/**
 * The built-in training corpus: the prompt for every en<->xx pair 5 times, each seed paragraph 20 times,
 * and pseudo-words (more of them for bigger vocabularies, so merges do not run out early).
 */
export function defaultCorpus(vocabSize: number): string[] {
  const lines: string[] = [];
  const english = 'English';
  for (const [, name] of LANGUAGE_NAMES) {
    if (name === english) continue;
    for (const [source, target] of [[english, name], [name, english]]) {
      const prompt = PROMPT.replaceAll('{source}', source).replaceAll('{target}', target).replaceAll('{text}', '');
      for (let i = 0; i < 5; i++) lines.push(prompt);
    }
  }
  const wordsPerLanguage = Math.ceil(vocabSize / 3);
  for (const [code] of LANGUAGE_NAMES) {
    const seed = SEED_TEXT[code];
    for (let i = 0; i < 20; i++) lines.push(seed);
    // Seeded (Rng, mulberry32), so the corpus is the same on every machine.
    const rng = new Rng(seedOf(code));
    const words = pseudoWords(seed, wordsPerLanguage, () => rng.next());
    for (let i = 0; i < words.length; i += 12) lines.push(words.slice(i, i + 12).join(' '));
  }
  return lines;
}

type CharClass = 'word' | 'digit' | 'other';

function charClass(ch: string): CharClass {
  if (/[\p{L}\p{M}\u200c\u200d]/u.test(ch)) return 'word';
  if (/\p{Nd}/u.test(ch)) return 'digit';
  return 'other';
}

/**
 * Splits corpus lines into the pieces BPE learns on, as SentencePiece does: "▁" starts a piece,
 * pieces break where letters meet punctuation, digits stay single (LLaMA's split_digits), and
 * characters outside the base vocabulary end a piece (they are byte-encoded, never merged).
 */
function countPieces(lines: readonly string[], known: ReadonlySet<string>): Map<string, number> {
  const counts = new Map<string, number>();
  const emit = (piece: string) => {
    if (piece) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  };
  const classes = new Map<string, CharClass>();
  for (const line of lines) {
    if (!line) continue;
    const text = SPACE + line.replaceAll(' ', SPACE);
    let piece = '';
    let pieceClass: CharClass | null = null;
    for (const ch of text) {
      if (ch === SPACE) {
        emit(piece);
        piece = ch;
        pieceClass = null;
        continue;
      }
      if (!known.has(ch)) {
        emit(piece);
        piece = '';
        pieceClass = null;
        continue;
      }
      let cls = classes.get(ch);
      if (cls === undefined) {
        cls = charClass(ch);
        classes.set(ch, cls);
      }
      if (cls === 'digit' || (pieceClass !== null && cls !== pieceClass)) {
        if (piece !== SPACE || cls === 'digit') {
          emit(piece);
          piece = '';
        }
      }
      piece += ch;
      pieceClass = cls;
      if (cls === 'digit') {
        emit(piece);
        piece = '';
        pieceClass = null;
      }
    }
    emit(piece);
  }
  return counts;
}

/** Max-heap of (count, pair key) with lazy invalidation; ties go to the smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Pops the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.keys.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < this.keys.length && this.above(l, best)) best = l;
        if (r < this.keys.length && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

/** Pair keys pack two symbol ids; 2^21 ids is far above any vocabulary we build. */
const KEY_SHIFT = 2 ** 21;

interface TrainResult {
  /** Merges in rank order, as [left, right] strings. */
  merges: Array<[string, string]>;
  /** New token strings in the order they were created. */
  tokens: string[];
}

/**
 * Classic BPE training (Sennrich et al.) over piece counts: repeatedly merge the most frequent
 * adjacent pair. Only words holding the chosen pair are touched, so a merge costs the size of
 * those words, not of the corpus.
 */
function trainBpe(pieces: Map<string, number>, base: readonly string[], reserved: ReadonlySet<string>, newTokens: number): TrainResult {
  const symbols: string[] = [...base];
  const symbolIds = new Map<string, number>(symbols.map((s, i) => [s, i]));
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [piece, count] of pieces) {
    words.push(Array.from(piece, (ch) => symbolIds.get(ch)!));
    freq.push(count);
  }

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  const noteWord = (key: number, w: number) => {
    const list = pairWords.get(key);
    if (list === undefined) pairWords.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  // Digits are never merged (LLaMA splits digits), so pairs touching one are never counted.
  const mergeable = symbols.map((s) => charClass(s) !== 'digit');
  for (let w = 0; w < words.length; w++) {
    const word = words[w];
    for (let i = 0; i + 1 < word.length; i++) {
      if (!mergeable[word[i]] || !mergeable[word[i + 1]]) continue;
      const key = word[i] * KEY_SHIFT + word[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + freq[w]);
      noteWord(key, w);
    }
  }
  const heap = new PairHeap();
  for (const [key, count] of pairCount) heap.push(count, key);

  const merges: Array<[string, string]> = [];
  const tokens: string[] = [];
  const delta = new Map<number, number>();
  while (tokens.length < newTokens && heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCount.get(key) !== count) continue; // stale entry
    if (count < MIN_PAIR_COUNT) break;
    const a = Math.floor(key / KEY_SHIFT);
    const b = key - a * KEY_SHIFT;
    const merged = symbols[a] + symbols[b];
    pairCount.delete(key);
    if (reserved.has(merged)) continue; // would shadow <s>, <0x41>, ...: never learn it
    let id = symbolIds.get(merged);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(merged);
      symbolIds.set(merged, id);
      mergeable.push(true);
      tokens.push(merged);
    }
    merges.push([symbols[a], symbols[b]]);

    delta.clear();
    const bump = (k: number, d: number) => delta.set(k, (delta.get(k) ?? 0) + d);
    for (const w of pairWords.get(key) ?? []) {
      const word = words[w];
      let hit = false;
      for (let i = 0; i + 1 < word.length; i++) {
        if (word[i] === a && word[i + 1] === b) {
          hit = true;
          break;
        }
      }
      if (!hit) continue; // stale: an earlier merge consumed the pair
      const f = freq[w];
      for (let i = 0; i + 1 < word.length; i++) {
        if (mergeable[word[i]] && mergeable[word[i + 1]]) bump(word[i] * KEY_SHIFT + word[i + 1], -f);
      }
      const out: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          out.push(id);
          i++;
        } else {
          out.push(word[i]);
        }
      }
      words[w] = out;
      for (let i = 0; i + 1 < out.length; i++) {
        if (!mergeable[out[i]] || !mergeable[out[i + 1]]) continue;
        const k = out[i] * KEY_SHIFT + out[i + 1];
        bump(k, f);
        if (out[i] === id || out[i + 1] === id) noteWord(k, w);
      }
    }
    pairWords.delete(key);
    for (const [k, d] of delta) {
      if (d === 0 || k === key) continue;
      const c = (pairCount.get(k) ?? 0) + d;
      if (c > 0) {
        pairCount.set(k, c);
        heap.push(c, k);
      } else {
        pairCount.delete(k);
      }
    }
  }
  return { merges, tokens };
}

/** Builds the tokenizer.json object and reports how its vocabulary was filled. */
export function buildTokenizer(opts: TokenizerBuildOptions): { json: object; stats: TokenizerBuildStats } {
  const chars = baseCharacters();
  const fixed: string[] = [...SPECIALS];
  for (let b = 0; b < 256; b++) fixed.push(byteToken(b));
  fixed.push(SPACE);
  const base = [...fixed, ...chars];
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < base.length) {
    throw new RangeError(`vocabSize must be an integer >= ${base.length} (specials, bytes and base characters)`);
  }
  const corpus = opts.corpus ?? defaultCorpus(opts.vocabSize);
  const pieces = countPieces(corpus, new Set([SPACE, ...chars]));
  const { merges, tokens } = trainBpe(pieces, base, new Set(fixed), opts.vocabSize - base.length);

  const vocab: Record<string, number> = {};
  const all = [...base, ...tokens];
  const reserved = opts.vocabSize - all.length;
  for (let i = 0; i < reserved; i++) all.push(`<extra_${i}>`);
  all.forEach((token, id) => {
    vocab[token] = id;
  });

  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: SPACE },
        { type: 'Replace', pattern: { String: ' ' }, content: SPACE },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      // LLaMA-2's "left right" string form; safe because no token contains U+0020.
      merges: merges.map(([l, r]) => `${l} ${r}`),
    },
  };
  const stats: TokenizerBuildStats = {
    specials: SPECIALS.length,
    byteTokens: 256,
    baseChars: chars.length + 1, // + "▁"
    merges: merges.length,
    mergedTokens: tokens.length,
    reserved,
  };
  return { json, stats };
}

/** The tokenizer.json object for `make-model` (see buildTokenizer for the statistics). */
export function buildTokenizerJson(opts: TokenizerBuildOptions): object {
  return buildTokenizer(opts).json;
}
