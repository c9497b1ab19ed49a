//! The population: households, people and what happens to them (health
//! referrals, work and pay, benefit claims), before any view or error.

use std::borrow::Cow;
use std::collections::HashMap;

use linkwell::nhs::NhsNumber;
use linkwell::normalise::date::Date;

use crate::config::{Config, NameCase};
use crate::dates::{age, days, from_days, years_before};
use crate::rng::{mix64, Permutation, Rng};
use crate::tables::{inward, tables, Forename, Nickname, Origin, Tables, UNITS_PER_DISTRICT};

/// Sex of a person (the population has only the two; "not known" appears
/// in records as an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Male.
    Male,
    /// Female.
    Female,
}

impl Sex {
    /// The other one.
    pub fn opposite(self) -> Sex {
        match self {
            Sex::Male => Sex::Female,
            Sex::Female => Sex::Male,
        }
    }
}

/// A surname: one name from the tables, or two joined by a hyphen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Surname {
    first: u32,
    second: Option<u32>,
}

impl Surname {
    /// The surname as written in `case`.
    pub fn text(self, case: NameCase) -> Cow<'static, str> {
        let t = tables();
        let form = |i: u32| {
            let f = &t.surnames[i as usize];
            match case {
                NameCase::Title => f.title.as_str(),
                NameCase::Upper => f.upper.as_str(),
            }
        };
        match self.second {
            None => Cow::Borrowed(form(self.first)),
            Some(s) => Cow::Owned(format!("{}-{}", form(self.first), form(s))),
        }
    }
}

/// A postcode as text, kept inline (at most 8 bytes, `SW1A 1AA`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PostcodeText {
    bytes: [u8; 8],
    len: u8,
}

impl PostcodeText {
    pub(crate) fn new(s: &str) -> PostcodeText {
        let mut bytes = [0u8; 8];
        let n = s.len().min(8);
        bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
        PostcodeText {
            bytes,
            len: n as u8,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("ASCII")
    }

    /// The outward code (before the space).
    pub fn outward(&self) -> &str {
        self.as_str().split(' ').next().unwrap_or("")
    }
}

impl std::fmt::Debug for PostcodeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostcodeText({:?})", self.as_str())
    }
}

/// A National Insurance number, `AB123456C`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nino([u8; 9]);

impl Nino {
    /// The nine characters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }
}

impl std::fmt::Debug for Nino {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nino(<redacted>)")
    }
}

/// Economic activity, as in the Labour Force Survey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmploymentStatus {
    /// An employee.
    Employed,
    /// Self-employed.
    SelfEmployed,
    /// Looking for work.
    Unemployed,
    /// Not working or looking (students, carers, long-term sick, early retired).
    Inactive,
}

impl EmploymentStatus {
    /// The value written to `ons_employment.csv`.
    pub fn name(self) -> &'static str {
        match self {
            EmploymentStatus::Employed => "employed",
            EmploymentStatus::SelfEmployed => "self_employed",
            EmploymentStatus::Unemployed => "unemployed",
            EmploymentStatus::Inactive => "inactive",
        }
    }

    fn in_work(self) -> bool {
        matches!(
            self,
            EmploymentStatus::Employed | EmploymentStatus::SelfEmployed
        )
    }
}

/// Annual pay bands (£), with the shares of people in work, following the
/// shape of ASHE 2024 gross annual pay for all jobs (median about £31k).
pub const PAY_BANDS: [(&str, f64); 8] = [
    ("0-9999", 0.10),
    ("10000-19999", 0.14),
    ("20000-29999", 0.22),
    ("30000-39999", 0.20),
    ("40000-49999", 0.12),
    ("50000-74999", 0.14),
    ("75000-99999", 0.05),
    ("100000+", 0.03),
];

/// Industry (SIC 2007 sections, grouped), with shares of workforce jobs
/// (ONS JOBS02, rounded).
pub const INDUSTRIES: [(&str, f64); 18] = [
    ("Health and social work", 0.135),
    ("Wholesale and retail trade", 0.14),
    ("Education", 0.085),
    ("Professional scientific and technical", 0.085),
    ("Manufacturing", 0.075),
    ("Administrative and support services", 0.08),
    ("Accommodation and food services", 0.07),
    ("Construction", 0.065),
    ("Public administration and defence", 0.045),
    ("Transport and storage", 0.05),
    ("Information and communication", 0.045),
    ("Financial and insurance", 0.035),
    ("Arts entertainment and recreation", 0.03),
    ("Other service activities", 0.025),
    ("Real estate", 0.018),
    ("Agriculture forestry and fishing", 0.012),
    ("Energy and water supply", 0.01),
    ("Mining and quarrying", 0.002),
];

