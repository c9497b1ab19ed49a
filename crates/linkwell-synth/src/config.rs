//! Configuration: every rate has a documented default and can be changed
//! in a `synth.toml`.
//!
//! ```toml
//! [population]
//! reference_date = "2025-03-31"
//!
//! [ons]
//! nickname = 0.10
//! missing_nhs_number = 0.15
//! date_format = "dd/mm/yyyy"
//!
//! [dwp]
//! name_case = "upper"
//! ```
//!
//! Rates are probabilities per record of the view (for a kind that needs
//! something to work on, per record where it can apply: `nickname` per
//! record whose forename has a nickname, `surname_change` per record of a
//! woman aged 18 or over, `dob_day_month_swap` per record whose day is 12
//! or less and differs from the month, `dob_default` per record not already
//! on 1 January). The crate README explains how each default was chosen.

use std::path::Path;

use linkwell::normalise::date::Date;
use serde::{Deserialize, Serialize};

/// Which view (source file) a setting or record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum View {
    /// NHS England patient registrations (`nhs_patients.csv`).
    Nhs,
    /// ONS pay and employment records (`ons_employment.csv`).
    Ons,
    /// DWP benefit claims (`dwp_claims.csv`).
    Dwp,
}

impl View {
    /// All views, in file order.
    pub const ALL: [View; 3] = [View::Nhs, View::Ons, View::Dwp];

    /// The short name used in the config's sections (`nhs`, `ons`, `dwp`).
    pub fn name(self) -> &'static str {
        match self {
            View::Nhs => "nhs",
            View::Ons => "ons",
            View::Dwp => "dwp",
        }
    }

    /// The dataset name in `truth.csv`: the file's stem
    /// (`nhs_patients`, `ons_employment`, `dwp_claims`), so that truth rows
    /// name the file they describe.
    pub fn dataset(self) -> &'static str {
        match self {
            View::Nhs => "nhs_patients",
            View::Ons => "ons_employment",
            View::Dwp => "dwp_claims",
        }
    }

    /// The file the view is written to.
    pub fn file_name(self) -> &'static str {
        match self {
            View::Nhs => "nhs_patients.csv",
            View::Ons => "ons_employment.csv",
            View::Dwp => "dwp_claims.csv",
        }
    }

    /// The record id column of the view's file.
    pub fn id_column(self) -> &'static str {
        match self {
            View::Nhs => "patient_id",
            View::Ons => "ons_id",
            View::Dwp => "claim_id",
        }
    }
}

/// How dates are written in a view's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateFormat {
    /// `YYYY-MM-DD` (the default everywhere).
    #[serde(rename = "iso")]
    Iso,
    /// `DD/MM/YYYY`.
    #[serde(rename = "dd/mm/yyyy")]
    DayMonthYear,
    /// `YYYYMMDD`.
    #[serde(rename = "yyyymmdd")]
    Compact,
    /// Each record picks one: 60% ISO, 25% `DD/MM/YYYY`, 15% `YYYYMMDD`,
    /// as in an extract merged from several systems.
    #[serde(rename = "mixed")]
    Mixed,
}

impl DateFormat {
    /// The name used in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            DateFormat::Iso => "iso",
            DateFormat::DayMonthYear => "dd/mm/yyyy",
            DateFormat::Compact => "yyyymmdd",
            DateFormat::Mixed => "mixed",
        }
    }
}

/// How names are written in a view's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameCase {
    /// As people write them: `McDonald`, `O'Brien`.
    Title,
    /// All capitals, as many older benefit and payroll systems store them.
    Upper,
}

impl NameCase {
    /// The name used in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            NameCase::Title => "title",
            NameCase::Upper => "upper",
        }
    }
}

