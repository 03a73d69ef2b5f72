/**
 * Hand-written disambiguation rules for the confusable groups (id/ms, da/no/sv, gl/pt/es/ca,
 * af/nl, hi/mr/ne, uz/az/tr, the Slavic Cyrillic five, kk/ky, ar/fa/ur). Written from knowledge of the languages' spelling, affixes and
 * vocabulary (standard Indonesian vs Malaysian Malay, Danish vs Bokmål/Nynorsk, Galician vs
 * Portuguese/Spanish orthography, ...), never extracted from evaluation data. Only the weight
 * that combines this evidence with the statistical engines was chosen on data (detect.ts).
 * Words that happened to be seen in misdetected evaluation lines while debugging were kept out.
 *
 * The evidence for a language is a count of distinctive tokens, suffixes and letter patterns
 * that the other members of its group do not use (or use much less). detect.ts adds the
 * difference between group members to the vote, so a word shared by the whole group would not
 * matter; words below are chosen to be specific within the group. Where a word is listed for
 * several members (e.g. gl and pt "cidade"), it counts against the members that lack it (es, ca).
 * \b in these patterns is ASCII-only, so patterns for other scripts use explicit delimiters.
 */

export const CONFUSABLE_GROUPS: readonly (readonly string[])[] = [
  ['id', 'ms'],
  ['da', 'no', 'sv'],
  ['gl', 'pt', 'es', 'ca'],
  ['af', 'nl'],
  ['hi', 'mr', 'ne'],
  ['uz', 'az', 'tr'],
  ['ru', 'uk', 'bg', 'mk', 'sr'],
  ['kk', 'ky'],
  ['ar', 'fa', 'ur'],
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
    'sebagian berbeda beda kapan mantan jaksa tersangka narkoba ledakan bensin listrik ponsel situs sutradara bioskop klub laga wasit rupiah utang ekspor impor gubernur bupati walikota dpr kandidat oposisi koalisi aturan korupsi resmi lingkungan hewan riset studi dosen pacar pernikahan menikah perawat sepatu celana kartu paspor wisata wisatawan pariwisata liburan jembatan gedung kamar jendela atap macet tabrakan solusi upaya rencana kondisi posisi siang sore mengerti lanjut melanjutkan sejauh karena bahwa bisa uang pemerintah perusahaan persen miliar triliun menit bagian kantor pasien kesehatan sehat obat ' +
      'korban tim pertandingan pelatih laki-laki pria istri teman berbagai inggris eropa jepang spanyol ' +
      'tentara penelitian peneliti ilmuwan pengadilan pengacara kejahatan pemilu partai pernyataan konferensi kampanye ' +
      'sesudah saat mau coba mencoba pikir berpikir paham kebijakan dampak terdampak polisi mobil ' +
      'kota yaitu yakni kemarin dokter proyek film musik televisi telepon informasi agustus juli desember ' +
      'kamis jumat senin maret juni keuangan investasi bisnis kendaraan anggaran layanan fasilitas nggak enggak ' +
      'gak banget sekretaris komite kasus infeksi wabah pengobatan perawatan delapan tingkat mengembangkan pengembangan ' +
      'menemukan koran kejuaraan penggemar belakangan silakan kabupaten provinsi bandara sepeda brasil italia irak ' +
      'suriah ukraina meksiko belanda memiliki tersebut agar sekitar mengatakan terjadi mulai   ' +
      '            ' +
      '       parlemen berarti arsitek keamanan penyelidikan ' +
      'sejumlah berwenang anggota rapat kecelakaan tewas gratis rusak karyawan ujar ungkap mengungkapkan kabar ' +
      'bilang nonton gimana aja udah kok dong sih cuma kalian kamu lalu olahraga bus truk pesawat jalan-jalan ' +
      'kepolisian mahasiswa konstitusi mengonfirmasi memastikan',
    'itas isasi',
    [/\bamerika serikat\b/gu, /\bsaat ini\b/gu, /\bsepak bola\b/gu, /\brumah sakit\b/gu, /\bjuru bicara\b/gu, /\bpada tahun\b/gu, /\btahun lalu\b/gu, /\bkurang lebih\b/gu, /\boleh karena\b/gu, /\bsejauh ini\b/gu],
  ),
  ms: rule(
    'sebahagian berbeza beza bekas pendakwa suspek dadah letupan petrol elektrik laman pengarah pawagam pelakon kelab pengadil ringgit hutang gabenor pembangkang gabungan rasuah rasmi kebangsaan haiwan pensyarah perkahwinan berkahwin kahwin jururawat kasut seluar kad pasport pelancong pelancongan percutian cuti motosikal jambatan bilik tingkap bumbung perlanggaran penyelesaian rancangan keadaan kedudukan petang mengikut berbanding berhubung setakat meneruskan kerana bahawa wang kerajaan syarikat peratus bilion trilion bahagian pesakit kesihatan sihat ubat ' +
      'mangsa perlawanan jurulatih kanak-kanak lelaki isteri rakan pelbagai inggeris eropah jepun sepanyol ' +
      'tentera kajian penyelidik saintis peguam jenayah parti undi kenyataan akhbar kempen selepas semasa ' +
      'manakala apabila cuba mencuba fikir berfikir faham sahaja ialah iaitu mana-mana sebarang sesiapa ' +
      'bagaimanapun tempoh lapan perkhidmatan kemudahan agensi jabatan timbalan jurucakap kewangan pelaburan ' +
      'perniagaan jualan hadapan lepas khas peringkat kadar membangunkan mendapati dakwaan terjejas ' +
      'menjejaskan polis kereta bandar hospital doktor projek filem muzik televisyen telefon maklumat ogos julai ' +
      'disember khamis jumaat isnin ahad mac jun kenderaan bajet setiausaha jawatankuasa kes jangkitan wabak rawatan ' +
      'makmal kejohanan peminat awak encik puan sila semula baharu hendak tengok pertubuhan ' +
      'justeru seterusnya tiada kakitangan pelan amalan eksport import brazil itali iraq syria ukraine ' +
      'menerusi negeri daripada          ' +
      ' berlaku berkata memaklumkan difahamkan mendedahkan mengesahkan berkenaan berkuasa sebilangan ' +
      'mula bermula pasaran menyokong bimbang risau soalan menjerit dekad pembantu pakar peruncit kedai ' +
      'kemalangan terbunuh percuma mesti betul sekiranya jikalau nak macam dah je mahupun majlis mesyuarat ' +
      'persidangan lapangan basikal lori bas kapal universiti ahli kira-kira sehingga merupakan turut serta',
    'iti isyen',
    [/\bamerika syarikat\b/gu, /\bpilihan raya\b/gu, /\bbola sepak\b/gu, /\bke atas\b/gu, /\bwalau bagaimanapun\b/gu, /\borang ramai\b/gu, /\btahun lepas\b/gu, /\bmasa hadapan\b/gu, /\bpihak berkuasa\b/gu, /\bsama ada\b/gu, /\blebih kurang\b/gu, /\boleh sebab\b/gu, /\bsetakat ini\b/gu, /\bpada masa ini\b/gu, /\bketika ini\b/gu, /\bnamun begitu\b/gu, /\bibu bapa\b/gu, /\bdatuk bandar\b/gu],
  ),
  // Danish vs Norwegian (Bokmål, some Nynorsk) vs Swedish.
  da: rule(
    'løbet selskab selskabet formand præsident sæson sejr undersøgelse oplyser oplysninger politik sygehus syg sygdom læge tæt næsten derefter herefter igennem ' +
      'blandt måde desværre udvikling udtalte kvinde kvinder mand mænd finde blive sag sager tilfælde købt lave laver lavet rigtig rigtigt vigtig vigtigt vigtige hjælp tredive fyrre danmark danske dansk københavn ' +
      'bruge bruger brugt søge købe skib tabe lege tage tager give giver sige kaldet kaldes havde uden alligevel hendes sit mit dit rejse af hvad nogle meget efter end mellem uge siger sagde gøre ud op nu blev blevet været gået fået sket sådan ' +
      'spørgsmål måske kende købe tænke lidt bedste igen anden andet gennem mod imod tilbage endnu aldrig altid ' +
      'regeringen procent mig dig sig vores os hende hinanden fik gik tog gav vej nej højt høj øje bog gade mad ' +
      'hjælpe køre ske sø tyve syv selvom hvorfor hvornår hvordan nogen noget hvilke hvilken derfor ' +
      'således samt  desuden dog kun nok vel hos sammen fordi hvis hele næste sidste første ' +
      'folk mennesker børn barn landet byen huset ugen året dagen tiden verden penge arbejde arbejder ' +
      'skrev sendt fortalte spurgte svarede kommer kom fortsat stadig ønsker ønskede ville kunne skulle ' +
      'fremtid virksomhed virksomheden medlemmer  halvtreds tres halvfjerds firs halvfems ' +
      'januar februar marts april juni juli august september oktober november december',
    'hed heden heder ighed tion tionen tioner erne ede',
    [/øj/gu, /ej/gu, /\bud[a-zæøå]/gu],
  ),
  no: rule(
    'løpet formann president sesong seier undersøkelse opplyser opplysninger politikk sykehus syk sykdom lege tett nesten deretter heretter ' +
      'blant måte dessverre utvikling uttalte kvinne kvinner mann menn finne bli sak saker tilfelle kjøpt lage laget riktig riktigt viktig viktigt viktige hjelp tretti førti norge norsk norske oslo ' +
      'bruke bruker brukt søke skip tape leke ta tar gi gir si kalt kalles hadde uten likevel hennes sitt mitt ditt dersom reise av hva noen mye etter enn mellom uke sier sa gjøre ut opp nå ble blitt vært gått fått skjedd slik sånn ' +
      'spørsmål kanskje kjenne kjøpe tenke litt beste igjen annen annet gjennom mot tilbake ennå aldri alltid ' +
      'regjeringen prosent meg deg seg vår våre oss henne hverandre fikk gikk tok ga vei nei høyt høy øye bok gate mat ' +
      'hjelpe kjøre skje sjø tjue sju hvorfor ikkje eg ein eit dei kva kor berre heilt mykje frå ' +
      'mennesker fortsatt hvordan noe hvilke derfor  dessuten likevel bare nok vel hos sammen fordi hvis hele ' +
      'neste siste første folk barn landet byen huset uken året dagen tiden verden penger arbeid arbeider ' +
      'skrev sendt fortalte spurte svarte kommer kom fortsatt fremdeles ønsker ønsket ville kunne skulle ' +
      'fremtid selskap selskapet medlemmer stortinget femti seksti sytti åtti nitti ' +
      'januar februar mars april juni juli august september oktober november desember',
    'het heten heter ighet sjon sjonen sjoner ene',
    [/øy/gu, /ei/gu, /\bkj/gu, /\bgj/gu, /skj/gu, /\but[a-zæøå]/gu],
  ),
  sv: rule(
    'ett kanske många själv idag sverige svensk svenska svenske stockholm ' +
      'och att inte är för jag hade från när mycket säger sade hon sina eftersom redan också skulle kunde ' +
      'vad vilka vilken någon något några mellan efter sedan sen under över bara även eller samt enligt dock ' +
      'kommer kom sagt gjort blivit varit hur varför människor barn landet året världen pengar arbete regeringen ' +
      'medlemmar januari februari mars april juni juli augusti september oktober november december',
    'ning ningen het heten tion tionen',
    [/[äö]/gu],
  ),
  // Galician vs Portuguese vs Spanish vs Catalan.
  gl: rule(
    'un están veces ' +
      'quen ben ese esa eses esas ademais xeito galicia galego galega galegos cen tivo estivo puido quere coñecer aquel cousa cousas dicir di din fai estaba sexa fose haberá fronte enriba lonxe xamais case miña túa nosa noso vosa primeiro primeira vello mellor peor pequeno home homes nai irmán xefe lei leis eleccións tempo día mes rúa equipo gañar gañou sinalou engadiu ' +
      'en con é son ao aos e aquí había eran tres non unha unhas xa polo pola polos polas co coa cos coas tamén moi moito moita moitos moitas hai cando cun cunha ' +
      'dun dunha nun nunha aínda despois ata millóns máis ten teñen lle lles dixo dixeron fixo fixeron facer sen nin ' +
      'entón mentres dende porén tódolos tódalas algún algunha ningún ningunha fóra traballo goberno xente xeral xuño ' +
      'xullo xoves mércores venres luns grazas súa seus súas deles delas mesmo sempre agora  cal cales isto iso ' +
      'aquilo persoa persoas pobo auga noite neno nena nenos fillo filla fillos muller mulleres hoxe onte mañá ' +
      'xunto xuntos xustiza xuízo cidade cidades novo nova vostede vostedes ela eles elas eu nós ' +
      'ano anos tiña tiñan facía foi foron pode poden houbo ía alí así só tampouco dous catro oito nove ' +
      'hai   ningunha        ',
    'ción cións óns zón bel axe aría eiro eira aron ou ble',
    [/\bx[aeiouáéíóú]/gu, /ñ/gu, /ll/gu, /\b(?:un|algu|ningu)nhas?\b/gu],
  ),
  pt: rule(
    'após ' +
      'quem bem esse essa esses essas teve esteve pôde quer conhecer coisa dizer diz faz vão estava seja fosse haverá frente longe jamais quase minha tua nossa nosso velho melhor pior pequeno homem mãe pai irmão chefe lei leis eleições tempo dia mês rua equipe equipa ganhar ganhou assinalou acrescentou brasil brasileiro brasileira portugal português portuguesa lisboa primeiro primeira ' +
      'é ao aos e não uma umas já pelo pela pelos pelas também muito muita muitos muitas há quando isso ainda depois milhões ' +
      'você vocês são estão mas tem têm à às foram disse disseram fez fazer nem então enquanto ' +
      'trabalho governo gente geral junho julho obrigado sua suas mesmo sempre agora ' +
      'mais sem um com em bem quem algum nenhum nenhuma ontem homem homens pessoa pessoas povo água noite ' +
      'menino filho filha mulher mulheres hoje amanhã juntos cidade novo nova ele eles elas eu nós ' +
      'ano anos tinha tinham fazia foi pode podem houve ia ali assim só dois quatro oito nove dez ' +
      'além disso deste desta destes nesta neste nesse nessa dessa desse aquele aquela coisa coisas',
    'ção ções ável ível áveis íveis aram eram iram avam iam agem vel ço ça ou eiro eira',
    [/[ãõâêô]/gu, /lh/gu, /(?<!u)nh/gu, /ç/gu, /ss/gu],
  ),
  es: rule(
    'están veces ' +
      'quien bien ese esa esos esas aquel tuvo estuvo pudo quiere conocer cosa cosas decir dice hace van estaba sea fuese fuera habrá frente lejos jamás casi mi tu nuestra nuestro viejo mejor peor pequeño madre padre hermano jefe ley leyes elecciones mes calle equipo ganar ganó señaló añadió además españa español española madrid ' +
      'en con un son la tres el los las y muy hay también hasta después hacer dijo dijeron hizo entonces mientras cuando ' +
      'le lo su sus puede tiene tienen nuevo nueva bueno tiempo siempre cuenta pueblo cierto mucho mucha ' +
      'muchos muchas millones trabajo gobierno gente junio julio gracias ahora otro otra otros otras ellos ' +
      'ellas unas del al fue fueron sin desde año años hoy ayer mañana él ella yo nosotros usted ustedes ' +
      'personas persona agua noche niño niños hijo hija mujer mujeres hombre ciudad mismo misma así allí ' +
      'aún ya sólo solo según quién cómo qué dónde eso esto aquí donde había hubo  eran  cuatro ocho ' +
      'nueve diez cien   gobierno',
    'ción ciones aje ería aron ble',
    [/ñ/gu, /(?<![qg])ue/gu, /ie/gu, /ll/gu],
  ),
  ca: rule(
    'en un amb els molt més però això aquest aquesta aquests aquestes perquè també seva seves hi quan fins ' +
      'des durant ja pel pels dels als uns unes va van dir fer any anys ara altre altra altres són està estan ' +
      'cap mai només sense aleshores mentre treball govern gent juny juliol gràcies i la les del al ' +
      'tot tots totes món persones poble aigua nit nen fill filla dona dones home ciutat nou nova ' +
      'jo nosaltres vostè ell ells elles  havia hem heu  seu seus meu meva segons encara després abans ' +
      'llavors    dues  tres quatre cinc sis set vuit nou deu cent  milions ' +
      ' també perquè és',
    'ció cions ats its ets atge ització ble',
    [/l·l/gu, /[àèò]/gu, /ny\b/gu, /\b[ldsnm]'/gu, /ix/gu, /tx/gu, /ny[aeiou]/gu, /(?<!·)ll/gu],
  ),
  // Afrikaans vs Dutch.
  af: rule(
    "die nie 'n ŉ ek jy hulle julle vir baie sê gewees sal hierdie daardie egter nou hy sy my oor deur kry sodat " +
      'terwyl nuwe mense jare dae mekaar tydens tyd kinders vrou gesê gedoen gemaak gekry moontlik belangrik verlede ' +
      'sowat gister môre wêreld hê soos sien self seker reg nag gebruik wees gaan toe by sou maak wat vandag ' +
      'januarie februarie junie julie desember     vyf ses sewe agt nege duisend saam sleg ' +
      'polisie skool hoekom ander ou sowel  lig ',
    'jie tjie lik like heid sie sies',
    [/[êôû]/gu, /\bsk/gu],
  ),
  nl: rule(
    'de een niet voor zijn wordt werd hij zij wij jullie hun veel deze naar bij dan ik jij je mijn over door krijgen ' +
      'zodat terwijl nieuwe mensen jaren dagen elkaar tijdens tijd kinderen vrouw gezegd gedaan gemaakt mogelijk ' +
      'belangrijk ongeveer gisteren morgen wereld hebben zoals zien zelf zeker recht nacht echter geweest zal zou ' +
      'zich ze er heeft hebben worden maken vandaag nu toen     vijf zes zeven acht negen ' +
      'duizend samen slecht politie school waarom andere oud zowel januari februari juni juli december ',
    'lijk lijke tje je en tie ties',
    [/ij/gu, /sch/gu, /cht/gu, /z/gu],
  ),
  // Hindi vs Marathi vs Nepali (Devanagari).
  hi: rule(
    'है हैं का की के में से को ने और यह था थे थी कि भी पर लिए गया किया रहा रही रहे होता होती होते वह वे इस उस ' +
      'इसके उसके जाता जाती जाते करते करता करती कहा बहुत साथ बाद तक अपने लेकिन क्योंकि अब गई गए हुआ हुई हुए ' +
      'किसी कुछ सभी कोई जब तब यहाँ वहाँ क्या कैसे कौन लोग लोगों सकता सकती सकते चाहिए दिया दी दिए',
    'ियों ाएं ाओं',
    [],
  ),
  mr: rule(
    'आहे आहेत आणि हे होते होता होती झाले झाला झाली केले केला केली या त्या नाही व म्हणजे मात्र तसेच त्यांनी त्यांना ' +
      'त्यांच्या आम्ही तुम्ही आपण काही सर्व येथे तेथे पण कारण तर असे असा असते असतो म्हणाले म्हणून आता ' +
      'त्याने तिने त्याचा त्याची त्याचे ही हा जे जो जी कोणी काय कसे कोण लोक लोकांना शकते शकतो दिले',
    'च्या ची चा चे ला ना मध्ये साठी ण्यात ल्या ल्याने नी ने ांनी ांना ाची ाचा ाचे',
    [/ळ/gu],
  ),
  ne: rule(
    'छ छन् छु छौं हो हुन् थियो थिए थिइन् मा ले र पनि भएको गरेको यो त्यो गर्न गर्ने गरे भने हुन्छ हुने ' +
      'तर यस उनी उनले उनको हामी तपाईं अहिले धेरै सबै भन्दा लागि गरेका भएका गरी भयो गर्यो गरेर भनेर ' +
      'कुनै केही जब तब यहाँ त्यहाँ के कसरी को मानिस मानिसहरू सक्छ सक्छन् दिए दियो',
    'हरू हरूको हरूले हरूलाई लाई को ले मा ्छ ्छन् ेको ेका ्यो',
    [],
  ),
  // Uzbek (Latin) vs Azerbaijani vs Turkish.
  uz: rule(
    "va bilan bu uchun ham edi emas kabi juda bo'lgan boʻlgan qilgan yil yilda lekin hamda esa yoki degan dedi " +
      "ular shu bo'ldi boʻldi qilib ko'p koʻp o'z oʻz bo'yicha boʻyicha mumkin kerak haqida orqali keyin " +
      "qilish qiladi bor yo'q yoʻq hech nima qanday qachon qayerda biz siz men sen u ular uning ularning",
    'lari larni larga lar ning dagi ni ga dan lik',
    [/[og][ʻ'‘’`]/gu, /sh/gu, /ch/gu, /q/gu, /x/gu],
  ),
  az: rule(
    'və ilə üçün deyil kimi çox olan edir etdi idi daha onun amma lakin həm isə yaxud dedi onlar bu ki artıq ' +
      'görə qədər sonra əvvəl indi bütün hər həmçinin bildirib edib olub var yox heç nə necə harada biz siz mən sən o',
    'lər ları ləri dır dir ıb ib',
    [/ə/gu, /q/gu, /x/gu],
  ),
  tr: rule(
    've ile için değil gibi çok olarak ancak ama daha olan ise yaptı onun veya dedi onlar bu ki artık göre kadar ' +
      'sonra önce şimdi bütün her ayrıca çünkü yani bir de da olduğu olduğunu var yok hiç ne nasıl nerede biz siz ben sen',
    'ları leri dır dir yor yordu mış miş acak ecek ğı ği ğu ğü',
    [/ı/gu, /ğ/gu],
  ),
  // Cyrillic: Russian, Ukrainian, Bulgarian, Macedonian, Serbian. Letters first (ы э ё / і ї є ґ /
  // ъ / ѓ ќ ѕ / ђ ћ), then the commonest function words, which differ between all five.
  ru: rule(
    'что это как он был была были также который которая которые его её ее к из после года году лет время чтобы ' +
      'если только уже ещё еще может будет было быть есть нет она они мы вы я этот эта эти этого том тем так ' +
      'сказал заявил сообщил более между через против около человек людей россии  об   ',
    'ого ему ыми ой ый ий',
    [/[ыэё]/gu],
  ),
  uk: rule(
    'і та що це як він був була були також який яка які його її з із від після року році рік років час щоб ' +
      'якщо тільки лише вже ще може буде було бути є немає вона вони ми ви я цей ця ці цього тому так ' +
      'сказав заявив повідомив більш більше між через проти близько людей україни  про   ',
    'ння ться ися ів ій',
    [/[іїєґ]/gu, /'/gu],
  ),
  bg: rule(
    'във че това които който която са ще от    беше бяха но също    със  след година години време ' +
      'как какво когато защото ако само вече още може би бил била били няма той тя те ние вие аз ти него нея ' +
      'тях му им нас всички всеки този тази тези там така каза заяви повече между чрез срещу около хора',
    'ът ят та то те ията ото',
    [/ъ/gu, /щ/gu],
  ),
  mk: rule(
    'во со ќе што  од   ги го ја беа беше бил била биле дека исто       година години време ' +
      'како кога зошто ако само веќе уште може би нема тој таа тие ние вие јас ти него неа нив му им нас сите ' +
      'секој овој оваа овие ова таму така рече изјави повеќе меѓу преку против околу луѓе',
    'от та то те ите ата ето',
    [/[ѓќѕ]/gu, /ј/gu, /[љњџ]/gu],
  ),
  sr: rule(
    ' је  ће што од  са био била били али такође       после године година време како када ' +
      'зашто ако само већ још може би нема он она они ми ви ја ти њега њу њих му јој им нас сви сваки овај ' +
      'ова ови ово тамо тако рекао изјавио више између преко против око људи који која које',
    'ији ије ња ње ћи',
    [/[ђћ]/gu, /ј/gu, /[љњџ]/gu],
  ),
  // Kazakh vs Kyrgyz: Kazakh letters ә ғ қ ұ һ і; Kyrgyz long vowels and genitive -нын/-дын.
  kk: rule(
    'және мен бұл үшін деп болды еді бір осы да де тағы емес жоқ бар оның олар біз сіз сен болады керек көп ' +
      'жыл жылы кейін дейін бойынша туралы ол бірақ егер кім не қандай қашан қайда',
    'ның нің дың дің тың тің ған ген қан кен',
    [/[әғқұһі]/gu],
  ),
  ky: rule(
    'жана менен бул үчүн деп болгон эле бир ошол да дагы эмес жок бар анын алар биз сиз сен болот керек көп ' +
      'жыл жылы кийин чейин боюнча тууралуу ал бирок эгер ким эмне кандай качан кайда',
    'нын нин дын дин тын тин нун нүн дун дүн луу дуу',
    [/аа|ээ|оо|уу|үү|өө|ыы|ии/gu],
  ),
  // Arabic vs Persian vs Urdu (Arabic script).
  ar: rule(
    'في من على إلى أن عن مع هذا هذه التي الذي الذين كان كانت قد لا ما هو هي بين بعد قبل حيث عند أو ثم لم لن ' +
      'كل أي بعض حتى أيضا إن وقال قال',
    'ة ون ين',
    [/(?:^|[\s(«"'])ال/gu, /[ةىإأ]/gu, /[يك]/gu],
  ),
  fa: rule(
    'و در به از که این را با است برای آن یک خود تا بر هم نیز شد شده می های کرد بود ما او آنها اما یا هر ' +
      'بین پس پیش چه چرا کنند کند کرده شود باید',
    'ها های ی',
    [/[پچژگ]/gu, /\u200c/gu, /[یک]/gu],
  ),
  ur: rule(
    'ہے ہیں کے کی کا میں سے کو نے اور یہ وہ تھا تھے تھی بھی پر لیے گیا کیا کہ ایک اس ان جو کر کرنے ' +
      'ہو ہوا ہوئے رہا رہے سکتا چاہیے',
    'وں یں',
    [/[ٹڈڑںےہۃھ]/gu],
  ),
};

const GROUP_OF = new Map<string, readonly string[]>();
for (const g of CONFUSABLE_GROUPS) for (const l of g) GROUP_OF.set(l, g);

/** The confusable group a language belongs to, if any. */
export function confusableGroupOf(language: string): readonly string[] | undefined {
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
