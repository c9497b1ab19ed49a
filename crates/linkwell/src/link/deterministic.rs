//! Deterministic linkage: an ordered cascade of match keys.
//!
//! Each rule is a match key: a list of encoded columns that must all be
//! present and equal. Rules run in order over the records not yet linked.
//! A key value shared by more than one record on a side that must be unique
//! is *ambiguous*: nothing is linked on it by that rule, and the records are
//! reported so they can go to probabilistic linkage or clerical review.
//!
//! The join is the parallel sort-merge of [`super::keys`] over interned token
//! ids; a hash collision can never link.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::Dataset;
#[cfg(test)]
use super::data::NONE;
use super::keys::{self, KeyColumns};
use super::{check_comparable, Cardinality, KeyPart, LinkError};
use crate::manifest::Manifest;

/// One rule of a cascade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Name, written in the link table's `rule` column.
    pub name: String,
    /// The columns that must all be present and equal.
    pub keys: Vec<KeyPart>,
    /// Why this key is in the cascade (documentation; copied to the links
    /// manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A rules file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// Cardinality, unless given on the command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cardinality: Option<Cardinality>,
    /// Largest key group (left records × right records) linked pairwise
    /// under many-to-many; larger groups are reported as ambiguous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_group: Option<u64>,
    /// The cascade, in order.
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

impl RulesFile {
    /// Parses a TOML rules file.
    ///
    /// # Errors
    /// [`LinkError::Config`] naming the line and problem.
    pub fn from_toml(path: &Path, text: &str) -> Result<RulesFile, LinkError> {
        let r: RulesFile = toml::from_str(text).map_err(|e| LinkError::Config {
            path: path.to_path_buf(),
            message: crate::schema::toml_error(text, &e),
        })?;
        let config = |message: String| LinkError::Config {
            path: path.to_path_buf(),
            message,
        };
        if r.rules.is_empty() {
            return Err(config(
                "no [[rule]] entries: a cascade needs at least one rule".into(),
            ));
        }
        let mut names = HashSet::new();
        for rule in &r.rules {
            if rule.keys.is_empty() {
                return Err(config(format!("rule {:?} has no keys", rule.name)));
            }
            if rule.keys.len() > MAX_KEY_PARTS {
                return Err(config(format!(
                    "rule {:?} has {} keys; at most {MAX_KEY_PARTS} are supported",
                    rule.name,
                    rule.keys.len()
                )));
            }
            if !names.insert(rule.name.as_str()) {
                return Err(config(format!("rule name {:?} is used twice", rule.name)));
            }
            if rule.name.is_empty() || rule.name.contains([',', '"', '\n', '\r']) {
                return Err(config(format!(
                    "rule name {:?} must be non-empty and free of commas, quotes and line breaks",
                    rule.name
                )));
            }
        }
        Ok(r)
    }
}

/// Most columns in one key.
pub const MAX_KEY_PARTS: usize = 8;

fn same(c: &str) -> KeyPart {
    KeyPart::Same(c.to_string())
}