/// A person's work, as the ONS would record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Employment {
    /// Status.
    pub status: EmploymentStatus,
    /// Index into [`PAY_BANDS`] for people in work.
    pub pay_band: Option<u8>,
    /// Index into [`INDUSTRIES`] for people in work.
    pub industry: Option<u8>,
}

/// A health-and-work programme service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Referral {
    /// Physiotherapy.
    Physiotherapy,
    /// Musculoskeletal (MSK) service.
    Musculoskeletal,
    /// Mental health (talking therapies, IPS employment support).
    MentalHealth,
    /// Cardiac rehabilitation.
    CardiacRehabilitation,
}

impl Referral {
    /// The value written to `nhs_patients.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Referral::Physiotherapy => "physiotherapy",
            Referral::Musculoskeletal => "musculoskeletal",
            Referral::MentalHealth => "mental_health",
            Referral::CardiacRehabilitation => "cardiac_rehabilitation",
        }
    }
}

/// A DWP benefit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Benefit {
    /// Universal Credit.
    UniversalCredit,
    /// Employment and Support Allowance.
    EmploymentAndSupportAllowance,
    /// Jobseeker's Allowance.
    JobseekersAllowance,
    /// Personal Independence Payment.
    PersonalIndependencePayment,
    /// Carer's Allowance.
    CarersAllowance,
    /// Pension Credit.
    PensionCredit,
    /// Attendance Allowance.
    AttendanceAllowance,
}

impl Benefit {
    /// The DWP's usual abbreviation, written to `dwp_claims.csv`.
    pub fn code(self) -> &'static str {
        match self {
            Benefit::UniversalCredit => "UC",
            Benefit::EmploymentAndSupportAllowance => "ESA",
            Benefit::JobseekersAllowance => "JSA",
            Benefit::PersonalIndependencePayment => "PIP",
            Benefit::CarersAllowance => "CA",
            Benefit::PensionCredit => "PC",
            Benefit::AttendanceAllowance => "AA",
        }
    }
}

/// One benefit claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The benefit.
    pub benefit: Benefit,
    /// First day.
    pub start: Date,
    /// Last day, `None` while the claim is open.
    pub end: Option<Date>,
}

/// One person of the population: the truth every view is drawn from.
#[derive(Debug, Clone)]
pub struct Person {
    /// Person id (`0..people`), as in `truth.csv`.
    pub id: u64,
    /// The id of the first person of the household.
    pub household: u64,
    /// Sex.
    pub sex: Sex,
    /// Origin of the family's names.
    pub origin: Origin,
    pub(crate) forename: u32,
    pub(crate) nickname: Option<u8>,
    /// Surname.
    pub family_name: Surname,
    /// A woman's other surname (maiden or former), for women aged 18+.
    pub other_family_name: Option<Surname>,
    /// Date of birth.
    pub date_of_birth: Date,
    /// Home postcode.
    pub postcode: PostcodeText,
    /// The household's other postcode (where it lived before or lives now,
    /// in a source that has the other address).
    pub other_postcode: PostcodeText,
    pub(crate) district: u32,
    pub(crate) move_key: u64,
    /// NHS number (always valid, always in the 9xx test range).
    pub nhs_number: NhsNumber,
    /// National Insurance number (valid format and prefix).
    pub nino: Nino,
    /// A twin: another child of the household has the same date of birth.
    pub twin: bool,
    /// Has the forename and surname of an earlier adult of the same
    /// postcode district.
    pub name_collision: bool,
    /// Registered with a GP (has an NHS record).
    pub registered: bool,
    /// A long-term health condition that limits work.
    pub health_condition: bool,
    /// A referral to a health-and-work service, with its date.
    pub referral: Option<(Referral, Date)>,
    /// Work and pay (people aged 16 to 74).
    pub employment: Option<Employment>,
    /// Has an ONS record.
    pub in_ons: bool,
    /// Benefit claims, oldest first.
    pub claims: Vec<Claim>,
}

