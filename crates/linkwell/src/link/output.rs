//! Writing linkage results: the link table with its manifest, the list of
//! ambiguous records, and the pseudonymised research extract. Every file is
//! written under a temporary name and renamed when complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{Column, Dataset};
use super::deterministic::{Ambiguous, Link, RuleStats};
use super::LinkError;
use crate::io::{side_file, write_csv_field, AtomicFile, IoError};
use crate::pseudonym::PseudonymKey;

/// The `format` of a links manifest.
pub const LINKS_FORMAT: &str = "linkwell-links";

/// How a link was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A deterministic match key.
    Deterministic,
    /// Fellegi–Sunter.
    Probabilistic,
}

impl Method {
    /// Its name in files.
    pub fn name(self) -> &'static str {
        match self {
            Method::Deterministic => "deterministic",
            Method::Probabilistic => "probabilistic",
        }
    }
}

/// One row of a link table.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkRow {
    /// Left record index.
    pub left: u32,
    /// Right record index.
    pub right: u32,
    /// How it was made.
    pub method: Method,
    /// Index of the rule's name (deterministic) or the model's
    /// (probabilistic) in the names passed to the writers.
    pub rule: u16,
    /// Match weight (log2 Bayes factor), probabilistic links only; the
    /// match probability follows from it ([`LinkRow::probability`]).
    pub weight: Option<f64>,
    /// Per-comparison explanation cells (level name and weight), when asked
    /// for. (A boxed slice: a row is 48 bytes.)
    pub explain: Box<[String]>,
}

impl LinkRow {
    /// Match probability, probabilistic links only.
    pub fn probability(&self) -> Option<f64> {
        self.weight.map(super::probabilistic::probability)
    }
}

/// The rows of a link table, sorted by left then right record, as the
/// writers read them.
#[derive(Debug, Clone, Copy)]
pub enum Links<'a> {
    /// Deterministic links only, straight from the cascade: 12 bytes a
    /// link, where a [`LinkRow`] takes 48 (at 10M × 10M, 430 MB written
    /// and read again to no purpose).
    Deterministic(&'a [Link]),
    /// Any links, with their method, weight and explanation.
    Scored(&'a [LinkRow]),
}

impl Links<'_> {
    /// Number of links.
    pub fn len(&self) -> usize {
        match self {
            Links::Deterministic(l) => l.len(),
            Links::Scored(l) => l.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One link, as the writers read it.
trait AsLink: Sync {
    /// The link with its method, weight and explanation cells.
    fn view(&self) -> LinkRowRef<'_>;
}

/// A borrowed [`LinkRow`].
struct LinkRowRef<'a> {
    left: u32,
    right: u32,
    rule: u16,
    method: Method,
    weight: Option<f64>,
    explain: &'a [String],
}

impl LinkRowRef<'_> {
    fn probability(&self) -> Option<f64> {
        self.weight.map(super::probabilistic::probability)
    }
}

impl AsLink for LinkRow {
    fn view(&self) -> LinkRowRef<'_> {
        LinkRowRef {
            left: self.left,
            right: self.right,
            rule: self.rule,
            method: self.method,
            weight: self.weight,
            explain: &self.explain,
        }
    }
}

impl AsLink for Link {
    fn view(&self) -> LinkRowRef<'_> {
        LinkRowRef {
            left: self.left,
            right: self.right,
            rule: self.rule,
            method: Method::Deterministic,
            weight: None,
            explain: &[],
        }
    }
}

impl From<&Link> for LinkRow {
    /// A deterministic link as a full row.
    fn from(l: &Link) -> LinkRow {
        LinkRow {
            left: l.left,
            right: l.right,
            method: Method::Deterministic,
            rule: l.rule,
            weight: None,
            explain: Box::default(),
        }
    }
}

/// What the link table's columns are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkFormat {
    /// `left_id,right_id,rule`.
    Deterministic,
    /// `left_id,right_id,method,rule,match_weight,match_probability`, then
    /// the explanation columns named here.
    Scored {
        /// Explanation column names (empty without `--explain`).
        explain: Vec<String>,
    },
}

/// A file the linkage read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputInfo {
    /// The data file as given.
    pub path: String,
    /// Its SHA-256 (verified while reading).
    pub data_sha256: String,
    /// Fingerprint of the secret it was encoded under.
    pub key_fingerprint: String,
    /// Records.
    pub records: u64,
}