/// The built-in cascade for the NHS / ONS / DWP schema, in order, with the
/// reason for each key. Rules whose columns either file lacks are left out
/// (DWP claims have no NHS number, so NHS↔DWP starts at `exact`).
pub fn default_rules(left: &Manifest, right: &Manifest) -> Vec<Rule> {
    let swapped_dob = KeyPart::Pair {
        left: "date_of_birth_day_month_swapped".into(),
        right: "date_of_birth_token".into(),
    };
    let all = vec![
        Rule {
            name: "nhs_number_dob".into(),
            keys: vec![same("nhs_number_token"), same("date_of_birth_token")],
            reason: Some("The NHS number is the designed unique identifier; agreement on date of birth as well guards against the few typos that land on another valid number.".into()),
        },
        Rule {
            name: "nhs_number_surname".into(),
            keys: vec![same("nhs_number_token"), same("family_name_token")],
            reason: Some("NHS number and surname agree but the date of birth does not (a keying error in the date).".into()),
        },
        Rule {
            name: "nhs_number_forename".into(),
            keys: vec![same("nhs_number_token"), same("given_name_canonical")],
            reason: Some("NHS number and forename (nicknames folded) agree; the surname changed (marriage) and the date of birth has an error.".into()),
        },
        Rule {
            name: "exact".into(),
            keys: vec![
                same("given_name_token"),
                same("family_name_token"),
                same("date_of_birth_token"),
                same("postcode_token"),
            ],
            reason: Some("Forename, surname, date of birth and postcode all agree: the ONS-style primary demographic match key; near-unique except for duplicate records.".into()),
        },
        Rule {
            name: "moved".into(),
            keys: vec![
                same("given_name_token"),
                same("family_name_token"),
                same("date_of_birth_token"),
                same("postcode_district"),
            ],
            reason: Some("A move within the postcode district between the two extracts.".into()),
        },
        Rule {
            name: "nickname".into(),
            keys: vec![
                same("given_name_canonical"),
                same("family_name_token"),
                same("date_of_birth_token"),
                same("sex_token"),
                same("postcode_sector"),
            ],
            reason: Some("A nickname or variant forename (Bill for William), otherwise agreeing; sex must agree too, since a few nicknames (Alex, Sam) are shared by men's and women's names.".into()),
        },
        Rule {
            name: "dob_day_month_swapped".into(),
            keys: vec![
                same("given_name_token"),
                same("family_name_token"),
                swapped_dob,
                same("postcode_sector"),
            ],
            reason: Some("Day and month of birth transposed in one source (US-style entry).".into()),
        },
        Rule {
            name: "surname_change".into(),
            keys: vec![
                same("given_name_token"),
                same("date_of_birth_token"),
                same("sex_token"),
                same("postcode_token"),
            ],
            reason: Some("Same forename, date of birth, sex and full postcode, different surname: a change of surname (marriage) at the same address.".into()),
        },
        Rule {
            name: "names_swapped".into(),
            keys: vec![
                KeyPart::Pair {
                    left: "given_name_token".into(),
                    right: "family_name_token".into(),
                },
                KeyPart::Pair {
                    left: "family_name_token".into(),
                    right: "given_name_token".into(),
                },
                same("date_of_birth_token"),
                same("postcode_sector"),
            ],
            reason: Some("Forename and surname entered in each other's fields (names share the `name` domain, so their tokens compare across fields).".into()),
        },
        Rule {
            name: "moved_far".into(),
            keys: vec![
                same("given_name_token"),
                same("family_name_token"),
                same("date_of_birth_token"),
                same("sex_token"),
            ],
            reason: Some("Full name, date of birth and sex agree after a move out of the district; last, because without any address agreement common names on common birthdays collide (and are then reported as ambiguous, not forced).".into()),
        },
    ];
    let has = |m: &Manifest, c: &str| {
        m.columns
            .iter()
            .any(|x| x.name == c && x.role == "encoding")
    };
    all.into_iter()
        .filter(|r| {
            r.keys
                .iter()
                .all(|k| has(left, k.left()) && has(right, k.right()))
        })
        .collect()
}

/// Which side of the linkage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The left file.
    Left,
    /// The right file.
    Right,
}

impl Side {
    /// `left` or `right`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

/// One link: record indices into the two files and the rule that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Link {
    /// Left record index.
    pub left: u32,
    /// Right record index.
    pub right: u32,
    /// Index of the rule in the cascade.
    pub rule: u16,
}

/// A record left unlinked by a rule because its key was shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ambiguous {
    /// Rule index.
    pub rule: u16,
    /// Ambiguous group within the rule (records with the same key value).
    pub group: u32,
    /// Which file.
    pub side: Side,
    /// Record index.
    pub record: u32,
}

/// Counts for one rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStats {
    /// Rule name.
    pub name: String,
    /// Links made by this rule.
    pub links: u64,
    /// Left records that took part (not yet linked, every key present).
    pub eligible_left: u64,
    /// Right records that took part.
    pub eligible_right: u64,
    /// Left records left unlinked because their key was shared.
    pub ambiguous_left: u64,
    /// Right records left unlinked because their key was shared.
    pub ambiguous_right: u64,
}

/// What one piece of a rule's groups decided.
#[derive(Default)]
struct Decided {
    links: Vec<Link>,
    ambiguous: Vec<Ambiguous>,
    /// Ambiguous groups, numbered from 0 within the piece.
    groups: u32,
    ambiguous_left: u64,
    ambiguous_right: u64,
}