macro_rules! view_config {
    ($( $(#[doc = $doc:literal])+ $name:ident : $nhs:expr, $ons:expr, $dwp:expr ; )*) => {
        /// Error rates and formats of one view. Every rate is a probability
        /// in `[0, 1]`.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct ViewConfig {
            $( $(#[doc = $doc])+ pub $name: f64, )*
            /// How dates are written (default `iso`).
            pub date_format: DateFormat,
            /// How names are written (default `title`; `upper` for DWP).
            pub name_case: NameCase,
        }

        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ViewSpec {
            $( #[serde(default)] $name: Option<f64>, )*
            #[serde(default)]
            date_format: Option<DateFormat>,
            #[serde(default)]
            name_case: Option<NameCase>,
        }

        impl ViewConfig {
            /// The documented defaults of a view.
            pub fn defaults(view: View) -> ViewConfig {
                match view {
                    View::Nhs => ViewConfig { $( $name: $nhs, )* date_format: DateFormat::Iso, name_case: NameCase::Title },
                    View::Ons => ViewConfig { $( $name: $ons, )* date_format: DateFormat::Iso, name_case: NameCase::Title },
                    View::Dwp => ViewConfig { $( $name: $dwp, )* date_format: DateFormat::Iso, name_case: NameCase::Upper },
                }
            }

            fn apply(&mut self, spec: ViewSpec) {
                $( if let Some(v) = spec.$name { self.$name = v; } )*
                if let Some(v) = spec.date_format { self.date_format = v; }
                if let Some(v) = spec.name_case { self.name_case = v; }
            }

            /// Every rate as `(key, value)`, in a fixed order.
            pub fn rates(&self) -> Vec<(&'static str, f64)> {
                vec![ $( (stringify!($name), self.$name), )* ]
            }

            /// Every rate's key and one-line description, in the order of
            /// [`ViewConfig::rates`].
            pub const RATE_DOCS: &'static [(&'static str, &'static str)] = &[
                $( (stringify!($name), concat!($($doc),+)), )*
            ];
        }
    };
}

view_config! {
    /// A keyboard typo (adjacent-key substitution, insertion, deletion or transposition) in the forename.
    typo_given_name: 0.005, 0.015, 0.02;
    /// A keyboard typo in the surname.
    typo_family_name: 0.005, 0.015, 0.02;
    /// A typo in the postcode (adjacent key, swapped characters, O/0 and I/1 confusions); the result is often not a valid postcode.
    typo_postcode: 0.002, 0.004, 0.004;
    /// The forename is replaced by the person's nickname (of records whose forename has one).
    nickname: 0.01, 0.08, 0.06;
    /// The surname is the woman's other surname (maiden or former name) instead of the one the NHS holds (of records of women aged 18 and over).
    surname_change: 0.0, 0.07, 0.06;
    /// Forename and surname written in each other's column.
    names_swapped: 0.002, 0.005, 0.005;
    /// Day and month of birth exchanged (of records where that gives another valid date).
    dob_day_month_swap: 0.002, 0.006, 0.008;
    /// One digit of the date of birth wrong (still a valid date).
    dob_digit: 0.003, 0.008, 0.01;
    /// Date of birth recorded as 1 January of the birth year, the usual default when only the year is known.
    dob_default: 0.001, 0.003, 0.003;
    /// The opposite sex recorded.
    sex_mismatch: 0.001, 0.002, 0.002;
    /// The record has the household's other address: it moved and this source has the other postcode (decided per household).
    moved: 0.04, 0.10, 0.08;
    /// Forename empty.
    missing_given_name: 0.002, 0.01, 0.005;
    /// Surname empty.
    missing_family_name: 0.001, 0.005, 0.003;
    /// Date of birth empty.
    missing_date_of_birth: 0.001, 0.01, 0.003;
    /// Sex not known or not specified.
    missing_sex: 0.005, 0.01, 0.01;
    /// Postcode empty.
    missing_postcode: 0.005, 0.02, 0.01;
    /// NHS number empty (NHS and ONS only).
    missing_nhs_number: 0.002, 0.12, 0.0;
    /// NHS number mistyped (NHS and ONS only): one digit (60%), two adjacent digits exchanged (25%) or two digits (15%); most fail the check digit, a few land on another valid number.
    nhs_number_typo: 0.001, 0.008, 0.0;
    /// An extra record of the same person (for DWP, of the same claim) with its own errors.
    duplicate: 0.01, 0.005, 0.01;
}

/// Settings of the population itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PopulationConfig {
    /// The date at which ages are measured and after which nothing
    /// happens (ISO `YYYY-MM-DD`). Fixed, never today, so that output does
    /// not change with the clock.
    pub reference_date: String,
    /// Share of people with no GP registration (no NHS record): recent
    /// arrivals, armed forces, people who never registered.
    pub not_registered: f64,
    /// Share of people aged 16–66 (and of people aged 67–74 in work) with
    /// an ONS pay and employment record.
    pub ons_coverage: f64,
    /// Probability that a later-born child in a family is the twin of the
    /// previous one (same date of birth, surname and postcode).
    pub twin_rate: f64,
    /// Probability that a household's first adult has the same forename
    /// and surname as an earlier adult in the same postcode district.
    pub name_collision_rate: f64,
    /// Share of British-origin families whose surname comes from the
    /// generated long tail of rarer surnames.
    pub rare_surname_share: f64,
    /// Share of British-origin families with a double-barrelled surname.
    pub double_barrelled: f64,
    /// Probability that a person of non-British origin has a forename from
    /// the British list.
    pub forename_mixing: f64,
    /// Multiplies every probability of claiming a benefit.
    pub claim_scale: f64,
}

impl Default for PopulationConfig {
    fn default() -> Self {
        PopulationConfig {
            reference_date: "2025-03-31".into(),
            not_registered: 0.01,
            ons_coverage: 0.92,
            twin_rate: 0.035,
            name_collision_rate: 0.003,
            rare_surname_share: 0.65,
            double_barrelled: 0.01,
            forename_mixing: 0.15,
            claim_scale: 1.0,
        }
    }
}

/// How a typo is made: relative weights of the four kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TypoWeights {
    /// A letter replaced by a key next to it on a QWERTY keyboard.
    pub substitution: f64,
    /// A letter added (a doubled letter or a neighbouring key).
    pub insertion: f64,
    /// A letter dropped.
    pub deletion: f64,
    /// Two neighbouring letters exchanged.
    pub transposition: f64,
}

impl Default for TypoWeights {
    fn default() -> Self {
        TypoWeights {
            substitution: 0.4,
            insertion: 0.2,
            deletion: 0.2,
            transposition: 0.2,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// The population.
    pub population: PopulationConfig,
    /// Kinds of typo.
    pub typo: TypoWeights,
    /// The NHS view.
    pub nhs: ViewConfig,
    /// The ONS view.
    pub ons: ViewConfig,
    /// The DWP view.
    pub dwp: ViewConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            population: PopulationConfig::default(),
            typo: TypoWeights::default(),
            nhs: ViewConfig::defaults(View::Nhs),
            ons: ViewConfig::defaults(View::Ons),
            dwp: ViewConfig::defaults(View::Dwp),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigSpec {
    #[serde(default)]
    population: PopulationConfig,
    #[serde(default)]
    typo: TypoWeights,
    #[serde(default)]
    nhs: ViewSpec,
    #[serde(default)]
    ons: ViewSpec,
    #[serde(default)]
    dwp: ViewSpec,
}

/// A configuration that cannot be used. Each message is one sentence that
/// names the file (when there is one) and the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why (shown in the message, so not a `source`).
        error: std::io::Error,
    },
    /// Not valid TOML, or a key that does not exist or has the wrong type.
    #[error("config {origin}line {line}{table}: {message}")]
    Parse {
        /// `synth.toml, ` or empty.
        origin: String,
        /// 1-based line.
        line: usize,
        /// ` (in [ons])` or empty.
        table: String,
        /// The parser's message.
        message: String,
    },
    /// A value out of range.
    #[error("config {origin}key `{key}` {message}")]
    Invalid {
        /// `synth.toml: ` or empty.
        origin: String,
        /// `ons.typo_given_name`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    fn with_path(self, path: &Path) -> ConfigError {
        let p = path.display().to_string();
        match self {
            ConfigError::Parse {
                line,
                table,
                message,
                ..
            } => ConfigError::Parse {
                origin: format!("{p}, "),
                line,
                table,
                message,
            },
            ConfigError::Invalid { key, message, .. } => ConfigError::Invalid {
                origin: format!("{p}: "),
                key,
                message,
            },
            e => e,
        }
    }
}

impl Config {
    /// Parses a TOML configuration; keys left out keep their defaults.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] for bad TOML or an unknown key,
    /// [`ConfigError::Invalid`] for a value out of range.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let spec: ConfigSpec = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start).min(text.len());
            let before = &text[..at];
            let line = before.matches('\n').count() + 1;
            let table = before
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| l.starts_with('['))
                .map(|l| format!(" (in {l})"))
                .unwrap_or_default();
            ConfigError::Parse {
                origin: String::new(),
                line,
                table,
                message: e.message().trim_end_matches('\n').replace('\n', " "),
            }
        })?;
        let mut config = Config {
            population: spec.population,
            typo: spec.typo,
            ..Config::default()
        };
        config.nhs.apply(spec.nhs);
        config.ons.apply(spec.ons);
        config.dwp.apply(spec.dwp);
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML file.
    ///
    /// # Errors
    /// As [`Config::from_toml`], with the file named in the message, and
    /// [`ConfigError::Read`] when it cannot be read.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.display().to_string(),
            error,
        })?;
        Config::from_toml(&text).map_err(|e| e.with_path(path))
    }

    /// The configuration as TOML, every key present (a starting point for
    /// a `synth.toml`).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }

    /// The views' configurations.
    pub fn view(&self, view: View) -> &ViewConfig {
        match view {
            View::Nhs => &self.nhs,
            View::Ons => &self.ons,
            View::Dwp => &self.dwp,
        }
    }

    /// The reference date, parsed.
    pub fn reference_date(&self) -> Date {
        Date::parse_iso(&self.population.reference_date).expect("validated")
    }

    /// Checks every value.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            origin: String::new(),
            key,
            message,
        };
        let prob = |key: String, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(invalid(
                    key,
                    format!("must be a probability from 0 to 1, not {v}"),
                ))
            }
        };
        let p = &self.population;
        match Date::parse_iso(&p.reference_date) {
            Some(d) if (1950..=2200).contains(&d.year) => {}
            _ => {
                return Err(invalid(
                    "population.reference_date".into(),
                    format!(
                        "must be a date YYYY-MM-DD between 1950 and 2200, not {:?}",
                        p.reference_date
                    ),
                ))
            }
        }
        for (k, v) in [
            ("not_registered", p.not_registered),
            ("ons_coverage", p.ons_coverage),
            ("twin_rate", p.twin_rate),
            ("name_collision_rate", p.name_collision_rate),
            ("rare_surname_share", p.rare_surname_share),
            ("double_barrelled", p.double_barrelled),
            ("forename_mixing", p.forename_mixing),
        ] {
            prob(format!("population.{k}"), v)?;
        }
        if !(0.0..=10.0).contains(&p.claim_scale) {
            return Err(invalid(
                "population.claim_scale".into(),
                format!("must be from 0 to 10, not {}", p.claim_scale),
            ));
        }
        let t = &self.typo;
        let weights = [
            ("substitution", t.substitution),
            ("insertion", t.insertion),
            ("deletion", t.deletion),
            ("transposition", t.transposition),
        ];
        for (k, v) in weights {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(
                    format!("typo.{k}"),
                    format!("must be a weight of 0 or more, not {v}"),
                ));
            }
        }
        if weights.iter().map(|w| w.1).sum::<f64>() <= 0.0 {
            return Err(invalid(
                "typo".into(),
                "needs at least one weight above 0".into(),
            ));
        }
        for view in View::ALL {
            let c = self.view(view);
            for (k, v) in c.rates() {
                prob(format!("{}.{k}", view.name()), v)?;
            }
        }
        for k in ["missing_nhs_number", "nhs_number_typo"] {
            let v = self
                .dwp
                .rates()
                .into_iter()
                .find(|r| r.0 == k)
                .map_or(0.0, |r| r.1);
            if v != 0.0 {
                return Err(invalid(
                    format!("dwp.{k}"),
                    "must be 0: DWP claims carry no NHS number".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        let c = Config::default();
        c.validate().unwrap();
        let text = c.to_toml();
        assert_eq!(Config::from_toml(&text).unwrap(), c);
        assert_eq!(Config::from_toml("").unwrap(), c);
    }

    #[test]
    fn partial_view_keeps_that_views_defaults() {
        let c =
            Config::from_toml("[ons]\nnickname = 0.2\n[dwp]\ndate_format = \"mixed\"\n").unwrap();
        assert_eq!(c.ons.nickname, 0.2);
        assert_eq!(c.ons.missing_nhs_number, 0.12);
        assert_eq!(c.dwp.date_format, DateFormat::Mixed);
        assert_eq!(c.dwp.name_case, NameCase::Upper);
        assert_eq!(c.nhs, ViewConfig::defaults(View::Nhs));
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let e =
            Config::from_toml("[population]\ntwin_rate = 0.01\n\n[ons]\ntypo_givn_name = 0.1\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("line 5"), "{e}");
        assert!(e.contains("[ons]"), "{e}");
        assert!(e.contains("typo_givn_name"), "{e}");
        assert!(!e.contains('\n'), "{e}");

        let e = Config::from_toml("[ons]\nnickname = 1.5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`ons.nickname`") && e.contains("1.5"), "{e}");

        let e = Config::from_toml("[dwp]\nmissing_nhs_number = 0.1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("dwp.missing_nhs_number"), "{e}");

        let e = Config::from_toml("[population]\nreference_date = \"31/03/2025\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("population.reference_date"), "{e}");

        let e = Config::from_toml("[nhs]\ndate_format = \"american\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("[nhs]"), "{e}");

        let e = Config::from_file(Path::new("/nonexistent/synth.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/synth.toml"), "{e}");
    }

    #[test]
    fn every_rate_is_documented() {
        let c = ViewConfig::defaults(View::Nhs);
        assert_eq!(c.rates().len(), ViewConfig::RATE_DOCS.len());
        for ((k, _), (dk, doc)) in c.rates().iter().zip(ViewConfig::RATE_DOCS) {
            assert_eq!(k, dk);
            assert!(doc.len() > 10);
        }
    }
}
