//! Unit tests of the report's helpers; the whole report is tested end to
//! end in `tests/report.rs`.

use super::*;

#[test]
fn iso_dates() {
    assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(iso_utc(1_700_000_000), "2023-11-14T22:13:20Z");
}

#[test]
fn subgroup_values_sort_naturally_and_read_well() {
    let mut v = vec!["65+", "16-24", "", "0-15", "5-9", "abc"];
    v.sort_by_key(|x| natural_key(x));
    assert_eq!(v, ["0-15", "5-9", "16-24", "65+", "abc", ""]);
    assert_eq!(value_label("sex_code", "1"), "1 (male)");
    assert_eq!(value_label("sex_code", "2"), "2 (female)");
    assert_eq!(value_label("icb", ""), "(missing)");
    assert_eq!(value_label("icb", "1"), "1");
}

#[test]
fn histogram_is_trimmed_and_controlled() {
    let mut counts = vec![0u64; 256];
    counts[100] = 3;
    counts[101] = 1234;
    counts[103] = 12;
    let h = Histogram {
        min: -64,
        per_bit: 2,
        counts,
    };
    let w = histogram(&h, &Suppression::default());
    assert_eq!(w.bins.len(), 4);
    assert_eq!(w.bins[0].from, -14.0);
    assert_eq!(w.bins[0].to, -13.5);
    assert_eq!(w.bins[0].pairs, Count::Below(10));
    assert_eq!(w.bins[1].pairs, Count::Value(1235));
    assert_eq!(w.bins[2].pairs, Count::Below(10));
    assert_eq!(w.bins[3].pairs, Count::Value(10));
    assert_eq!(w.total, Count::Value(1250));
    let w = histogram(&h, &Suppression::Unsuppressed);
    assert_eq!(w.bins[0].pairs, Count::Value(3));
    assert_eq!(w.total, Count::Value(1249));
}

#[test]
fn json_path_is_beside_the_page() {
    assert_eq!(
        json_path(Path::new("/x/report.html")),
        PathBuf::from("/x/report.json")
    );
    assert_eq!(json_path(Path::new("r")), PathBuf::from("r.json"));
}

#[test]
fn html_escapes() {
    assert_eq!(
        html::esc("<a href=\"x\">&'</a>"),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
    );
}

#[test]
fn percentages_never_round_to_certainty() {
    assert_eq!(html::pct(Some(0.99996)), ">99.9%");
    assert_eq!(html::pct(Some(1.0)), "100.0%");
    assert_eq!(html::pct(Some(0.0)), "0.0%");
    assert_eq!(html::pct(Some(0.0001)), "<0.1%");
    assert_eq!(html::pct(Some(0.1234)), "12.3%");
    assert_eq!(html::pct(None), "—");
}
