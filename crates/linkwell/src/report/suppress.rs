//! Statistical disclosure control for everything a report shows.
//!
//! Every count passes through a [`Suppression`] policy before it reaches
//! the report's data ([`Count`]), so neither the HTML page nor the JSON can
//! hold a raw count by mistake. Rates ([`Rate`]) are computed from the
//! controlled counts, and are withheld when a numerator or denominator is
//! itself suppressed.

use serde::{Deserialize, Serialize};

/// How counts are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suppression {
    /// Counts below `threshold` are shown as `<threshold`; every other
    /// count is rounded to the nearest multiple of `base`.
    Sdc {
        /// Smallest count shown (10).
        threshold: u64,
        /// Rounding base (5).
        base: u64,
    },
    /// Exact counts: for use inside the TRE only.
    Unsuppressed,
}

impl Default for Suppression {
    /// Counts below 10 shown as `<10`, others rounded to the nearest 5.
    fn default() -> Self {
        Suppression::Sdc {
            threshold: 10,
            base: 5,
        }
    }
}

/// A count as it may be shown: a (rounded) value, or "fewer than" a
/// threshold. Serialises as a JSON number or as the string `"<10"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// The value (rounded under disclosure control).
    Value(u64),
    /// Suppressed: fewer than this.
    Below(u64),
}

/// A share, or `None` when it cannot be shown (a count it is made from was
/// suppressed, or the denominator is 0).
pub type Rate = Option<f64>;

impl Suppression {
    /// Applies the policy to one count.
    pub fn count(&self, n: u64) -> Count {
        match *self {
            Suppression::Unsuppressed => Count::Value(n),
            Suppression::Sdc { threshold, base } => {
                if n < threshold {
                    Count::Below(threshold)
                } else if base <= 1 {
                    Count::Value(n)
                } else {
                    // Nearest multiple, halves up; never below the
                    // threshold (a rounded count must not itself look
                    // small).
                    let r = (n + base / 2) / base * base;
                    Count::Value(r.max(threshold.div_ceil(base) * base))
                }
            }
        }
    }

    /// A rate from two controlled counts.
    pub fn rate(&self, num: Count, den: Count) -> Rate {
        match (num, den) {
            (Count::Value(n), Count::Value(d)) if d > 0 => Some(n as f64 / d as f64),
            _ => None,
        }
    }

    /// Whether counts are protected.
    pub fn is_suppressed(&self) -> bool {
        matches!(self, Suppression::Sdc { .. })
    }

    /// The rule in one sentence, for the page and the JSON.
    pub fn describe(&self) -> String {
        match *self {
            Suppression::Sdc { threshold, base } => format!(
                "Statistical disclosure control: every count below {threshold} is shown as \
                 <{threshold} and every other count is rounded to the nearest {base}, in this \
                 page and in its JSON. Rates are computed from the rounded counts and are not \
                 shown where a count they depend on is below {threshold}."
            ),
            Suppression::Unsuppressed => "UNSUPPRESSED — for use inside the TRE only: counts \
                are exact and small cells are shown. Do not release this report."
                .into(),
        }
    }
}

impl Count {
    /// The value, if not suppressed.
    pub fn value(self) -> Option<u64> {
        match self {
            Count::Value(v) => Some(v),
            Count::Below(_) => None,
        }
    }

    /// A number to plot: the value, or the threshold for a suppressed
    /// count (drawn as "up to" it).
    pub fn plot_height(self) -> u64 {
        match self {
            Count::Value(v) | Count::Below(v) => v,
        }
    }
}

impl std::fmt::Display for Count {
    /// `12,345` or `<10`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Count::Value(v) => f.write_str(&thousands(v)),
            Count::Below(t) => write!(f, "<{t}"),
        }
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Serialize for Count {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Count::Value(v) => s.serialize_u64(v),
            Count::Below(t) => s.serialize_str(&format!("<{t}")),
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(v) => Ok(Count::Value(v)),
            Raw::S(s) => s
                .strip_prefix('<')
                .and_then(|t| t.parse().ok())
                .map(Count::Below)
                .ok_or_else(|| serde::de::Error::custom("a count is a number or \"<N\"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn order(c: Count) -> (u8, u64) {
        match c {
            Count::Below(_) => (0, 0),
            Count::Value(v) => (1, v),
        }
    }

    #[test]
    fn examples() {
        let s = Suppression::default();
        assert_eq!(s.count(0), Count::Below(10));
        assert_eq!(s.count(9), Count::Below(10));
        assert_eq!(s.count(10), Count::Value(10));
        assert_eq!(s.count(12), Count::Value(10));
        assert_eq!(s.count(13), Count::Value(15));
        assert_eq!(s.count(1_234_567), Count::Value(1_234_565));
        assert_eq!(s.count(1_234_568), Count::Value(1_234_570));
        assert_eq!(Suppression::Unsuppressed.count(3), Count::Value(3));
        assert_eq!(s.rate(Count::Value(5), Count::Value(10)), Some(0.5));
        assert_eq!(s.rate(Count::Below(10), Count::Value(10)), None);
        assert_eq!(s.rate(Count::Value(10), Count::Below(10)), None);
        assert_eq!(s.rate(Count::Value(0), Count::Value(0)), None);
        assert_eq!(Count::Value(1234).to_string(), "1,234");
        assert_eq!(Count::Below(10).to_string(), "<10");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(
            serde_json::to_string(&[Count::Value(15), Count::Below(10)]).unwrap(),
            r#"[15,"<10"]"#
        );
        let back: Vec<Count> = serde_json::from_str(r#"[15,"<10"]"#).unwrap();
        assert_eq!(back, [Count::Value(15), Count::Below(10)]);
        assert!(s.describe().contains("below 10 is shown as <10"));
        assert!(Suppression::Unsuppressed
            .describe()
            .starts_with("UNSUPPRESSED — for use inside the TRE only"));
    }

    proptest! {
        /// Every controlled count is `<10` or a multiple of 5 that is at
        /// least 10 and within 2 of the true count.
        #[test]
        fn counts_are_suppressed_or_rounded(n in 0u64..10_000_000) {
            match Suppression::default().count(n) {
                Count::Below(t) => prop_assert!(t == 10 && n < 10),
                Count::Value(v) => {
                    prop_assert!(n >= 10);
                    prop_assert_eq!(v % 5, 0);
                    prop_assert!(v >= 10);
                    prop_assert!(v.abs_diff(n) <= 2);
                }
            }
        }

        /// A larger count never shows as smaller.
        #[test]
        fn monotone(a in 0u64..1_000_000, b in 0u64..1_000_000) {
            let s = Suppression::default();
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(order(s.count(lo)) <= order(s.count(hi)));
        }

        /// Controlling a controlled count changes nothing.
        #[test]
        fn idempotent(n in 0u64..10_000_000, t in 1u64..50, base in 1u64..20) {
            let s = Suppression::Sdc { threshold: t, base };
            let once = s.count(n);
            if let Count::Value(v) = once {
                prop_assert_eq!(s.count(v), once);
            }
        }

        /// A rate from controlled counts with numerator ≤ denominator is a
        /// share.
        #[test]
        fn rates_are_shares(num in 0u64..100_000, extra in 0u64..100_000) {
            let s = Suppression::default();
            let den = num + extra;
            if let Some(r) = s.rate(s.count(num), s.count(den)) {
                prop_assert!((0.0..=1.0).contains(&r));
            }
        }
    }
}
