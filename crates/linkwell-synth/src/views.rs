//! The three views of the population, each record drawn from a person
//! through the error model.

use std::borrow::Cow;

use linkwell::normalise::date::Date;

use crate::config::{Config, DateFormat, NameCase, View, ViewConfig};
use crate::dates::DateStyle;
use crate::errors::{dob_digit, nhs_typo, postcode_typo, typo, ErrorKind, ErrorSet};
use crate::population::{
    Benefit, Claim, Employment, Person, PostcodeText, Referral, Sex, INDUSTRIES, PAY_BANDS,
};
use crate::rng::{mix64, Rng};

/// Sex as a record states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SexField {
    /// Male: `1` in NHS, `M` elsewhere.
    Male,
    /// Female: `2` in NHS, `F` elsewhere.
    Female,
    /// Not known: `0` in NHS, `U` elsewhere.
    NotKnown,
    /// Not specified: `9` in NHS, empty elsewhere.
    NotSpecified,
}

impl SexField {
    /// The code written in `view`'s file.
    pub fn code(self, view: View) -> &'static str {
        match (view, self) {
            (View::Nhs, SexField::Male) => "1",
            (View::Nhs, SexField::Female) => "2",
            (View::Nhs, SexField::NotKnown) => "0",
            (View::Nhs, SexField::NotSpecified) => "9",
            (_, SexField::Male) => "M",
            (_, SexField::Female) => "F",
            (_, SexField::NotKnown) => "U",
            (_, SexField::NotSpecified) => "",
        }
    }
}

/// The identifying fields every view has, as written (after errors).
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Forename (empty when missing).
    pub given_name: Cow<'static, str>,
    /// Surname (empty when missing).
    pub family_name: Cow<'static, str>,
    /// Date of birth.
    pub date_of_birth: Option<Date>,
    /// Sex.
    pub sex: SexField,
    /// Postcode, as written (may be invalid after a typo).
    pub postcode: Option<PostcodeText>,
    /// How the record's dates are written.
    pub date_style: DateStyle,
}

/// A record of `nhs_patients.csv`.
#[derive(Debug, Clone)]
pub struct NhsRecord {
    /// Record id (unique in the file, random-looking).
    pub patient_id: u64,
    /// The person (truth).
    pub person_id: u64,
    /// NHS number as written: ten digits, or `None` when missing.
    pub nhs_number: Option<[u8; 10]>,
    /// Identifying fields.
    pub id: Identity,
    /// Integrated care board of the GP practice.
    pub icb: &'static str,
    /// Referral to a health-and-work service.
    pub referral: Option<(Referral, Date)>,
    /// Errors applied (truth).
    pub errors: ErrorSet,
}

/// A record of `ons_employment.csv`.
#[derive(Debug, Clone)]
pub struct OnsRecord {
    /// Record id.
    pub ons_id: u64,
    /// The person (truth).
    pub person_id: u64,
    /// NHS number as written, or `None`.
    pub nhs_number: Option<[u8; 10]>,
    /// Identifying fields.
    pub id: Identity,
    /// Work and pay.
    pub employment: Employment,
    /// Errors applied (truth).
    pub errors: ErrorSet,
}

/// A record of `dwp_claims.csv`.
#[derive(Debug, Clone)]
pub struct DwpRecord {
    /// Record id.
    pub claim_id: u64,
    /// The person (truth).
    pub person_id: u64,
    /// National Insurance number.
    pub nino: crate::population::Nino,
    /// Identifying fields.
    pub id: Identity,
    /// The claim.
    pub claim: Claim,
    /// Errors applied (truth).
    pub errors: ErrorSet,
}

/// Records of one chunk of people.
#[derive(Debug, Default)]
pub(crate) struct ChunkRecords {
    pub nhs: Vec<NhsRecord>,
    pub ons: Vec<OnsRecord>,
    pub dwp: Vec<DwpRecord>,
}

/// The largest number of records of one view that a chunk can hold
/// (people × 5 claims × 2 for duplicates, rounded up to a power of two).
pub(crate) const MAX_RECORDS_PER_CHUNK: u64 = 1 << 17;

fn name_form<'a>(case: NameCase, title: &'a str, upper: &'a str) -> &'a str {
    match case {
        NameCase::Title => title,
        NameCase::Upper => upper,
    }
}