impl InputInfo {
    /// Describes a loaded dataset.
    pub fn of(d: &Dataset) -> InputInfo {
        InputInfo {
            path: d.path.display().to_string(),
            data_sha256: d.manifest.data_sha256.clone(),
            key_fingerprint: d.manifest.key_fingerprint.clone(),
            records: d.len() as u64,
        }
    }
}

/// Summary of a linkage, in the links manifest and printed by the CLI.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkSummary {
    /// Links written.
    pub links: u64,
    /// Deterministic links, per rule of the cascade.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleStats>,
    /// Probabilistic links.
    #[serde(default)]
    pub probabilistic_links: u64,
    /// Left records with no link.
    pub unlinked_left: u64,
    /// Right records with no link.
    pub unlinked_right: u64,
    /// Records listed in the ambiguous file (a record may be listed under
    /// several rules).
    pub ambiguous_entries: u64,
}

/// The manifest beside a link table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinksManifest {
    /// Always [`LINKS_FORMAT`].
    pub format: String,
    /// 1.
    pub format_version: u32,
    /// The linkwell version.
    pub tool_version: String,
    /// `deterministic`, `probabilistic` or `cascade`.
    pub method: String,
    /// Cardinality.
    pub cardinality: String,
    /// The left file.
    pub left: InputInfo,
    /// The right file.
    pub right: InputInfo,
    /// The deterministic rules used, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<super::deterministic::Rule>,
    /// Probabilistic model summary (threshold, prior, comparisons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<serde_json::Value>,
    /// Counts.
    pub summary: LinkSummary,
    /// The link table's file name.
    pub links_file: String,
    /// Its SHA-256.
    pub links_sha256: String,
    /// The ambiguous-records file's name.
    pub ambiguous_file: String,
}

impl LinksManifest {
    /// Reads the manifest beside a link table.
    ///
    /// # Errors
    /// [`LinkError`] if it is missing or not a links manifest.
    pub fn read_for(links: &Path) -> Result<LinksManifest, LinkError> {
        let path = crate::io::manifest_path(links);
        let text =
            std::fs::read_to_string(&path).map_err(|e| IoError::new("cannot read", &path, e))?;
        let m: LinksManifest = serde_json::from_str(&text).map_err(|e| LinkError::Config {
            path: path.clone(),
            message: format!("not a linkwell links manifest: {e}"),
        })?;
        if m.format != LINKS_FORMAT {
            return Err(LinkError::Config {
                path,
                message: format!("format is {:?}, not {LINKS_FORMAT:?}", m.format),
            });
        }
        Ok(m)
    }
}

/// The ambiguous-records file beside a link table.
pub fn ambiguous_path(links: &Path) -> PathBuf {
    side_file(links, ".ambiguous.csv")
}

fn fmt_f64(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| {
        if x.is_finite() {
            format!("{x:.6}")
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    })
}

/// Writes the link table, the ambiguous file and the links manifest.
///
/// # Errors
/// [`LinkError::Io`].
#[allow(clippy::too_many_arguments)]
pub fn write_links(
    path: &Path,
    format: &LinkFormat,
    rows: Links<'_>,
    left: &Dataset,
    right: &Dataset,
    ambiguous: &[Ambiguous],
    rule_names: &[String],
    mut manifest: LinksManifest,
) -> Result<LinksManifest, LinkError> {
    let io = |e: std::io::Error| LinkError::Io(IoError::new("cannot write", path, e));
    let mut f = AtomicFile::create(path)?;
    let mut header = b"left_id,right_id".to_vec();
    match format {
        LinkFormat::Deterministic => header.extend_from_slice(b",rule\n"),
        LinkFormat::Scored { explain } => {
            header.extend_from_slice(b",method,rule,match_weight,match_probability");
            for e in explain {
                header.push(b',');
                write_csv_field(&mut header, e.as_bytes());
            }
            header.push(b'\n');
        }
    }
    f.write_all(&header).map_err(io)?;
    let ids = (left, right);
    match rows {
        Links::Deterministic(rows) => write_rows(&mut f, rows, |r, b| {
            link_row(b, r, format, ids, rule_names);
        }),
        Links::Scored(rows) => write_rows(&mut f, rows, |r, b| {
            link_row(b, r, format, ids, rule_names);
        }),
    }
    .map_err(io)?;
    let amb_path = ambiguous_path(path);
    let mut a = AtomicFile::create(&amb_path)?;
    let aio = |e: std::io::Error| LinkError::Io(IoError::new("cannot write", &amb_path, e));
    a.write_all(b"rule,group,side,id\n").map_err(aio)?;
    let mut buf = Vec::new();
    for x in ambiguous {
        buf.clear();
        buf.extend_from_slice(rule_names[x.rule as usize].as_bytes());
        buf.extend_from_slice(format!(",{},{},", x.group, x.side.name()).as_bytes());
        let id = match x.side {
            super::deterministic::Side::Left => left.ids.get(x.record as usize),
            super::deterministic::Side::Right => right.ids.get(x.record as usize),
        };
        write_csv_field(&mut buf, id.as_bytes());
        buf.push(b'\n');
        a.write_all(&buf).map_err(aio)?;
    }
    let (digest, _) = f.commit()?;
    a.commit()?;
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    manifest.links_file = name(path);
    manifest.links_sha256 = crate::hex::encode(&digest);
    manifest.ambiguous_file = name(&amb_path);
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    crate::io::write_atomic(&crate::io::manifest_path(path), &json)?;
    Ok(manifest)
}