/// The result of a deterministic cascade.
#[derive(Debug, Clone, Default)]
pub struct DeterministicLinks {
    /// Links, sorted by left then right record.
    pub links: Vec<Link>,
    /// Per-rule counts, in cascade order.
    pub rules: Vec<RuleStats>,
    /// Every ambiguous record, by rule.
    pub ambiguous: Vec<Ambiguous>,
    /// Left records with no link.
    pub unlinked_left: u64,
    /// Right records with no link.
    pub unlinked_right: u64,
}

/// Checks that every rule's columns exist and compare across the files.
///
/// # Errors
/// [`LinkError::MissingColumn`] or [`LinkError::Incomparable`].
pub fn check_rules(
    rules: &[Rule],
    left_path: &Path,
    left: &Manifest,
    right_path: &Path,
    right: &Manifest,
) -> Result<(), LinkError> {
    for r in rules {
        for k in &r.keys {
            let context = format!("rule {:?}", r.name);
            check_comparable(
                &context,
                left_path,
                left,
                k.left(),
                right_path,
                right,
                k.right(),
            )?;
            super::check_exact_key(&context, left, right, k)?;
        }
    }
    Ok(())
}

/// The columns each side needs loaded for these rules.
pub fn needed_columns(rules: &[Rule]) -> (Vec<String>, Vec<String>) {
    let mut l: Vec<String> = Vec::new();
    let mut r: Vec<String> = Vec::new();
    for rule in rules {
        for k in &rule.keys {
            if !l.iter().any(|c| c == k.left()) {
                l.push(k.left().to_string());
            }
            if !r.iter().any(|c| c == k.right()) {
                r.push(k.right().to_string());
            }
        }
    }
    (l, r)
}

/// Runs the cascade. `options.max_group` bounds many-to-many groups.
///
/// # Panics
/// If a rule names a column that was not loaded (validate with
/// [`check_rules`] and load [`needed_columns`] first).
pub fn run(
    left: &Dataset,
    right: &Dataset,
    rules: &[Rule],
    cardinality: Cardinality,
    max_group: u64,
) -> DeterministicLinks {
    // Each record's state: linked by some rule, and done (it can take no
    // more links). Groups are decided in parallel, and each marks its own
    // members as it links them: within a rule a record is in one group at
    // most, so no two threads write one record's state (a relaxed load
    // and store, no atomic read-modify-write; and any writer of a side
    // within a rule would store the same bits), and rules run one after
    // another.
    let left_state = states(left.len());
    let right_state = states(right.len());
    let (left_mark, right_mark) = (
        LINKED | if cardinality.left_unique() { DONE } else { 0 },
        LINKED | if cardinality.right_unique() { DONE } else { 0 },
    );
    let mut pairs_seen: HashSet<(u32, u32)> = HashSet::new();
    let mut out = DeterministicLinks::default();
    for (ri, rule) in rules.iter().enumerate() {
        let key = KeyColumns {
            left: rule.keys.iter().map(|k| left.tokens(k.left())).collect(),
            right: rule.keys.iter().map(|k| right.tokens(k.right())).collect(),
        };
        let (groups, eligible) = keys::groups(
            &key,
            left.len(),
            right.len(),
            &|i| !done(&left_state[i]),
            &|i| !done(&right_state[i]),
        );
        let mut stats = RuleStats {
            name: rule.name.clone(),
            eligible_left: eligible.left,
            eligible_right: eligible.right,
            ..RuleStats::default()
        };
        // Many-to-many over several rules remembers pairs (a pair an
        // earlier rule linked is not linked again): serial. Otherwise each
        // group is decided on its own, so pieces of groups are decided in
        // parallel and joined in order.
        let remember = cardinality == Cardinality::ManyToMany && rules.len() > 1;
        let decide = |range: std::ops::Range<usize>, mut seen: Option<&mut HashSet<(u32, u32)>>| {
            let mut part = Decided::default();
            for g in range.map(|i| groups.get(i)) {
                let (ls, rs) = (g.left, g.right);
                let ambiguous = match cardinality {
                    Cardinality::OneToOne => ls.len() > 1 || rs.len() > 1,
                    Cardinality::OneToMany => ls.len() > 1,
                    Cardinality::ManyToMany => (ls.len() as u64) * (rs.len() as u64) > max_group,
                };
                if ambiguous {
                    let group = part.groups;
                    let member = |side, record| Ambiguous {
                        rule: ri as u16,
                        group,
                        side,
                        record,
                    };
                    part.ambiguous
                        .extend(ls.iter().map(|&l| member(Side::Left, l)));
                    part.ambiguous
                        .extend(rs.iter().map(|&r| member(Side::Right, r)));
                    part.ambiguous_left += ls.len() as u64;
                    part.ambiguous_right += rs.len() as u64;
                    part.groups += 1;
                    continue;
                }
                for &l in ls {
                    for &r in rs {
                        // Within one rule a pair comes up once (each record
                        // is in one group): pairs are remembered only while
                        // a later rule may find them again.
                        if let Some(seen) = seen.as_deref_mut() {
                            if ri > 0 && seen.contains(&(l, r)) {
                                continue;
                            }
                            if ri + 1 < rules.len() {
                                seen.insert((l, r));
                            }
                        }
                        part.links.push(Link {
                            left: l,
                            right: r,
                            rule: ri as u16,
                        });
                        mark(&left_state[l as usize], left_mark);
                        mark(&right_state[r as usize], right_mark);
                    }
                }
            }
            part
        };
        let parts: Vec<Decided> = if remember {
            vec![decide(0..groups.len(), Some(&mut pairs_seen))]
        } else {
            keys::pieces(groups.len(), 14)
                .map(|range| decide(range, None))
                .collect()
        };
        let mut group_no = 0u32;
        let first_link = out.links.len();
        for part in parts {
            out.links.extend(part.links);
            out.ambiguous
                .extend(part.ambiguous.into_iter().map(|mut a| {
                    a.group += group_no;
                    a
                }));
            group_no += part.groups;
            stats.ambiguous_left += part.ambiguous_left;
            stats.ambiguous_right += part.ambiguous_right;
        }
        stats.links = (out.links.len() - first_link) as u64;
        out.rules.push(stats);
    }
    // By (left, right) as one u64: a single comparison per step.
    out.links
        .par_sort_unstable_by_key(|l| u64::from(l.left) << 32 | u64::from(l.right));
    out.ambiguous.sort_unstable();
    let unlinked = |v: &[AtomicU8]| {
        v.par_iter()
            .filter(|s| s.load(Relaxed) & LINKED == 0)
            .count()
    };
    out.unlinked_left = unlinked(&left_state) as u64;
    out.unlinked_right = unlinked(&right_state) as u64;
    out
}

