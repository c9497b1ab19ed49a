//! The embedded reference tables: forenames, surnames, nicknames and
//! postcode districts, parsed once on first use.

use std::sync::OnceLock;

use crate::rng::{mix64, Rng};

/// The origin of a family's names. Shares follow the 2021 Census of
/// England and Wales (ethnic group and country of birth), rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// British and Irish names (also most Black Caribbean and many mixed
    /// families in England carry these).
    British,
    /// Indian, Pakistani, Bangladeshi and Sri Lankan names.
    SouthAsian,
    /// Polish, Romanian, Lithuanian, Hungarian and other Eastern European names.
    EastEuropean,
    /// West and East African names (Nigerian, Ghanaian, Somali, ...).
    African,
    /// Chinese, Hong Kong, Vietnamese and other East Asian names.
    EastAsian,
    /// Turkish, Kurdish, Iranian and Arab names.
    MiddleEastern,
    /// Portuguese, Italian, Spanish and Greek names.
    SouthEuropean,
}

impl Origin {
    /// Every origin, in table order.
    pub const ALL: [Origin; 7] = [
        Origin::British,
        Origin::SouthAsian,
        Origin::EastEuropean,
        Origin::African,
        Origin::EastAsian,
        Origin::MiddleEastern,
        Origin::SouthEuropean,
    ];

    /// Share of households, from the 2021 Census (rounded).
    pub const SHARES: [f64; 7] = [0.790, 0.085, 0.040, 0.027, 0.015, 0.015, 0.028];