/// Appends link `r` to `b` as one line of the link table.
fn link_row(
    b: &mut Vec<u8>,
    r: &impl AsLink,
    format: &LinkFormat,
    (left, right): (&Dataset, &Dataset),
    rule_names: &[String],
) {
    let r = r.view();
    write_csv_field(b, left.ids.bytes(r.left as usize));
    b.push(b',');
    write_csv_field(b, right.ids.bytes(r.right as usize));
    match format {
        LinkFormat::Deterministic => {
            b.push(b',');
            b.extend_from_slice(rule_names[r.rule as usize].as_bytes());
        }
        LinkFormat::Scored { .. } => {
            b.push(b',');
            b.extend_from_slice(r.method.name().as_bytes());
            b.push(b',');
            b.extend_from_slice(rule_names[r.rule as usize].as_bytes());
            b.push(b',');
            b.extend_from_slice(fmt_f64(r.weight).as_bytes());
            b.push(b',');
            b.extend_from_slice(fmt_f64(r.probability()).as_bytes());
            for e in r.explain {
                b.push(b',');
                write_csv_field(b, e.as_bytes());
            }
        }
    }
    b.push(b'\n');
}

/// Options for the research extract.
pub struct ExtractOptions<'a> {
    /// The project's pseudonym key.
    pub key: &'a PseudonymKey,
    /// Label of the left dataset (pseudonym domain and column prefix).
    pub left_label: &'a str,
    /// Label of the right dataset.
    pub right_label: &'a str,
    /// Also write left records with no link (a left join), so that
    /// analyses can see who was not linked.
    pub include_unlinked_left: bool,
}

/// Payload columns that are also identifier fields of the file's schema
/// (kept in clear with `--keep`): never written to an extract.
pub fn identifier_payload(d: &Dataset) -> Vec<String> {
    d.payload_columns()
        .into_iter()
        .filter(|c| d.manifest.schema.fields.iter().any(|f| &f.column == c))
        .collect()
}

fn payload_of(d: &Dataset) -> Result<Vec<(String, &super::data::StrColumn)>, LinkError> {
    let identifiers = identifier_payload(d);
    d.payload_columns()
        .into_iter()
        .filter(|c| !identifiers.contains(c))
        .map(|c| match d.columns.get(&c) {
            Some(Column::Text(s)) => Ok((c, s)),
            _ => Err(LinkError::Invalid(format!(
                "payload column {c} of {} was not loaded",
                d.path.display()
            ))),
        })
        .collect()
}