/// A record's state bit: some rule linked it.
const LINKED: u8 = 1;
/// A record's state bit: it can take no more links.
const DONE: u8 = 2;

fn states(n: usize) -> Vec<AtomicU8> {
    (0..n).map(|_| AtomicU8::new(0)).collect()
}

#[inline]
fn done(s: &AtomicU8) -> bool {
    s.load(Relaxed) & DONE != 0
}

/// Sets `bits` in a record's state. Only the thread deciding the record's
/// group writes it, so a load and a store do: no atomic (locked)
/// read-modify-write.
#[inline]
fn mark(s: &AtomicU8, bits: u8) {
    s.store(s.load(Relaxed) | bits, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::test_util::dataset;
    use proptest::prelude::*;

    fn rule(name: &str, cols: &[&str]) -> Rule {
        Rule {
            name: name.into(),
            keys: cols.iter().map(|c| same(c)).collect(),
            reason: None,
        }
    }

    const N: u32 = NONE;

    #[test]
    fn cascade_order_ambiguity_and_empty_components() {
        // left: r0 a=1 b=10; r1 a=2 b=20; r2 a=3 b=30; r3 a=3 b=31; r4 a=N b=40
        // right: r0 a=1; r1 a=2 b=20; r2 a=3 b=30; r3 a=N b=40
        let left = dataset(&[("a", vec![1, 2, 3, 3, N]), ("b", vec![10, 20, 30, 31, 40])]);
        let right = dataset(&[("a", vec![1, 2, 3, N]), ("b", vec![11, 20, 30, 40])]);
        let rules = [
            rule("ab", &["a", "b"]),
            rule("a", &["a"]),
            rule("b", &["b"]),
        ];
        let out = run(&left, &right, &rules, Cardinality::OneToOne, 100);
        let links: Vec<(u32, u32, u16)> = out
            .links
            .iter()
            .map(|l| (l.left, l.right, l.rule))
            .collect();
        // ab: (1,1) and (2,2). a: (0,0); a=3 left has two records but both
        // rights with a=3 are linked... r2 right was taken by ab, so a=3
        // has left {3} (r2 taken), right {} -> nothing. b: (4,3) on b=40.
        assert_eq!(links, vec![(0, 0, 1), (1, 1, 0), (2, 2, 0), (4, 3, 2)]);
        assert_eq!(out.unlinked_left, 1);
        assert_eq!(out.unlinked_right, 0);
        assert_eq!(out.rules[0].eligible_left, 4, "r4 has an empty a");
    }

    #[test]
    fn ambiguous_keys_link_nothing() {
        let left = dataset(&[("a", vec![7, 7, 8])]);
        let right = dataset(&[("a", vec![7, 8, 8])]);
        let out = run(
            &left,
            &right,
            &[rule("a", &["a"])],
            Cardinality::OneToOne,
            100,
        );
        assert!(out.links.is_empty());
        assert_eq!(out.rules[0].ambiguous_left, 3);
        assert_eq!(out.rules[0].ambiguous_right, 3);
        assert_eq!(out.ambiguous.len(), 6);
        // One-to-many: several right records per key are fine, several left
        // are not.
        let out = run(
            &left,
            &right,
            &[rule("a", &["a"])],
            Cardinality::OneToMany,
            100,
        );
        let links: Vec<(u32, u32)> = out.links.iter().map(|l| (l.left, l.right)).collect();
        assert_eq!(links, vec![(2, 1), (2, 2)]);
        assert_eq!(out.rules[0].ambiguous_left, 2);
        let out = run(
            &left,
            &right,
            &[rule("a", &["a"])],
            Cardinality::ManyToMany,
            100,
        );
        assert_eq!(out.links.len(), 4);
        let out = run(
            &left,
            &right,
            &[rule("a", &["a"])],
            Cardinality::ManyToMany,
            1,
        );
        assert!(out.links.is_empty());
    }

    #[test]
    fn one_to_many_keeps_left_available_for_later_rules() {
        let left = dataset(&[("a", vec![1]), ("b", vec![5])]);
        let right = dataset(&[("a", vec![1, 2]), ("b", vec![9, 5])]);
        let rules = [rule("a", &["a"]), rule("b", &["b"])];
        let out = run(&left, &right, &rules, Cardinality::OneToMany, 100);
        assert_eq!(out.links.len(), 2);
        let out = run(&left, &right, &rules, Cardinality::OneToOne, 100);
        assert_eq!(out.links.len(), 1);
    }

    #[test]
    fn cross_column_keys() {
        let left = dataset(&[("given", vec![1, 2]), ("family", vec![2, 3])]);
        let right = dataset(&[("given", vec![3, 9]), ("family", vec![2, 9])]);
        let r = Rule {
            name: "swap".into(),
            keys: vec![
                KeyPart::Pair {
                    left: "given".into(),
                    right: "family".into(),
                },
                KeyPart::Pair {
                    left: "family".into(),
                    right: "given".into(),
                },
            ],
            reason: None,
        };
        let out = run(&left, &right, &[r], Cardinality::OneToOne, 100);
        let links: Vec<(u32, u32)> = out.links.iter().map(|l| (l.left, l.right)).collect();
        assert_eq!(links, vec![(1, 0)]);
    }

    /// The obviously-correct reference: per rule, nested loops.
    fn reference(
        left: &[Vec<u32>],
        right: &[Vec<u32>],
        rules: &[Vec<usize>],
        card: Cardinality,
    ) -> Vec<(u32, u32, u16)> {
        let mut ldone = vec![false; left.len()];
        let mut rdone = vec![false; right.len()];
        let mut links = Vec::new();
        for (ri, cols) in rules.iter().enumerate() {
            let key = |rec: &Vec<u32>| -> Option<Vec<u32>> {
                let k: Vec<u32> = cols.iter().map(|&c| rec[c]).collect();
                (!k.contains(&NONE)).then_some(k)
            };
            let mut new = Vec::new();
            for (i, l) in left.iter().enumerate() {
                if ldone[i] {
                    continue;
                }
                let Some(kl) = key(l) else { continue };
                let rs: Vec<usize> = (0..right.len())
                    .filter(|&j| !rdone[j] && key(&right[j]).as_ref() == Some(&kl))
                    .collect();
                if rs.is_empty() {
                    continue;
                }
                let ls = (0..left.len())
                    .filter(|&i2| !ldone[i2] && key(&left[i2]).as_ref() == Some(&kl))
                    .count();
                let ok = match card {
                    Cardinality::OneToOne => ls == 1 && rs.len() == 1,
                    Cardinality::OneToMany => ls == 1,
                    Cardinality::ManyToMany => true,
                };
                if ok {
                    for j in rs {
                        new.push((i as u32, j as u32, ri as u16));
                    }
                }
            }
            for &(i, j, _) in &new {
                if card.left_unique() {
                    ldone[i as usize] = true;
                }
                if card.right_unique() {
                    rdone[j as usize] = true;
                }
            }
            links.extend(new);
        }
        links.sort_by_key(|&(l, r, _)| (l, r));
        if card == Cardinality::ManyToMany {
            let mut seen = HashSet::new();
            links.retain(|&(l, r, _)| seen.insert((l, r)));
        }
        links
    }

    fn records(n: usize) -> impl Strategy<Value = Vec<Vec<u32>>> {
        proptest::collection::vec(
            proptest::collection::vec(prop_oneof![4 => 0u32..4, 1 => Just(NONE)], 3),
            0..n,
        )
    }

    fn to_dataset(recs: &[Vec<u32>]) -> Dataset {
        let col = |c: usize| recs.iter().map(|r| r[c]).collect::<Vec<u32>>();
        dataset(&[("c0", col(0)), ("c1", col(1)), ("c2", col(2))])
    }

    fn card() -> impl Strategy<Value = Cardinality> {
        prop_oneof![
            Just(Cardinality::OneToOne),
            Just(Cardinality::OneToMany),
            Just(Cardinality::ManyToMany)
        ]
    }

    proptest! {
        /// The parallel sort-merge cascade equals the nested-loop
        /// reference, for every cardinality.
        #[test]
        fn agrees_with_nested_loop_reference(l in records(12), r in records(12), card in card(),
                                             rules in proptest::collection::vec(proptest::sample::subsequence(vec![0usize, 1, 2], 1..=3), 1..4)) {
            prop_assume!(!l.is_empty() && !r.is_empty());
            let named: Vec<Rule> = rules.iter().enumerate().map(|(i, cols)| Rule {
                name: format!("r{i}"),
                keys: cols.iter().map(|c| same(&format!("c{c}"))).collect(),
                reason: None,
            }).collect();
            let out = run(&to_dataset(&l), &to_dataset(&r), &named, card, u64::MAX);
            let got: Vec<(u32, u32, u16)> = out.links.iter().map(|x| (x.left, x.right, x.rule)).collect();
            prop_assert_eq!(got, reference(&l, &r, &rules, card));
        }

        /// One-to-one output never repeats an id; every link satisfies its
        /// rule's key equality with no empty component.
        #[test]
        fn one_to_one_is_one_to_one_and_keys_hold(l in records(20), r in records(20)) {
            prop_assume!(!l.is_empty() && !r.is_empty());
            let rules = vec![rule("a", &["c0", "c1"]), rule("b", &["c2"]), rule("c", &["c0"])];
            let out = run(&to_dataset(&l), &to_dataset(&r), &rules, Cardinality::OneToOne, 100);
            let mut ls = HashSet::new();
            let mut rs = HashSet::new();
            for x in &out.links {
                prop_assert!(ls.insert(x.left));
                prop_assert!(rs.insert(x.right));
                for k in &rules[x.rule as usize].keys {
                    let c: usize = k.left()[1..].parse().unwrap();
                    prop_assert!(l[x.left as usize][c] != NONE);
                    prop_assert_eq!(l[x.left as usize][c], r[x.right as usize][c]);
                }
            }
        }

        /// Adding an unrelated record (one whose key values appear nowhere
        /// else) never removes a link.
        #[test]
        fn unrelated_records_never_remove_links(l in records(15), r in records(15), card in card()) {
            prop_assume!(!l.is_empty() && !r.is_empty());
            let rules = vec![rule("a", &["c0", "c1"]), rule("b", &["c2"])];
            let before = run(&to_dataset(&l), &to_dataset(&r), &rules, card, u64::MAX);
            let mut l2 = l.clone();
            l2.push(vec![100, 101, 102]);
            let after = run(&to_dataset(&l2), &to_dataset(&r), &rules, card, u64::MAX);
            for x in &before.links {
                prop_assert!(after.links.contains(x));
            }
        }
    }
}