/// Draws one record's identifying fields from a person through `cfg`.
pub(crate) fn identity(
    p: &Person,
    view: View,
    cfg: &ViewConfig,
    config: &Config,
    reference: Date,
    rng: &mut Rng,
    errors: &mut ErrorSet,
) -> Identity {
    let case = cfg.name_case;
    let mut e = ErrorSet::EMPTY;

    // Given name.
    let given: Cow<'static, str> = if rng.chance(cfg.missing_given_name) {
        e.insert(ErrorKind::MissingGivenName);
        Cow::Borrowed("")
    } else {
        let mut g: Cow<'static, str> = Cow::Borrowed(p.given_name(case));
        if let Some(n) = p.nickname_entry() {
            if rng.chance(cfg.nickname) {
                g = Cow::Borrowed(name_form(case, &n.form.title, &n.form.upper));
                e.insert(if n.listed {
                    ErrorKind::Nickname
                } else {
                    ErrorKind::NicknameUnlisted
                });
            }
        }
        if rng.chance(cfg.typo_given_name) {
            if let Some(t) = typo(&g, &config.typo, rng) {
                g = Cow::Owned(t);
                e.insert(ErrorKind::TypoGivenName);
            }
        }
        g
    };

    // Family name.
    let family: Cow<'static, str> = if rng.chance(cfg.missing_family_name) {
        e.insert(ErrorKind::MissingFamilyName);
        Cow::Borrowed("")
    } else {
        let mut f = p.family_name.text(case);
        if let Some(other) = p.other_family_name {
            if rng.chance(cfg.surname_change) {
                f = other.text(case);
                e.insert(ErrorKind::SurnameChange);
            }
        }
        if rng.chance(cfg.typo_family_name) {
            if let Some(t) = typo(&f, &config.typo, rng) {
                f = Cow::Owned(t);
                e.insert(ErrorKind::TypoFamilyName);
            }
        }
        f
    };

    let (given, family) = if !given.is_empty()
        && !family.is_empty()
        && given != family
        && rng.chance(cfg.names_swapped)
    {
        e.insert(ErrorKind::NamesSwapped);
        (family, given)
    } else {
        (given, family)
    };

    // Date of birth: at most one error.
    let dob = if rng.chance(cfg.missing_date_of_birth) {
        e.insert(ErrorKind::MissingDateOfBirth);
        None
    } else {
        let d = p.date_of_birth;
        let swapped = d.day_month_swapped().filter(|s| *s != d && *s <= reference);
        if let (true, Some(s)) = (rng.chance(cfg.dob_day_month_swap), swapped) {
            e.insert(ErrorKind::DobDayMonthSwap);
            Some(s)
        } else if rng.chance(cfg.dob_digit) {
            e.insert(ErrorKind::DobDigit);
            Some(dob_digit(d, reference, rng))
        } else if (d.month, d.day) != (1, 1) && rng.chance(cfg.dob_default) {
            e.insert(ErrorKind::DobDefault);
            Some(Date::new(d.year, 1, 1).expect("1 January"))
        } else {
            Some(d)
        }
    };

    let sex = if rng.chance(cfg.missing_sex) {
        e.insert(ErrorKind::MissingSex);
        if rng.chance(0.5) {
            SexField::NotKnown
        } else {
            SexField::NotSpecified
        }
    } else {
        let s = if rng.chance(cfg.sex_mismatch) {
            e.insert(ErrorKind::SexMismatch);
            p.sex.opposite()
        } else {
            p.sex
        };
        match s {
            Sex::Male => SexField::Male,
            Sex::Female => SexField::Female,
        }
    };

    let postcode = if rng.chance(cfg.missing_postcode) {
        e.insert(ErrorKind::MissingPostcode);
        None
    } else {
        // Moves are decided per household, so a family moves together.
        let u = (mix64(p.move_key ^ view as u64) >> 11) as f64 / (1u64 << 53) as f64;
        let mut pc = if u < cfg.moved {
            e.insert(ErrorKind::Moved);
            p.other_postcode
        } else {
            p.postcode
        };
        if rng.chance(cfg.typo_postcode) {
            pc = PostcodeText::new(&postcode_typo(pc.as_str(), rng));
            e.insert(ErrorKind::TypoPostcode);
        }
        Some(pc)
    };

    let date_style = match cfg.date_format {
        DateFormat::Iso => DateStyle::Iso,
        DateFormat::DayMonthYear => DateStyle::DayMonthYear,
        DateFormat::Compact => DateStyle::Compact,
        DateFormat::Mixed => [DateStyle::Iso, DateStyle::DayMonthYear, DateStyle::Compact]
            [rng.weighted(&[0.60, 0.25, 0.15])],
    };
    for k in e.iter() {
        errors.insert(k);
    }
    Identity {
        given_name: given,
        family_name: family,
        date_of_birth: dob,
        sex,
        postcode,
        date_style,
    }
}