/// Writes the linked research extract: for each link, the two records'
/// pseudonyms, the method (deterministic or probabilistic), the match
/// probability to three decimals, and the payload (kept) columns of both
/// sides. No record id and no token is written; nor the rule's name (it can
/// describe an event: a surname change, a move) or the match weight (its
/// term-frequency part says how rare a person's name is); nor a kept
/// column that is an identifier field of the schema.
///
/// # Errors
/// [`LinkError::Io`]; [`LinkError::Invalid`] if a dataset was loaded without
/// its payload columns.
pub fn write_extract(
    path: &Path,
    rows: Links<'_>,
    left: &Dataset,
    right: &Dataset,
    opts: &ExtractOptions<'_>,
) -> Result<u64, LinkError> {
    let lp = payload_of(left)?;
    let rp = payload_of(right)?;
    let io = |e: std::io::Error| LinkError::Io(IoError::new("cannot write", path, e));
    let mut f = AtomicFile::create(path)?;
    let mut h = Vec::new();
    let mut cols = vec![
        format!("{}_pseudonym", opts.left_label),
        format!("{}_pseudonym", opts.right_label),
        "method".to_string(),
        "match_probability".to_string(),
    ];
    cols.extend(lp.iter().map(|(c, _)| format!("{}_{c}", opts.left_label)));
    cols.extend(rp.iter().map(|(c, _)| format!("{}_{c}", opts.right_label)));
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            h.push(b',');
        }
        write_csv_field(&mut h, c.as_bytes());
    }
    h.push(b'\n');
    f.write_all(&h).map_err(io)?;
    let mut linked_left = vec![false; left.len()];
    match rows {
        Links::Deterministic(rows) => rows
            .iter()
            .for_each(|r| linked_left[r.left as usize] = true),
        Links::Scored(rows) => rows
            .iter()
            .for_each(|r| linked_left[r.left as usize] = true),
    }
    let unlinked: Vec<u32> = if opts.include_unlinked_left {
        (0..left.len() as u32)
            .filter(|&i| !linked_left[i as usize])
            .collect()
    } else {
        Vec::new()
    };
    let render = |l: u32, r: Partner| -> Vec<u8> {
        let mut b = Vec::with_capacity(256);
        b.extend_from_slice(
            opts.key
                .pseudonym(opts.left_label, left.ids.get(l as usize))
                .as_bytes(),
        );
        b.push(b',');
        if let Some((r, method, probability)) = r {
            b.extend_from_slice(
                opts.key
                    .pseudonym(opts.right_label, right.ids.get(r as usize))
                    .as_bytes(),
            );
            b.push(b',');
            b.extend_from_slice(method.name().as_bytes());
            b.push(b',');
            if let Some(p) = probability {
                b.extend_from_slice(format!("{p:.3}").as_bytes());
            }
        } else {
            b.extend_from_slice(b",,");
        }
        for (_, s) in &lp {
            b.push(b',');
            write_csv_field(&mut b, s.get(l as usize).as_bytes());
        }
        for (_, s) in &rp {
            b.push(b',');
            if let Some((r, _, _)) = r {
                write_csv_field(&mut b, s.get(r as usize).as_bytes());
            }
        }
        b.push(b'\n');
        b
    };
    let mut written = match rows {
        Links::Deterministic(rows) => extract_links(&mut f, rows, &render),
        Links::Scored(rows) => extract_links(&mut f, rows, &render),
    }
    .map_err(io)?;
    for chunk in unlinked.chunks(1 << 15) {
        let parts: Vec<Vec<u8>> = chunk.par_iter().map(|&l| render(l, None)).collect();
        for p in parts {
            f.write_all(&p).map_err(io)?;
        }
        written += chunk.len() as u64;
    }
    f.commit()?;
    Ok(written)
}

/// A left record's partner in the extract, when it is linked: the right
/// record, the method and the match probability.
type Partner = Option<(u32, Method, Option<f64>)>;

/// Writes the extract's line of each link, rendered by `render` in
/// parallel; the number written.
fn extract_links<R: AsLink>(
    f: &mut AtomicFile,
    rows: &[R],
    render: &(dyn Fn(u32, Partner) -> Vec<u8> + Sync),
) -> std::io::Result<u64> {
    for chunk in rows.chunks(1 << 15) {
        let parts: Vec<Vec<u8>> = chunk
            .par_iter()
            .map(|r| r.view())
            .map(|r| render(r.left, Some((r.right, r.method, r.probability()))))
            .collect();
        for p in parts {
            f.write_all(&p)?;
        }
    }
    Ok(rows.len() as u64)
}

