//! Deterministic synthetic customers: person `i` is always the same (a seeded RNG per
//! index), so a million of them need not be kept in memory. 70 % Chinese names
//! (weighted common surnames, one- or two-character given names), 30 % Latin names;
//! companies with regions, industry words and legal suffixes; mobiles (unique per
//! person) in several formats; e-mails for most.

use shangji_contracts::common::Lead;

/// SplitMix64: tiny, seedable, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5eed_0f5a_u64.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// Skewed towards the front of the list (common surnames are very common).
    pub fn skewed<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let a = self.below(items.len());
        let b = self.below(items.len());
        &items[a.min(b)]
    }
}

/// (simplified, traditional, pinyin)
type Han = (&'static str, &'static str, &'static str);

const SURNAMES: &[Han] = &[
    ("王", "王", "wang"),
    ("李", "李", "li"),
    ("张", "張", "zhang"),
    ("刘", "劉", "liu"),
    ("陈", "陳", "chen"),
    ("杨", "楊", "yang"),
    ("黄", "黃", "huang"),
    ("赵", "趙", "zhao"),
    ("吴", "吳", "wu"),
    ("周", "周", "zhou"),
    ("徐", "徐", "xu"),
    ("孙", "孫", "sun"),
    ("马", "馬", "ma"),
    ("朱", "朱", "zhu"),
    ("胡", "胡", "hu"),
    ("郭", "郭", "guo"),
    ("何", "何", "he"),
    ("林", "林", "lin"),
    ("罗", "羅", "luo"),
    ("高", "高", "gao"),
    ("郑", "鄭", "zheng"),
    ("梁", "梁", "liang"),
    ("谢", "謝", "xie"),
    ("宋", "宋", "song"),
    ("唐", "唐", "tang"),
    ("许", "許", "xu"),
    ("韩", "韓", "han"),
    ("冯", "馮", "feng"),
    ("邓", "鄧", "deng"),
    ("曹", "曹", "cao"),
    ("彭", "彭", "peng"),
    ("曾", "曾", "zeng"),
    ("萧", "蕭", "xiao"),
    ("田", "田", "tian"),
    ("董", "董", "dong"),
    ("潘", "潘", "pan"),
    ("袁", "袁", "yuan"),
    ("蔡", "蔡", "cai"),
    ("蒋", "蔣", "jiang"),
    ("余", "余", "yu"),
    ("于", "於", "yu"),
    ("杜", "杜", "du"),
    ("叶", "葉", "ye"),
    ("程", "程", "cheng"),
    ("魏", "魏", "wei"),
    ("苏", "蘇", "su"),
    ("吕", "呂", "lv"),
    ("丁", "丁", "ding"),
    ("任", "任", "ren"),
    ("卢", "盧", "lu"),
    ("姚", "姚", "yao"),
    ("沈", "沈", "shen"),
    ("钟", "鍾", "zhong"),
    ("姜", "姜", "jiang"),
    ("崔", "崔", "cui"),
    ("谭", "譚", "tan"),
    ("陆", "陸", "lu"),
    ("范", "范", "fan"),
    ("汪", "汪", "wang"),
    ("廖", "廖", "liao"),
    ("欧阳", "歐陽", "ouyang"),
    ("司马", "司馬", "sima"),
    ("上官", "上官", "shangguan"),
];

const GIVEN: &[Han] = &[
    ("伟", "偉", "wei"),
    ("芳", "芳", "fang"),
    ("娜", "娜", "na"),
    ("敏", "敏", "min"),
    ("静", "靜", "jing"),
    ("丽", "麗", "li"),
    ("强", "強", "qiang"),
    ("磊", "磊", "lei"),
    ("军", "軍", "jun"),
    ("洋", "洋", "yang"),
    ("勇", "勇", "yong"),
    ("艳", "艷", "yan"),
    ("杰", "傑", "jie"),
    ("涛", "濤", "tao"),
    ("明", "明", "ming"),
    ("超", "超", "chao"),
    ("秀", "秀", "xiu"),
    ("霞", "霞", "xia"),
    ("平", "平", "ping"),
    ("刚", "剛", "gang"),
    ("桂", "桂", "gui"),
    ("英", "英", "ying"),
    ("华", "華", "hua"),
    ("建", "建", "jian"),
    ("国", "國", "guo"),
    ("文", "文", "wen"),
    ("辉", "輝", "hui"),
    ("玲", "玲", "ling"),
    ("红", "紅", "hong"),
    ("龙", "龍", "long"),
    ("飞", "飛", "fei"),
    ("鹏", "鵬", "peng"),
    ("宇", "宇", "yu"),
    ("浩", "浩", "hao"),
    ("晨", "晨", "chen"),
    ("欣", "欣", "xin"),
    ("怡", "怡", "yi"),
    ("婷", "婷", "ting"),
    ("雪", "雪", "xue"),
    ("梅", "梅", "mei"),
    ("东", "東", "dong"),
    ("海", "海", "hai"),
    ("波", "波", "bo"),
    ("斌", "斌", "bin"),
    ("宁", "寧", "ning"),
    ("凯", "凱", "kai"),
    ("琳", "琳", "lin"),
    ("瑞", "瑞", "rui"),
    ("嘉", "嘉", "jia"),
    ("子", "子", "zi"),
    ("思", "思", "si"),
    ("雨", "雨", "yu"),
    ("志", "志", "zhi"),
    ("春", "春", "chun"),
    ("立", "立", "li"),
    ("新", "新", "xin"),
];

/// Brand syllables: two make a brand (华为, 联想 …), spelled in pinyin for Latin names.
const BRAND: &[Han] = &[
    ("华", "華", "hua"),
    ("为", "為", "wei"),
    ("联", "聯", "lian"),
    ("想", "想", "xiang"),
    ("腾", "騰", "teng"),
    ("讯", "訊", "xun"),
    ("阿", "阿", "a"),
    ("里", "里", "li"),
    ("百", "百", "bai"),
    ("度", "度", "du"),
    ("京", "京", "jing"),
    ("东", "東", "dong"),
    ("美", "美", "mei"),
    ("团", "團", "tuan"),
    ("海", "海", "hai"),
    ("尔", "爾", "er"),
    ("格", "格", "ge"),
    ("力", "力", "li"),
    ("长", "長", "chang"),
    ("城", "城", "cheng"),
    ("中", "中", "zhong"),
    ("兴", "興", "xing"),
    ("小", "小", "xiao"),
    ("米", "米", "mi"),
    ("比", "比", "bi"),
    ("亚", "亞", "ya"),
    ("迪", "迪", "di"),
    ("宁", "寧", "ning"),
    ("德", "德", "de"),
    ("时", "時", "shi"),
    ("代", "代", "dai"),
    ("金", "金", "jin"),
    ("山", "山", "shan"),
    ("天", "天", "tian"),
    ("宏", "宏", "hong"),
    ("远", "遠", "yuan"),
    ("恒", "恆", "heng"),
    ("瑞", "瑞", "rui"),
    ("鑫", "鑫", "xin"),
    ("源", "源", "yuan"),
    ("博", "博", "bo"),
    ("创", "創", "chuang"),
    ("星", "星", "xing"),
    ("辰", "辰", "chen"),
    ("云", "雲", "yun"),
    ("帆", "帆", "fan"),
    ("盛", "盛", "sheng"),
    ("达", "達", "da"),
    ("通", "通", "tong"),
    ("安", "安", "an"),
    ("泰", "泰", "tai"),
    ("和", "和", "he"),
    ("光", "光", "guang"),
    ("明", "明", "ming"),
    ("新", "新", "xin"),
    ("锐", "銳", "rui"),
    ("凯", "凱", "kai"),
    ("嘉", "嘉", "jia"),
    ("汇", "匯", "hui"),
    ("丰", "豐", "feng"),
    ("永", "永", "yong"),
    ("信", "信", "xin"),
    ("鼎", "鼎", "ding"),
    ("晟", "晟", "sheng"),
    ("骏", "駿", "jun"),
    ("朗", "朗", "lang"),
    ("启", "啟", "qi"),
    ("航", "航", "hang"),
    ("蓝", "藍", "lan"),
    ("海", "海", "hai"),
    ("峰", "峰", "feng"),
    ("川", "川", "chuan"),
];

const REGIONS: &[&str] = &[
    "北京", "上海", "深圳", "广州", "杭州", "成都", "武汉", "南京", "苏州", "西安",
];
/// (Chinese industry word, Latin)
const INDUSTRIES: &[(&str, &str)] = &[
    ("科技", "Technology"),
    ("信息技术", "Information Technology"),
    ("电子", "Electronics"),
    ("贸易", "Trading"),
    ("网络", "Network"),
    ("软件", "Software"),
    ("制造", "Manufacturing"),
    ("医疗器械", "Medical"),
    ("物流", "Logistics"),
    ("建设", "Construction"),
];
const CN_SUFFIXES: &[&str] = &["有限公司", "股份有限公司", "有限责任公司", "集团有限公司"];
const LATIN_SUFFIXES: &[&str] = &["Co., Ltd.", "Inc.", "Ltd", "GmbH", "LLC", "Corp."];
const FIRST: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Sandra",
    "Mark",
    "Emily",
    "Paul",
    "Laura",
    "Peter",
    "Anna",
    "Lucas",
    "Sophie",
    "Oliver",
    "Emma",
];
const LAST: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martin",
    "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "White", "Harris", "Clark",
    "Lewis", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams",
    "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner",
    "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Schmidt",
    "Müller", "Weber", "Fischer", "Meyer", "Dubois", "Moreau", "Rossi", "Bianchi",
];
const DOMAINS: &[&str] = &[
    "qq.com",
    "163.com",
    "126.com",
    "gmail.com",
    "outlook.com",
    "sina.com",
    "foxmail.com",
];
const HONORIFICS: &[&str] = &["先生", "女士", "总", "经理"];