    /// The name used in the data files.
    pub fn name(self) -> &'static str {
        match self {
            Origin::British => "british",
            Origin::SouthAsian => "south_asian",
            Origin::EastEuropean => "east_european",
            Origin::African => "african",
            Origin::EastAsian => "east_asian",
            Origin::MiddleEastern => "middle_eastern",
            Origin::SouthEuropean => "south_european",
        }
    }

    fn from_name(s: &str) -> Option<Origin> {
        Origin::ALL.into_iter().find(|o| o.name() == s)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A name as written in records: title case and upper case.
#[derive(Debug)]
pub struct NameForm {
    /// `McDonald`, `O'Brien`, `Wiśniewski`.
    pub title: String,
    /// `MCDONALD`, `O'BRIEN`, `WIŚNIEWSKI`.
    pub upper: String,
}

impl NameForm {
    fn new(title: &str) -> NameForm {
        NameForm {
            title: title.to_string(),
            upper: title.to_uppercase(),
        }
    }
}

/// A nickname of a forename.
#[derive(Debug)]
pub struct Nickname {
    /// The nickname.
    pub form: NameForm,
    /// Whether the linker's nickname table maps it to the same canonical
    /// name as the forename.
    pub listed: bool,
}

/// A forename with its nicknames.
#[derive(Debug)]
pub struct Forename {
    /// The name.
    pub form: NameForm,
    /// Short forms people use (may be empty).
    pub nicknames: Vec<Nickname>,
}

/// Cumulative-weight sampler over indices.
#[derive(Debug, Default)]
pub(crate) struct Sampler {
    items: Vec<u32>,
    cumulative: Vec<f64>,
}

impl Sampler {
    fn push(&mut self, item: u32, weight: f64) {
        if weight > 0.0 {
            let last = self.cumulative.last().copied().unwrap_or(0.0);
            self.items.push(item);
            self.cumulative.push(last + weight);
        }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn sample(&self, rng: &mut Rng) -> u32 {
        let total = *self.cumulative.last().expect("non-empty sampler");
        let x = rng.f64() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.items[i.min(self.items.len() - 1)]
    }
}

/// A postcode district (outward code) and its integrated care board.
#[derive(Debug)]
pub struct District {
    /// The outward code, e.g. `LS6`.
    pub outward: String,
    /// The ICB that covers most of its area.
    pub icb: String,
}

/// All the tables.
pub(crate) struct Tables {
    pub forenames: Vec<Forename>,
    /// `[sex][origin][era]`, sex 0 male 1 female; era 0 born before 1965,
    /// 1 born 1965–1994, 2 born 1995 on.
    pub forename_samplers: [[[Sampler; 3]; 7]; 2],
    pub surnames: Vec<NameForm>,
    /// One per origin.
    pub surname_samplers: [Sampler; 7],
    /// The generated tail of rarer British surnames.
    pub rare_surnames: Sampler,
    pub districts: Vec<District>,
    pub district_sampler: Sampler,
}

const FORENAMES_CSV: &str = include_str!("../data/forenames.csv");
const SURNAMES_CSV: &str = include_str!("../data/surnames.csv");
const NICKNAMES_CSV: &str = include_str!("../data/nicknames.csv");
const OUTWARD_CSV: &str = include_str!("../data/outward.csv");

/// Prefixes and suffixes of English toponymic surnames (Ash-worth,
/// Brad-shaw, Hol-combe): combined, they give a long tail of plausible,
/// rarer surnames.
const RARE_PREFIXES: &[&str] = &[
    "Ash", "Black", "Brad", "Brook", "Cald", "Chad", "Clay", "Cold", "Crow", "Dun", "East", "Fair",
    "Farn", "Good", "Green", "Hal", "Hart", "Hay", "Hol", "Horn", "Kirk", "Lang", "Lind", "Marl",
    "Mid", "Mill", "Moss", "Nor", "Oak", "Pen", "Rad", "Ray", "Rid", "Rock", "Sand", "Shel",
    "Shir", "South", "Stan", "Thorn", "Tod", "Wain", "Wal", "West", "Whit", "Wick", "Wil", "Win",
    "Wood", "Wool", "Al", "Bar", "Bel", "Bran", "Bur", "Carl", "Dal", "Ed", "Els", "Gar", "Hamp",
];
/// Joins between prefix and suffix (Ash-ing-ton, Black-en-ford).
const RARE_LINKS: &[&str] = &["", "ing", "en", "er", "s"];
const RARE_SUFFIXES: &[&str] = &[
    "ley", "ton", "worth", "ford", "wood", "field", "by", "ham", "well", "stead", "brook", "combe",
    "den", "dale", "hurst", "more", "shaw", "wick", "land", "bury", "ridge", "thorpe", "croft",
    "gate", "cliffe", "holme",
];

fn csv_rows(text: &'static str) -> impl Iterator<Item = csv::StringRecord> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(std::io::Cursor::new(body.into_bytes()));
    rdr.records()
        .map(|r| r.expect("embedded table is valid CSV"))
        .collect::<Vec<_>>()
        .into_iter()
}

fn build() -> Tables {
    use linkwell::normalise::name::{canonical, normalise};

    // Nicknames first, keyed by forename.
    let mut nick_map: std::collections::HashMap<String, Vec<String>> = Default::default();
    for line in NICKNAMES_CSV.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split(',').map(str::trim);
        let formal = parts.next().expect("a forename").to_string();
        nick_map.insert(formal, parts.map(str::to_string).collect());
    }
    let listed = |formal: &str, nick: &str| {
        let f = normalise(formal);
        let n = normalise(nick);
        canonical(&f) == canonical(&n)
    };

    let mut forenames: Vec<Forename> = Vec::new();
    let mut index_of: std::collections::HashMap<String, u32> = Default::default();
    let mut forename_samplers: [[[Sampler; 3]; 7]; 2] = Default::default();
    for row in csv_rows(FORENAMES_CSV) {
        let sex = match &row[0] {
            "M" => 0,
            "F" => 1,
            s => panic!("bad sex {s} in forenames.csv"),
        };
        let origin = Origin::from_name(&row[1]).expect("known origin");
        let name = row[2].to_string();
        let idx = *index_of.entry(name.clone()).or_insert_with(|| {
            let nicknames = nick_map
                .get(&name)
                .map(|v| {
                    v.iter()
                        .map(|n| Nickname {
                            form: NameForm::new(n),
                            listed: listed(&name, n),
                        })
                        .collect()
                })
                .unwrap_or_default();
            forenames.push(Forename {
                form: NameForm::new(&name),
                nicknames,
            });
            (forenames.len() - 1) as u32
        });
        for era in 0..3 {
            let w: f64 = row[3 + era].parse().expect("numeric weight");
            forename_samplers[sex][origin.index()][era].push(idx, w);
        }
    }

    let mut surnames: Vec<NameForm> = Vec::new();
    let mut surname_samplers: [Sampler; 7] = Default::default();
    let mut british: std::collections::HashSet<String> = Default::default();
    for row in csv_rows(SURNAMES_CSV) {
        let origin = Origin::from_name(&row[0]).expect("known origin");
        let w: f64 = row[2].parse().expect("numeric weight");
        if origin == Origin::British {
            british.insert(row[1].to_string());
        }
        surnames.push(NameForm::new(&row[1]));
        surname_samplers[origin.index()].push((surnames.len() - 1) as u32, w);
    }
    let mut rare_surnames = Sampler::default();
    for (pi, p) in RARE_PREFIXES.iter().enumerate() {
        for (ci, c) in RARE_LINKS.iter().enumerate() {
            for (si, s) in RARE_SUFFIXES.iter().enumerate() {
                let name = format!("{p}{c}{s}");
                if british.contains(&name) {
                    continue;
                }
                surnames.push(NameForm::new(&name));
                // Uneven but never dominant: weights 1 to 8.
                let w = 1 + mix64(((pi * 10 + ci) * 100 + si) as u64) % 8;
                rare_surnames.push((surnames.len() - 1) as u32, w as f64);
            }
        }
    }

    let mut districts = Vec::new();
    let mut district_sampler = Sampler::default();
    for row in csv_rows(OUTWARD_CSV) {
        let area = &row[0];
        let weight: f64 = row[2].parse().expect("numeric weight");
        let icb = row[3].to_string();
        let mut codes = Vec::new();
        for item in row[1].split_whitespace() {
            if let Some((a, b)) = item.split_once('-') {
                let (a, b): (u32, u32) = (a.parse().expect("range"), b.parse().expect("range"));
                codes.extend((a..=b).map(|n| format!("{area}{n}")));
            } else if item.bytes().all(|b| b.is_ascii_digit()) {
                codes.push(format!("{area}{item}"));
            } else {
                codes.push(item.to_string());
            }
        }
        let each = weight / codes.len() as f64;
        for outward in codes {
            districts.push(District {
                outward,
                icb: icb.clone(),
            });
            district_sampler.push((districts.len() - 1) as u32, each);
        }
    }

    Tables {
        forenames,
        forename_samplers,
        surnames,
        surname_samplers,
        rare_surnames,
        districts,
        district_sampler,
    }
}

/// The tables, built on first use.
pub(crate) fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(build)
}