/// Writes scored candidate pairs, `left_id,right_id,match_weight,
/// match_probability`, in the order given.
///
/// # Errors
/// [`LinkError::Io`].
pub fn write_scores(
    path: &Path,
    pairs: &[super::probabilistic::Scored],
    left: &Dataset,
    right: &Dataset,
) -> Result<(), LinkError> {
    let io = |e: std::io::Error| LinkError::Io(IoError::new("cannot write", path, e));
    let mut f = AtomicFile::create(path)?;
    f.write_all(b"left_id,right_id,match_weight,match_probability\n")
        .map_err(io)?;
    write_rows(&mut f, pairs, |p, b| {
        write_csv_field(b, left.ids.bytes(p.left as usize));
        b.push(b',');
        write_csv_field(b, right.ids.bytes(p.right as usize));
        b.push(b',');
        b.extend_from_slice(fmt_f64(Some(p.weight)).as_bytes());
        b.push(b',');
        b.extend_from_slice(fmt_f64(Some(super::probabilistic::probability(p.weight))).as_bytes());
        b.push(b'\n');
    })
    .map_err(io)?;
    f.commit()?;
    Ok(())
}

/// Writes `rows`, each formatted onto the buffer by `row`: a chunk is
/// formatted in parallel, in pieces, while the chunk before is written.
fn write_rows<T: Sync>(
    f: &mut AtomicFile,
    rows: &[T],
    row: impl Fn(&T, &mut Vec<u8>) + Sync,
) -> std::io::Result<()> {
    let format_chunk = |chunk: &[T]| -> Vec<Vec<u8>> {
        chunk
            .par_chunks(4096)
            .map(|rs| {
                let mut b = Vec::with_capacity(rs.len() * 48);
                for r in rs {
                    row(r, &mut b);
                }
                b
            })
            .collect()
    };
    let mut formatted: Vec<Vec<u8>> = Vec::new();
    for chunk in rows.chunks(1 << 16) {
        let previous = std::mem::take(&mut formatted);
        let (next, done) = rayon::join(
            || format_chunk(chunk),
            || previous.iter().try_for_each(|p| f.write_all(p)),
        );
        done?;
        formatted = next;
    }
    formatted.iter().try_for_each(|p| f.write_all(p))
}

/// The clerical-review file beside a link table.
pub fn review_path(links: &Path) -> PathBuf {
    side_file(links, ".review.csv")
}