impl Person {
    /// The forename as written in `case`.
    pub fn given_name(&self, case: NameCase) -> &'static str {
        let f = &tables().forenames[self.forename as usize];
        match case {
            NameCase::Title => f.form.title.as_str(),
            NameCase::Upper => f.form.upper.as_str(),
        }
    }

    pub(crate) fn forename_entry(&self) -> &'static Forename {
        &tables().forenames[self.forename as usize]
    }

    /// The nickname this person uses, when their forename has one.
    pub(crate) fn nickname_entry(&self) -> Option<&'static Nickname> {
        self.nickname
            .map(|i| &self.forename_entry().nicknames[usize::from(i)])
    }

    /// The nickname this person uses (title case), when their forename has
    /// one, and whether the linker's nickname table knows it.
    pub fn nickname(&self) -> Option<(&'static str, bool)> {
        self.nickname_entry()
            .map(|n| (n.form.title.as_str(), n.listed))
    }

    /// The ICB of the home postcode.
    pub fn icb(&self) -> &'static str {
        &tables().districts[self.district as usize].icb
    }
}

/// NHS numbers: person → a unique valid number in the 9xx test range.
///
/// Slot `s` is the `s % 9`-th valid number (in order of the ninth digit) of
/// the eight-digit prefix `90_000_000 + s / 9`: every prefix has at least
/// nine valid ninth digits, since at most one of the ten gives check value
/// 10. A keyed permutation maps person ids to slots, so numbers are unique
/// and look random.
pub(crate) const NHS_SLOTS: u64 = 9 * 9_999_999;

pub(crate) fn nhs_number_of_slot(slot: u64) -> NhsNumber {
    let prefix = 90_000_000 + (slot / 9) as u32;
    let k = (slot % 9) as usize;
    (0..10)
        .filter_map(|d| NhsNumber::from_first_nine(prefix * 10 + d))
        .nth(k)
        .expect("every prefix has nine valid numbers")
}

/// NINO prefixes: first letter not D F I Q U V, second not D F I O Q U V,
/// and not BG GB KN NK NT TN ZZ (HMRC's National Insurance Manual,
/// NIM39110).
pub(crate) fn nino_prefixes() -> &'static [[u8; 2]] {
    static P: std::sync::OnceLock<Vec<[u8; 2]>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let mut v = Vec::new();
        for a in b'A'..=b'Z' {
            if b"DFIQUV".contains(&a) {
                continue;
            }
            for b in b'A'..=b'Z' {
                if b"DFIOQUV".contains(&b) {
                    continue;
                }
                if [*b"BG", *b"GB", *b"KN", *b"NK", *b"NT", *b"TN", *b"ZZ"].contains(&[a, b]) {
                    continue;
                }
                v.push([a, b]);
            }
        }
        v
    })
}

/// Whether `s` is a National Insurance number in the valid format.
pub fn is_valid_nino(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 9
        && nino_prefixes().contains(&[b[0], b[1]])
        && b[2..8].iter().all(u8::is_ascii_digit)
        && b"ABCD".contains(&b[8])
}

/// Shared, read-only state for generating chunks.
pub(crate) struct Context<'a> {
    pub config: &'a Config,
    pub seed: u64,
    pub people: u64,
    pub reference: Date,
    pub reference_days: i64,
    nhs_perm: Permutation,
    nino_perm: Permutation,
    nino_domain: u64,
}