fn nhs_number(p: &Person, cfg: &ViewConfig, rng: &mut Rng, e: &mut ErrorSet) -> Option<[u8; 10]> {
    if rng.chance(cfg.missing_nhs_number) {
        e.insert(ErrorKind::MissingNhsNumber);
        None
    } else if rng.chance(cfg.nhs_number_typo) {
        let (d, valid) = nhs_typo(&p.nhs_number, rng);
        e.insert(if valid {
            ErrorKind::NhsNumberTypoValid
        } else {
            ErrorKind::NhsNumberTypoInvalid
        });
        Some(d)
    } else {
        Some(*p.nhs_number.as_bytes())
    }
}

/// All records of a chunk's people, shuffled within each view, with ids
/// assigned from the keyed permutations.
pub(crate) fn records(
    people: &[Person],
    config: &Config,
    reference: Date,
    rng: &mut Rng,
) -> ChunkRecords {
    let mut out = ChunkRecords::default();
    for p in people {
        if p.registered {
            let cfg = &config.nhs;
            let copies = 1 + usize::from(rng.chance(cfg.duplicate));
            for copy in 0..copies {
                let mut e = ErrorSet::EMPTY;
                if copy > 0 {
                    e.insert(ErrorKind::Duplicate);
                }
                let id = identity(p, View::Nhs, cfg, config, reference, rng, &mut e);
                let nhs = nhs_number(p, cfg, rng, &mut e);
                out.nhs.push(NhsRecord {
                    patient_id: 0,
                    person_id: p.id,
                    nhs_number: nhs,
                    id,
                    icb: p.icb(),
                    referral: p.referral,
                    errors: e,
                });
            }
        }
        if p.in_ons {
            let cfg = &config.ons;
            let employment = p.employment.expect("ONS people have employment");
            let copies = 1 + usize::from(rng.chance(cfg.duplicate));
            for copy in 0..copies {
                let mut e = ErrorSet::EMPTY;
                if copy > 0 {
                    e.insert(ErrorKind::Duplicate);
                }
                let id = identity(p, View::Ons, cfg, config, reference, rng, &mut e);
                let nhs = nhs_number(p, cfg, rng, &mut e);
                out.ons.push(OnsRecord {
                    ons_id: 0,
                    person_id: p.id,
                    nhs_number: nhs,
                    id,
                    employment,
                    errors: e,
                });
            }
        }
        for claim in &p.claims {
            let cfg = &config.dwp;
            let copies = 1 + usize::from(rng.chance(cfg.duplicate));
            for copy in 0..copies {
                let mut e = ErrorSet::EMPTY;
                if copy > 0 {
                    e.insert(ErrorKind::Duplicate);
                }
                let id = identity(p, View::Dwp, cfg, config, reference, rng, &mut e);
                out.dwp.push(DwpRecord {
                    claim_id: 0,
                    person_id: p.id,
                    nino: p.nino,
                    id,
                    claim: *claim,
                    errors: e,
                });
            }
        }
    }
    rng.shuffle(&mut out.nhs);
    rng.shuffle(&mut out.ons);
    rng.shuffle(&mut out.dwp);
    out
}

/// Labels of a record's payload, for writing.
pub(crate) fn pay_band_label(e: &Employment) -> &'static str {
    e.pay_band.map_or("", |b| PAY_BANDS[usize::from(b)].0)
}

pub(crate) fn industry_label(e: &Employment) -> &'static str {
    e.industry.map_or("", |i| INDUSTRIES[usize::from(i)].0)
}

pub(crate) fn benefit_code(b: Benefit) -> &'static str {
    b.code()
}