/// Writes pairs near the threshold for clerical review: record ids, weight,
/// probability and each comparison's level — never an identifier or token.
///
/// # Errors
/// [`LinkError::Io`].
pub fn write_review(
    links: &Path,
    pairs: &[super::probabilistic::Scored],
    left: &Dataset,
    right: &Dataset,
    model: &super::probabilistic::model::TrainedModel,
) -> Result<(), LinkError> {
    use super::probabilistic::{compare::level_of, model::NULL_LEVEL, probability};
    let path = review_path(links);
    let io = |e: std::io::Error| LinkError::Io(IoError::new("cannot write", &path, e));
    let mut f = AtomicFile::create(&path)?;
    let mut h = b"left_id,right_id,match_weight,match_probability".to_vec();
    for c in &model.comparisons {
        h.push(b',');
        write_csv_field(&mut h, format!("{}_level", c.name).as_bytes());
    }
    h.push(b'\n');
    f.write_all(&h).map_err(io)?;
    for p in pairs {
        let mut b = Vec::new();
        write_csv_field(&mut b, left.ids.bytes(p.left as usize));
        b.push(b',');
        write_csv_field(&mut b, right.ids.bytes(p.right as usize));
        b.extend_from_slice(
            format!(
                ",{},{}",
                fmt_f64(Some(p.weight)),
                fmt_f64(Some(probability(p.weight)))
            )
            .as_bytes(),
        );
        for (c, params) in model.comparisons.iter().enumerate() {
            b.push(b',');
            let lv = level_of(p.pattern, c);
            let name = if lv == NULL_LEVEL {
                "null"
            } else {
                params.levels[lv as usize].as_str()
            };
            write_csv_field(&mut b, name.as_bytes());
        }
        b.push(b'\n');
        f.write_all(&b).map_err(io)?;
    }
    f.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::test_util::dataset;

    /// The size `LinkRow::explain`'s documentation gives.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_link_row_is_48_bytes() {
        assert_eq!(std::mem::size_of::<LinkRow>(), 48);
    }

    fn manifest(left: &Dataset, right: &Dataset) -> LinksManifest {
        LinksManifest {
            format: LINKS_FORMAT.into(),
            format_version: 1,
            tool_version: "test".into(),
            method: "deterministic".into(),
            cardinality: "one-to-one".into(),
            left: InputInfo::of(left),
            right: InputInfo::of(right),
            rules: vec![],
            model: None,
            summary: LinkSummary::default(),
            links_file: String::new(),
            links_sha256: String::new(),
            ambiguous_file: String::new(),
        }
    }

    /// The cascade's links written as they are, and the same links made
    /// into full rows, give the same bytes: in each table format and in
    /// the extract.
    /// `d` with a payload column `label` holding `values`, and ids that
    /// need quoting in CSV.
    fn with_payload(mut d: Dataset, label: &str, values: &[&str]) -> Dataset {
        let mut ids = super::super::data::StrColumn::default();
        let mut text = super::super::data::StrColumn::default();
        for (i, v) in values.iter().enumerate() {
            ids.push(format!("{label} {i}, \"x\"").as_bytes());
            text.push(v.as_bytes());
        }
        d.ids = ids;
        d.manifest.columns.push(crate::manifest::ColumnInfo {
            name: "note".into(),
            role: "payload".into(),
            field: None,
            encoding: None,
            domain: None,
        });
        d.columns.insert("note".into(), Column::Text(text));
        d
    }

    #[test]
    fn links_and_rows_are_written_alike() {
        let left = with_payload(
            dataset(&[("a", vec![0; 5])]),
            "l",
            &["a", "b,c", "", "d", "e"],
        );
        let right = with_payload(dataset(&[("a", vec![0; 4])]), "r", &["w", "x", "y\"z", "q"]);
        let links = vec![
            Link {
                left: 0,
                right: 3,
                rule: 1,
            },
            Link {
                left: 2,
                right: 0,
                rule: 0,
            },
            Link {
                left: 2,
                right: 1,
                rule: 1,
            },
            Link {
                left: 4,
                right: 2,
                rule: 0,
            },
        ];
        let rows: Vec<LinkRow> = links.iter().map(LinkRow::from).collect();
        // Rule names hold no commas or quotes (`RulesFile::from_toml`).
        let names = vec!["nhs".to_string(), "names_dob".to_string()];
        let dir = tempfile::tempdir().unwrap();
        let secret =
            crate::secret::Secret::from_bytes(zeroize::Zeroizing::new(vec![7u8; 32])).unwrap();
        let key = PseudonymKey::new(&secret, "project").unwrap();
        let opts = ExtractOptions {
            key: &key,
            left_label: "nhs",
            right_label: "dwp",
            include_unlinked_left: true,
        };
        let formats = [
            LinkFormat::Deterministic,
            LinkFormat::Scored { explain: vec![] },
        ];
        for (f, format) in formats.iter().enumerate() {
            let mut written = Vec::new();
            for (name, table) in [
                ("links", Links::Deterministic(&links)),
                ("rows", Links::Scored(&rows)),
            ] {
                let path = dir.path().join(format!("{name}-{f}.csv"));
                let m = write_links(
                    &path,
                    format,
                    table,
                    &left,
                    &right,
                    &[],
                    &names,
                    manifest(&left, &right),
                )
                .unwrap();
                let x = dir.path().join(format!("{name}-{f}-extract.csv"));
                assert_eq!(write_extract(&x, table, &left, &right, &opts).unwrap(), 6);
                written.push((
                    std::fs::read(&path).unwrap(),
                    m.links_sha256,
                    std::fs::read(&x).unwrap(),
                ));
            }
            assert_eq!(written[0], written[1]);
            let text = String::from_utf8(written[0].0.clone()).unwrap();
            let rows = "\"l 0, \"\"x\"\"\",\"r 3, \"\"x\"\"\",";
            let expected = match format {
                LinkFormat::Deterministic => format!("left_id,right_id,rule\n{rows}names_dob\n"),
                LinkFormat::Scored { .. } => format!(
                    "left_id,right_id,method,rule,match_weight,match_probability\n{rows}deterministic,names_dob,,\n"
                ),
            };
            assert!(text.starts_with(&expected), "{text}");
            assert_eq!(text.lines().count(), 5);
            // The extract: both sides' payload, linked rows then the
            // unlinked left ones (records 1 and 3).
            let extract = String::from_utf8(written[0].2.clone()).unwrap();
            let payload: Vec<String> = extract
                .lines()
                .skip(1)
                .map(|l| l.split(',').skip(2).collect::<Vec<_>>().join(","))
                .collect();
            assert_eq!(
                payload,
                [
                    "deterministic,,a,q",
                    "deterministic,,,w",
                    "deterministic,,,x",
                    "deterministic,,e,\"y\"\"z\"",
                    ",,\"b,c\",",
                    ",,d,",
                ]
            );
        }
    }
}