pub enum Name {
    Chinese {
        surname: Han,
        given: Vec<Han>,
    },
    Latin {
        first: &'static str,
        last: &'static str,
    },
}

pub struct Person {
    pub name: Name,
    /// Two brand syllables, the industry, the region, the suffix choice.
    pub brand: (Han, Han),
    pub industry: (&'static str, &'static str),
    pub region: &'static str,
    pub suffix: usize,
    /// Eleven digits, unique per index.
    pub mobile: String,
    pub email: Option<String>,
    pub phone_format: usize,
}

/// A unique mobile per index: an affine bijection on 0..10^8 behind a carrier prefix.
fn mobile(index: u64) -> String {
    let prefixes = [
        "138", "139", "150", "186", "177", "135", "158", "189", "133", "199",
    ];
    let body = (index.wrapping_mul(7_919) + 12_345_678) % 100_000_000;
    format!(
        "{}{:08}",
        prefixes[((index / 100_000_000) % 10) as usize],
        body
    )
}

impl Person {
    pub fn nth(index: u64) -> Person {
        let mut rng = Rng::new(index.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let name = if rng.below(10) < 7 {
            let surname = *rng.skewed(SURNAMES);
            let given = (0..1 + rng.below(2)).map(|_| *rng.pick(GIVEN)).collect();
            Name::Chinese { surname, given }
        } else {
            Name::Latin {
                first: FIRST[rng.below(FIRST.len())],
                last: LAST[rng.below(LAST.len())],
            }
        };
        let brand = (*rng.skewed(BRAND), *rng.pick(BRAND));
        let industry = *rng.pick(INDUSTRIES);
        let region = *rng.pick(REGIONS);
        let suffix = rng.below(16);
        let phone_format = rng.below(4);
        let with_email = rng.below(10) < 7;
        let mut person = Person {
            name,
            brand,
            industry,
            region,
            suffix,
            mobile: mobile(index),
            email: None,
            phone_format,
        };
        if with_email {
            let domain = rng.pick(DOMAINS);
            person.email = Some(format!("{}{}@{domain}", person.mailbox(), index % 100_000));
        }
        person
    }

    fn mailbox(&self) -> String {
        match &self.name {
            Name::Chinese { surname, given } => {
                format!(
                    "{}.{}",
                    given.iter().map(|g| g.2).collect::<String>(),
                    surname.2
                )
            }
            Name::Latin { first, last } => format!("{}.{}", first, last).to_lowercase(),
        }
    }

    pub fn is_chinese(&self) -> bool {
        matches!(self.name, Name::Chinese { .. })
    }

    fn hanzi_name(&self, traditional: bool) -> String {
        match &self.name {
            Name::Chinese { surname, given } => {
                let pick = |h: &Han| if traditional { h.1 } else { h.0 };
                format!(
                    "{}{}",
                    pick(surname),
                    given.iter().map(pick).collect::<String>()
                )
            }
            Name::Latin { first, last } => format!("{first} {last}"),
        }
    }

    fn pinyin_name(&self) -> String {
        match &self.name {
            Name::Chinese { surname, given } => {
                let given: String = given.iter().map(|g| g.2).collect();
                format!("{} {}", capitalised(&given), capitalised(surname.2))
            }
            Name::Latin { first, last } => format!("{} {}", last.to_uppercase(), first),
        }
    }

    /// The company as the customer's own record wrote it: Chinese companies for
    /// Chinese names mostly, Latin otherwise.
    pub fn company(&self) -> String {
        if self.is_chinese() || self.suffix.is_multiple_of(4) {
            self.chinese_company(
                self.suffix.is_multiple_of(2),
                self.suffix % CN_SUFFIXES.len(),
                false,
            )
        } else {
            self.latin_company(self.suffix % LATIN_SUFFIXES.len())
        }
    }

    fn chinese_company(&self, with_region: bool, suffix: usize, traditional: bool) -> String {
        let pick = |h: &Han| if traditional { h.1 } else { h.0 };
        let brand = format!("{}{}", pick(&self.brand.0), pick(&self.brand.1));
        if with_region {
            format!(
                "{}{}{}{}",
                self.region, brand, self.industry.0, CN_SUFFIXES[suffix]
            )
        } else {
            format!("{}{}{}", brand, self.industry.0, CN_SUFFIXES[suffix])
        }
    }

    fn latin_company(&self, suffix: usize) -> String {
        let brand = capitalised(&format!("{}{}", self.brand.0.2, self.brand.1.2));
        format!("{brand} {} {}", self.industry.1, LATIN_SUFFIXES[suffix])
    }

    fn phone(&self, format: usize) -> String {
        let m = &self.mobile;
        match format % 4 {
            0 => m.clone(),
            1 => format!("+86 {} {} {}", &m[..3], &m[3..7], &m[7..]),
            2 => format!("{}-{}-{}", &m[..3], &m[3..7], &m[7..]),
            _ => format!("0086{m}"),
        }
    }

    /// The customer's record as it was loaded.
    pub fn lead(&self) -> Lead {
        Lead {
            contact_name: self.hanzi_name(false),
            company: self.company(),
            phone: self.phone(self.phone_format),
            email: self.email.clone().unwrap_or_default(),
            ..Lead::default()
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryKind {
    /// A known customer's phone or e-mail written another way.
    Exact = 0,
    /// A known customer with none of its exact keys: another spelling of name and company.
    Fuzzy = 1,
    /// Someone not loaded.
    New = 2,
}

#[derive(Clone)]
pub struct Query {
    pub kind: QueryKind,
    /// How the lead was written (for recall per variant).
    pub variant: &'static str,
    /// The index of the customer it is, if any.
    pub customer: Option<u64>,
    pub lead: Lead,
}

/// Query `n` against `customers` loaded ones: 40 % exact, 35 % fuzzy, 25 % new.
pub fn query(n: u64, customers: u64) -> Query {
    let mut rng = Rng::new(0xc0ff_ee00 ^ n.wrapping_mul(0x9e37_79b9));
    let roll = rng.below(100);
    if roll >= 75 {
        // New people: indexes past the loaded ones.
        let person = Person::nth(customers + n);
        return Query {
            kind: QueryKind::New,
            variant: "new person",
            customer: None,
            lead: person.lead(),
        };
    }
    let index = rng.next() % customers;
    let person = Person::nth(index);
    if roll < 40 {
        let mut lead = Lead {
            contact_name: person.hanzi_name(false),
            phone: person.phone(person.phone_format + 1 + rng.below(3)),
            ..Lead::default()
        };
        if let Some(email) = &person.email
            && rng.below(2) == 0
        {
            lead.phone.clear();
            lead.email = email.to_uppercase();
        }
        if let (Name::Chinese { surname, .. }, 0) = (&person.name, rng.below(3)) {
            lead.contact_name = format!("{}{}", surname.0, rng.pick(HONORIFICS));
        }
        return Query {
            kind: QueryKind::Exact,
            variant: "phone or e-mail written another way",
            customer: Some(index),
            lead,
        };
    }
    let (variant, lead) = match (&person.name, rng.below(4)) {
        // Traditional characters, the company without region and another legal form.
        (Name::Chinese { .. }, 0) => (
            "traditional name, company without region",
            Lead {
                contact_name: person.hanzi_name(true),
                company: person.chinese_company(
                    false,
                    (person.suffix + 1) % CN_SUFFIXES.len(),
                    true,
                ),
                ..Lead::default()
            },
        ),
        // Pinyin, the company in Latin letters.
        (Name::Chinese { .. }, 1) => (
            "pinyin name, company in Latin letters",
            Lead {
                contact_name: person.pinyin_name(),
                company: person.latin_company(rng.below(LATIN_SUFFIXES.len())),
                ..Lead::default()
            },
        ),
        // Surname and honorific at the company (a business card: 王总, 华为).
        (Name::Chinese { surname, .. }, 2) => (
            "surname and honorific at the company",
            Lead {
                contact_name: format!("{}{}", surname.0, rng.pick(HONORIFICS)),
                company: person.chinese_company(
                    true,
                    (person.suffix + 2) % CN_SUFFIXES.len(),
                    false,
                ),
                ..Lead::default()
            },
        ),
        // The same name, another company spelling and a second mobile.
        (Name::Chinese { .. }, _) => (
            "same name, second mobile",
            Lead {
                contact_name: person.hanzi_name(false),
                company: person.chinese_company(
                    person.suffix % 2 == 1,
                    (person.suffix + 3) % CN_SUFFIXES.len(),
                    false,
                ),
                phone: mobile(customers + 10_000_000 + n),
                ..Lead::default()
            },
        ),
        // Latin names: "SMITH John", another legal form.
        (Name::Latin { .. }, _) => (
            "Latin name reordered",
            Lead {
                contact_name: person.pinyin_name(),
                company: person.latin_company((person.suffix + 1) % LATIN_SUFFIXES.len()),
                ..Lead::default()
            },
        ),
    };
    Query {
        kind: QueryKind::Fuzzy,
        variant,
        customer: Some(index),
        lead,
    }
}