/// Letters allowed in the inward code (never C I K M O V).
pub(crate) const INWARD_LETTERS: &[u8; 20] = b"ABDEFGHJLNPQRSTUWXYZ";

/// Unit postcodes per district: about 800 of the possible 4,000 inward
/// codes are used (some 1.6 million units in all; England has about 1.4
/// million live postcodes), so that at national scale some fifteen
/// households share a postcode on average, as they do in England.
pub(crate) const UNITS_PER_DISTRICT: u64 = 800;

/// The inward code of unit `unit` of district `district`.
pub(crate) fn inward(district: u32, unit: u64) -> [u8; 3] {
    let h = mix64((u64::from(district) << 20) ^ unit);
    [
        b'0' + (h % 10) as u8,
        INWARD_LETTERS[((h >> 8) % 20) as usize],
        INWARD_LETTERS[((h >> 16) % 20) as usize],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkwell::normalise::postcode::normalise;

    #[test]
    fn tables_are_large_and_valid() {
        let t = tables();
        let male: usize = t.forename_samplers[0]
            .iter()
            .map(|e| e[1].items.len())
            .sum();
        assert!(t.forenames.len() > 600, "{}", t.forenames.len());
        assert!(male > 100);
        assert!(t.surnames.len() > 5000, "{}", t.surnames.len());
        assert!(t.districts.len() > 1200, "{}", t.districts.len());
        for (i, d) in t.districts.iter().enumerate() {
            for unit in [0, 1, UNITS_PER_DISTRICT - 1] {
                let inw = inward(i as u32, unit);
                let pc = format!("{} {}", d.outward, std::str::from_utf8(&inw).unwrap());
                let n = normalise(&pc).unwrap_or_else(|| panic!("{pc} is not valid"));
                assert_eq!(n.as_str(), pc);
                assert_eq!(n.district(), d.outward);
            }
        }
        let icbs: std::collections::BTreeSet<_> = t.districts.iter().map(|d| &d.icb).collect();
        assert!(icbs.len() >= 30, "{}", icbs.len());
        for o in Origin::ALL {
            assert!(!t.surname_samplers[o.index()].is_empty());
            for sex in 0..2 {
                for era in 0..3 {
                    assert!(!t.forename_samplers[sex][o.index()][era].is_empty());
                }
            }
        }
    }

    #[test]
    fn some_nicknames_are_unknown_to_the_linker() {
        let t = tables();
        let all: Vec<_> = t.forenames.iter().flat_map(|f| &f.nicknames).collect();
        let unlisted = all.iter().filter(|n| !n.listed).count();
        println!("nicknames {} unlisted {unlisted}", all.len());
        assert!(all.len() > 150, "{}", all.len());
        assert!(
            unlisted >= 10 && unlisted * 3 < all.len(),
            "{unlisted} of {}",
            all.len()
        );
        // Listed means the linker's table folds the nickname into the
        // forename's canonical form; check that against the table itself.
        for f in &t.forenames {
            let canon = linkwell::normalise::name::canonical(&f.form.upper).into_owned();
            for n in &f.nicknames {
                let listed = linkwell::normalise::name::canonical(&n.form.upper) == canon;
                assert_eq!(n.listed, listed, "{} -> {}", f.form.title, n.form.title);
            }
        }
        let william = t
            .forenames
            .iter()
            .find(|f| f.form.title == "William")
            .unwrap();
        assert!(william.nicknames.iter().all(|n| n.listed));
    }

    #[test]
    fn every_nickname_row_names_a_forename() {
        let t = tables();
        for line in NICKNAMES_CSV.lines().filter(|l| !l.starts_with('#')) {
            let formal = line.split(',').next().unwrap();
            assert!(
                t.forenames.iter().any(|f| f.form.title == formal),
                "{formal} is not in forenames.csv"
            );
        }
    }
}