impl<'a> Context<'a> {
    pub(crate) fn new(config: &'a Config, people: u64, seed: u64) -> Context<'a> {
        let reference = config.reference_date();
        let nino_domain = nino_prefixes().len() as u64 * 1_000_000;
        Context {
            config,
            seed,
            people,
            reference,
            reference_days: days(reference),
            nhs_perm: Permutation::new(NHS_SLOTS, crate::rng::derive(seed, "nhs_number")),
            nino_perm: Permutation::new(nino_domain, crate::rng::derive(seed, "nino")),
            nino_domain,
        }
    }

    fn nhs_number(&self, person: u64) -> NhsNumber {
        nhs_number_of_slot(self.nhs_perm.apply(person))
    }

    fn nino(&self, person: u64) -> Nino {
        let slot = self.nino_perm.apply(person % self.nino_domain);
        let p = nino_prefixes()[(slot / 1_000_000) as usize];
        let mut n = slot % 1_000_000;
        let mut b = [0u8; 9];
        b[..2].copy_from_slice(&p);
        for i in (2..8).rev() {
            b[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        b[8] = b"ABCD"[(mix64(person ^ self.seed) % 4) as usize];
        Nino(b)
    }
}

/// Population by age, England mid-2022 (ONS), thousands per five-year band
/// from 0–4 to 95–99.
const AGE_BANDS: [f64; 20] = [
    3200.0, 3450.0, 3550.0, 3300.0, 3500.0, 3700.0, 3900.0, 3800.0, 3600.0, 3500.0, 3900.0, 3900.0,
    3400.0, 2900.0, 2800.0, 2200.0, 1400.0, 850.0, 370.0, 90.0,
];

/// An age in `lo..=hi` drawn from the England age structure.
fn age_between(rng: &mut Rng, lo: u16, hi: u16) -> u16 {
    let mut w = [0.0; 100];
    for (a, slot) in w.iter_mut().enumerate() {
        if (lo as usize..=hi as usize).contains(&a) {
            *slot = AGE_BANDS[a / 5];
        }
    }
    rng.weighted(&w) as u16
}

/// Builds the people `first..first + count` (a chunk).
pub(crate) struct Builder<'c, 'a> {
    ctx: &'c Context<'a>,
    t: &'static Tables,
    rng: Rng,
    /// Last adult name per (district, sex): for deliberate collisions.
    recent: HashMap<(u32, u8), (u32, Surname)>,
}

#[derive(Clone, Copy)]
struct Household {
    id: u64,
    origin: Origin,
    surname: Surname,
    district: u32,
    postcode: PostcodeText,
    other_postcode: PostcodeText,
    move_key: u64,
}

impl<'c, 'a> Builder<'c, 'a> {
    pub(crate) fn new(ctx: &'c Context<'a>, chunk: u64) -> Self {
        Builder {
            ctx,
            t: tables(),
            rng: Rng::new(ctx.seed, "people", chunk),
            recent: HashMap::new(),
        }
    }

    fn surname(&mut self, origin: Origin) -> Surname {
        let p = &self.ctx.config.population;
        let one = |rng: &mut Rng, t: &Tables| {
            if origin == Origin::British && rng.chance(p.rare_surname_share) {
                t.rare_surnames.sample(rng)
            } else {
                t.surname_samplers[origin.index()].sample(rng)
            }
        };
        let first = one(&mut self.rng, self.t);
        let second = (origin == Origin::British && self.rng.chance(p.double_barrelled))
            .then(|| one(&mut self.rng, self.t))
            .filter(|&s| s != first);
        Surname { first, second }
    }

    fn forename(&mut self, sex: Sex, origin: Origin, dob: Date) -> u32 {
        let era = if dob.year < 1965 {
            0
        } else if dob.year < 1995 {
            1
        } else {
            2
        };
        let origin = if origin != Origin::British
            && self.rng.chance(self.ctx.config.population.forename_mixing)
        {
            Origin::British
        } else {
            origin
        };
        let s = match sex {
            Sex::Male => 0,
            Sex::Female => 1,
        };
        self.t.forename_samplers[s][origin.index()][era].sample(&mut self.rng)
    }

    fn postcode(&mut self) -> (u32, PostcodeText) {
        let d = self.t.district_sampler.sample(&mut self.rng);
        (d, self.unit_in(d))
    }

    fn unit_in(&mut self, d: u32) -> PostcodeText {
        let unit = self.rng.below(UNITS_PER_DISTRICT);
        let inw = inward(d, unit);
        let outward = &self.t.districts[d as usize].outward;
        let mut s = String::with_capacity(8);
        s.push_str(outward);
        s.push(' ');
        s.push_str(std::str::from_utf8(&inw).expect("ASCII"));
        PostcodeText::new(&s)
    }

    /// A date of birth for someone `age` years old at the reference date.
    fn dob(&mut self, age: u16) -> Date {
        let r = self.ctx.reference;
        let latest = days(years_before(r, age));
        let earliest = days(years_before(r, age + 1)) + 1;
        from_days(self.rng.range(earliest, latest))
    }

    fn household(&mut self, id: u64) -> Household {
        let origin = Origin::ALL[self.rng.weighted(&Origin::SHARES)];
        let surname = self.surname(origin);
        let (district, postcode) = self.postcode();
        let other_postcode = loop {
            let pc = if self.rng.chance(0.5) {
                self.unit_in(district)
            } else {
                self.postcode().1
            };
            if pc != postcode {
                break pc;
            }
        };
        Household {
            id,
            origin,
            surname,
            district,
            postcode,
            other_postcode,
            move_key: self.rng.u64(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn person(
        &mut self,
        id: u64,
        h: &Household,
        sex: Sex,
        age: u16,
        origin: Origin,
        surname: Surname,
        dob: Option<Date>,
    ) -> Person {
        let date_of_birth = dob.unwrap_or_else(|| self.dob(age));
        let forename = self.forename(sex, origin, date_of_birth);
        let n_nick = self.t.forenames[forename as usize].nicknames.len();
        let nickname = (n_nick > 0).then(|| self.rng.below(n_nick as u64) as u8);
        Person {
            id,
            household: h.id,
            sex,
            origin,
            forename,
            nickname,
            family_name: surname,
            other_family_name: None,
            date_of_birth,
            postcode: h.postcode,
            other_postcode: h.other_postcode,
            district: h.district,
            move_key: h.move_key,
            nhs_number: self.ctx.nhs_number(id),
            nino: self.ctx.nino(id),
            twin: false,
            name_collision: false,
            registered: true,
            health_condition: false,
            referral: None,
            employment: None,
            in_ons: false,
            claims: Vec::new(),
        }
    }

    /// Generates people `first..first + count`, household by household (the
    /// last household is cut at the end of the chunk).
    pub(crate) fn people(&mut self, first: u64, count: u64) -> Vec<Person> {
        let mut out: Vec<Person> = Vec::with_capacity(count as usize);
        let end = first + count;
        while first + (out.len() as u64) < end {
            let start = first + out.len() as u64;
            let members = self.household_members(start);
            for p in members {
                if first + (out.len() as u64) < end {
                    out.push(p);
                }
            }
        }
        for p in &mut out {
            self.life(p);
        }
        out
    }

    fn household_members(&mut self, start: u64) -> Vec<Person> {
        let mut h = self.household(start);
        let mut v: Vec<Person> = Vec::new();
        let mut next = start;
        let mut id = || {
            next += 1;
            next - 1
        };
        let kind = self.rng.weighted(&[0.30, 0.28, 0.22, 0.11, 0.09]);
        match kind {
            // One person.
            0 => {
                let sex = if self.rng.chance(0.5) {
                    Sex::Male
                } else {
                    Sex::Female
                };
                // Half of one-person households are people aged 65 and over.
                let age = if self.rng.chance(0.5) {
                    age_between(&mut self.rng, 65, 99)
                } else {
                    age_between(&mut self.rng, 18, 64)
                };
                let p = self.head(id(), &mut h, sex, age);
                v.push(p);
            }
            // A couple, with or without children.
            1 | 2 => {
                let age = if kind == 2 {
                    age_between(&mut self.rng, 27, 60)
                } else if self.rng.chance(0.6) {
                    // Couples whose children have left home.
                    age_between(&mut self.rng, 50, 90)
                } else {
                    age_between(&mut self.rng, 20, 49)
                };
                let head = self.head(id(), &mut h, Sex::Male, age);
                let page = (i64::from(age) + self.rng.range(-6, 4)).clamp(18, 99) as u16;
                let married = self.rng.chance(0.75);
                let psurname = if married {
                    h.surname
                } else {
                    self.surname(h.origin)
                };
                let mut partner =
                    self.person(id(), &h, Sex::Female, page, h.origin, psurname, None);
                partner.other_family_name = Some(if married {
                    let maiden = self.surname(h.origin);
                    if self.rng.chance(0.1) && maiden.second.is_none() {
                        Surname {
                            first: maiden.first,
                            second: Some(h.surname.first),
                        }
                    } else {
                        maiden
                    }
                } else {
                    self.surname(h.origin)
                });
                let youngest_parent = age.min(page);
                v.push(head);
                v.push(partner);
                if kind == 2 {
                    let n = 1 + self.rng.weighted(&[0.45, 0.38, 0.13, 0.04]);
                    self.children(&mut v, &mut id, &h, n, youngest_parent);
                }
            }
            // A lone parent.
            3 => {
                let sex = if self.rng.chance(0.9) {
                    Sex::Female
                } else {
                    Sex::Male
                };
                let age = age_between(&mut self.rng, 24, 58);
                let p = self.head(id(), &mut h, sex, age);
                v.push(p);
                let n = 1 + self.rng.weighted(&[0.55, 0.33, 0.12]);
                self.children(&mut v, &mut id, &h, n, age);
            }
            // Several adults: three generations, or sharers.
            _ => {
                if self.rng.chance(0.5) {
                    let old = age_between(&mut self.rng, 65, 95);
                    let sex = if self.rng.chance(0.65) {
                        Sex::Female
                    } else {
                        Sex::Male
                    };
                    let p = self.head(id(), &mut h, sex, old);
                    v.push(p);
                    let adult = (i64::from(old) - self.rng.range(22, 38)).max(18) as u16;
                    let sex = if self.rng.chance(0.5) {
                        Sex::Male
                    } else {
                        Sex::Female
                    };
                    let p = self.person(id(), &h, sex, adult, h.origin, h.surname, None);
                    v.push(p);
                } else {
                    let n = 2 + self.rng.weighted(&[0.6, 0.3, 0.1]);
                    for i in 0..n {
                        let sex = if self.rng.chance(0.5) {
                            Sex::Male
                        } else {
                            Sex::Female
                        };
                        let age = age_between(&mut self.rng, 18, 40);
                        if i == 0 {
                            let p = self.head(id(), &mut h, sex, age);
                            v.push(p);
                        } else {
                            let origin = Origin::ALL[self.rng.weighted(&Origin::SHARES)];
                            let s = self.surname(origin);
                            let p = self.person(id(), &h, sex, age, origin, s, None);
                            v.push(p);
                        }
                    }
                }
            }
        }
        for p in &mut v {
            if p.sex == Sex::Female
                && age(p.date_of_birth, self.ctx.reference) >= 18
                && p.other_family_name.is_none()
            {
                let s = self.surname(p.origin);
                p.other_family_name = Some(s);
            }
        }
        v
    }

    /// The first adult of a household; sometimes (a deliberate hard case)
    /// with the names of an earlier adult of the same district.
    fn head(&mut self, id: u64, h: &mut Household, sex: Sex, age: u16) -> Person {
        let key = (h.district, sex as u8);
        let collide = self
            .rng
            .chance(self.ctx.config.population.name_collision_rate);
        let recent = self.recent.get(&key).copied();
        let mut p;
        if let (true, Some((forename, surname))) = (collide, recent) {
            h.surname = surname;
            p = self.person(id, h, sex, age, h.origin, surname, None);
            p.forename = forename;
            let n = self.t.forenames[forename as usize].nicknames.len();
            p.nickname = (n > 0).then(|| self.rng.below(n as u64) as u8);
            p.name_collision = true;
        } else {
            p = self.person(id, h, sex, age, h.origin, h.surname, None);
        }
        self.recent.insert(key, (p.forename, p.family_name));
        p
    }

    fn children(
        &mut self,
        v: &mut Vec<Person>,
        id: &mut impl FnMut() -> u64,
        h: &Household,
        n: usize,
        parent_age: u16,
    ) {
        let oldest = parent_age.saturating_sub(19).min(22);
        let mut prev: Option<(Date, u32)> = None;
        for _ in 0..n {
            let sex = if self.rng.chance(0.512) {
                Sex::Male
            } else {
                Sex::Female
            };
            let twin = prev.is_some() && self.rng.chance(self.ctx.config.population.twin_rate);
            let age = self.rng.below(u64::from(oldest) + 1) as u16;
            let mut c = if twin {
                let (dob, _) = prev.expect("previous child");
                self.person(id(), h, sex, 0, h.origin, h.surname, Some(dob))
            } else {
                self.person(id(), h, sex, age, h.origin, h.surname, None)
            };
            if twin {
                let (_, other) = prev.expect("previous child");
                while c.forename == other {
                    c.forename = self.forename(sex, h.origin, c.date_of_birth);
                    let n = self.t.forenames[c.forename as usize].nicknames.len();
                    c.nickname = (n > 0).then(|| self.rng.below(n as u64) as u8);
                }
                c.twin = true;
                if let Some(last) = v.last_mut() {
                    last.twin = true;
                }
            }
            prev = Some((c.date_of_birth, c.forename));
            v.push(c);
        }
    }

    /// Health, work, referrals and claims.
    fn life(&mut self, p: &mut Person) {
        let cfg = &self.ctx.config.population;
        let a = age(p.date_of_birth, self.ctx.reference);
        let rng = &mut self.rng;
        p.registered = !rng.chance(cfg.not_registered);
        p.health_condition = rng.chance(match a {
            0..=15 => 0.05,
            16..=24 => 0.10,
            25..=49 => 0.15,
            50..=64 => 0.27,
            _ => 0.40,
        });
        let h = p.health_condition;

        // Referral to a health-and-work service in the two years before
        // the reference date.
        let referred = rng.chance(match (a, h) {
            (0..=15, _) => 0.02,
            (_, true) => 0.25,
            (_, false) => 0.03,
        });
        if referred {
            let service = if a < 16 {
                Referral::MentalHealth
            } else {
                let cardiac = if a >= 50 { 0.25 } else { 0.05 };
                [
                    Referral::Physiotherapy,
                    Referral::Musculoskeletal,
                    Referral::MentalHealth,
                    Referral::CardiacRehabilitation,
                ][rng.weighted(&[0.28, 0.27, 0.35, cardiac])]
            };
            let d = from_days(self.ctx.reference_days - rng.range(0, 729));
            p.referral = Some((service, d.max(p.date_of_birth)));
        }

        // Work.
        if (16..=74).contains(&a) {
            let w: [f64; 4] = match (a, h) {
                (16..=21, _) if rng.chance(0.45) => [0.0, 0.0, 0.0, 1.0],
                (16..=59, false) => [0.78, 0.10, 0.035, 0.085],
                (16..=59, true) => [0.45, 0.07, 0.06, 0.42],
                (60..=66, false) => [0.60, 0.12, 0.02, 0.26],
                (60..=66, true) => [0.35, 0.06, 0.03, 0.56],
                _ => [0.10, 0.05, 0.0, 0.85],
            };
            let status = [
                EmploymentStatus::Employed,
                EmploymentStatus::SelfEmployed,
                EmploymentStatus::Unemployed,
                EmploymentStatus::Inactive,
            ][rng.weighted(&w)];
            let (pay_band, industry) = if status.in_work() {
                let mut pw: Vec<f64> = PAY_BANDS.iter().map(|b| b.1).collect();
                if h || a < 22 {
                    // Part-time work and lower pay.
                    pw[0] *= 2.0;
                    pw[1] *= 1.5;
                }
                let iw: Vec<f64> = INDUSTRIES.iter().map(|b| b.1).collect();
                (Some(rng.weighted(&pw) as u8), Some(rng.weighted(&iw) as u8))
            } else {
                (None, None)
            };
            p.employment = Some(Employment {
                status,
                pay_band,
                industry,
            });
            p.in_ons = (a <= 66 || status.in_work()) && rng.chance(cfg.ons_coverage);
        }

        // Benefit claims.
        if a >= 16 {
            let status = p.employment.map(|e| e.status);
            let low_pay = p
                .employment
                .and_then(|e| e.pay_band)
                .is_some_and(|b| b <= 1);
            let base: f64 = if a >= 67 {
                0.22
            } else {
                match status {
                    Some(EmploymentStatus::Unemployed) => 0.80,
                    Some(EmploymentStatus::Inactive) if h => 0.70,
                    Some(EmploymentStatus::Inactive) => 0.20,
                    Some(EmploymentStatus::SelfEmployed) => 0.08,
                    Some(EmploymentStatus::Employed) if low_pay => 0.30,
                    _ => 0.04,
                }
            } + if h && a < 67 { 0.10 } else { 0.0 };
            if rng.chance((base * cfg.claim_scale).min(1.0)) {
                let n = 1 + rng.weighted(&[0.55, 0.27, 0.12, 0.04, 0.02]);
                let earliest16 = days(Date {
                    year: p.date_of_birth.year + 16,
                    month: p.date_of_birth.month,
                    day: p.date_of_birth.day.min(28),
                });
                for _ in 0..n {
                    use Benefit::*;
                    let (choices, w): (&[Benefit], &[f64]) = if a >= 67 {
                        (
                            &[
                                PensionCredit,
                                AttendanceAllowance,
                                CarersAllowance,
                                PersonalIndependencePayment,
                            ],
                            &[0.4, 0.4, 0.1, 0.1],
                        )
                    } else if h {
                        (
                            &[
                                EmploymentAndSupportAllowance,
                                PersonalIndependencePayment,
                                UniversalCredit,
                                CarersAllowance,
                            ],
                            &[0.30, 0.35, 0.30, 0.05],
                        )
                    } else {
                        match status {
                            Some(EmploymentStatus::Unemployed) => (
                                &[UniversalCredit, JobseekersAllowance, CarersAllowance],
                                &[0.60, 0.35, 0.05],
                            ),
                            Some(EmploymentStatus::Inactive) => (
                                &[
                                    UniversalCredit,
                                    CarersAllowance,
                                    JobseekersAllowance,
                                    PersonalIndependencePayment,
                                ],
                                &[0.50, 0.30, 0.10, 0.10],
                            ),
                            _ => (
                                &[
                                    UniversalCredit,
                                    CarersAllowance,
                                    PersonalIndependencePayment,
                                ],
                                &[0.70, 0.15, 0.15],
                            ),
                        }
                    };
                    let benefit = choices[rng.weighted(w)];
                    let from = if benefit == UniversalCredit {
                        days(Date::new(2016, 1, 1).expect("date"))
                    } else {
                        days(Date::new(2010, 1, 1).expect("date"))
                    }
                    .max(earliest16);
                    let to = self.ctx.reference_days - 1;
                    let start = if from < to { rng.range(from, to) } else { to };
                    let end = if rng.chance(0.45) {
                        None
                    } else {
                        let e = start + rng.range(28, 1500);
                        (e < to).then(|| from_days(e))
                    };
                    p.claims.push(Claim {
                        benefit,
                        start: from_days(start),
                        end,
                    });
                }
                p.claims.sort_by_key(|c| c.start);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nhs_slots_are_valid_unique_test_numbers() {
        let mut seen = std::collections::HashSet::new();
        for slot in (0..2000).chain(NHS_SLOTS - 2000..NHS_SLOTS) {
            let n = nhs_number_of_slot(slot);
            assert_eq!(n.issuer(), linkwell::nhs::Issuer::NotIssuedTest);
            assert_eq!(NhsNumber::parse(n.as_str()), Ok(n));
            assert!(seen.insert(n));
        }
    }

    #[test]
    fn nino_prefix_rules() {
        let p = nino_prefixes();
        assert_eq!(p.len(), 20 * 19 - 7);
        assert!(is_valid_nino("AB123456C"));
        for bad in [
            "DA123456A",
            "AD123456A",
            "AO123456A",
            "GB123456A",
            "TN123456A",
            "AB123456E",
            "AB12345C",
            "AB1234567",
        ] {
            assert!(!is_valid_nino(bad), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn ninos_are_valid_and_unique(seed in any::<u64>(), start in 0u64..1_000_000_000) {
            let config = Config::default();
            let ctx = Context::new(&config, 1, seed);
            let mut seen = std::collections::HashSet::new();
            for id in start..start + 200 {
                let n = ctx.nino(id);
                prop_assert!(is_valid_nino(n.as_str()), "{}", n.as_str());
                prop_assert!(seen.insert(n.as_str()[..8].to_string()));
            }
        }

        #[test]
        fn people_postcodes_are_valid(seed in any::<u64>()) {
            let config = Config::default();
            let ctx = Context::new(&config, 300, seed);
            let people = Builder::new(&ctx, 0).people(0, 300);
            prop_assert_eq!(people.len(), 300);
            for (i, p) in people.iter().enumerate() {
                prop_assert_eq!(p.id, i as u64);
                for pc in [p.postcode, p.other_postcode] {
                    let n = linkwell::normalise::postcode::normalise(pc.as_str());
                    prop_assert!(n.is_some(), "{}", pc.as_str());
                    let n = n.unwrap();
                    prop_assert_eq!(n.as_str(), pc.as_str());
                }
                prop_assert!(p.postcode != p.other_postcode);
                prop_assert!(p.date_of_birth <= ctx.reference);
            }
        }
    }
}
