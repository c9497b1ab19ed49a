//! CSV serialisation of records, the output directory and its README.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::config::{Config, View};
use crate::dates::write_date;
use crate::errors::ErrorKind;
use crate::views::{
    benefit_code, industry_label, pay_band_label, ChunkRecords, DwpRecord, Identity, NhsRecord,
    OnsRecord,
};

/// The header row of each view's file.
pub fn header(view: View) -> &'static str {
    match view {
        View::Nhs => "patient_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode,icb,referral,referral_date",
        View::Ons => "ons_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode,employment_status,annual_pay_band,industry",
        View::Dwp => "claim_id,nino,given_name,family_name,date_of_birth,sex,postcode,benefit,claim_start,claim_end",
    }
}

/// The header row of `truth.csv`.
pub const TRUTH_HEADER: &str = "dataset,record_id,person_id,errors";

/// The name of the truth file.
pub const TRUTH_FILE: &str = "truth.csv";

/// The name of the README written beside the data.
pub const README_FILE: &str = "README.md";

/// The letter that starts every record id of a view: `P` (patient), `E`
/// (employment), `C` (claim).
pub fn id_prefix(view: View) -> u8 {
    match view {
        View::Nhs => b'P',
        View::Ons => b'E',
        View::Dwp => b'C',
    }
}

/// Digits in a record id after the prefix letter.
pub const ID_DIGITS: usize = 12;

/// A record id as written: prefix letter and twelve digits.
pub fn format_id(view: View, id: u64) -> String {
    let mut v = Vec::with_capacity(13);
    push_id(&mut v, view, id);
    String::from_utf8(v).expect("ASCII")
}

fn push_id(out: &mut Vec<u8>, view: View, id: u64) {
    out.push(id_prefix(view));
    push_padded(out, id, ID_DIGITS);
}

fn push_padded(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for i in (0..width).rev() {
        out[start + i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn push_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends a CSV field, quoted only when it has to be.
fn push_field(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn push_identity(out: &mut Vec<u8>, view: View, id: &Identity) {
    push_field(out, &id.given_name);
    out.push(b',');
    push_field(out, &id.family_name);
    out.push(b',');
    if let Some(d) = id.date_of_birth {
        write_date(out, d, id.date_style);
    }
    out.push(b',');
    out.extend_from_slice(id.sex.code(view).as_bytes());
    out.push(b',');
    if let Some(p) = &id.postcode {
        push_field(out, p.as_str());
    }
}

fn push_truth(out: &mut Vec<u8>, view: View, id: u64, person: u64, errors: crate::ErrorSet) {
    out.extend_from_slice(view.dataset().as_bytes());
    out.push(b',');
    push_id(out, view, id);
    out.push(b',');
    push_u64(out, person);
    out.push(b',');
    errors.write_to(out);
    out.push(b'\n');
}

/// Appends NHS rows (and their truth rows).
pub(crate) fn nhs_rows(records: &[NhsRecord], out: &mut Vec<u8>, truth: &mut Vec<u8>) {
    for r in records {
        push_id(out, View::Nhs, r.patient_id);
        out.push(b',');
        if let Some(n) = &r.nhs_number {
            out.extend_from_slice(n);
        }
        out.push(b',');
        push_identity(out, View::Nhs, &r.id);
        out.push(b',');
        push_field(out, r.icb);
        out.push(b',');
        match r.referral {
            Some((service, date)) => {
                out.extend_from_slice(service.name().as_bytes());
                out.push(b',');
                write_date(out, date, r.id.date_style);
            }
            None => out.extend_from_slice(b"none,"),
        }
        out.push(b'\n');
        push_truth(truth, View::Nhs, r.patient_id, r.person_id, r.errors);
    }
}

/// Appends ONS rows (and their truth rows).
pub(crate) fn ons_rows(records: &[OnsRecord], out: &mut Vec<u8>, truth: &mut Vec<u8>) {
    for r in records {
        push_id(out, View::Ons, r.ons_id);
        out.push(b',');
        if let Some(n) = &r.nhs_number {
            out.extend_from_slice(n);
        }
        out.push(b',');
        push_identity(out, View::Ons, &r.id);
        out.push(b',');
        out.extend_from_slice(r.employment.status.name().as_bytes());
        out.push(b',');
        out.extend_from_slice(pay_band_label(&r.employment).as_bytes());
        out.push(b',');
        push_field(out, industry_label(&r.employment));
        out.push(b'\n');
        push_truth(truth, View::Ons, r.ons_id, r.person_id, r.errors);
    }
}

/// Appends DWP rows (and their truth rows).
pub(crate) fn dwp_rows(records: &[DwpRecord], out: &mut Vec<u8>, truth: &mut Vec<u8>) {
    for r in records {
        push_id(out, View::Dwp, r.claim_id);
        out.push(b',');
        out.extend_from_slice(r.nino.as_str().as_bytes());
        out.push(b',');
        push_identity(out, View::Dwp, &r.id);
        out.push(b',');
        out.extend_from_slice(benefit_code(r.claim.benefit).as_bytes());
        out.push(b',');
        write_date(out, r.claim.start, r.id.date_style);
        out.push(b',');
        if let Some(e) = r.claim.end {
            write_date(out, e, r.id.date_style);
        }
        out.push(b'\n');
        push_truth(truth, View::Dwp, r.claim_id, r.person_id, r.errors);
    }
}

/// One chunk, serialised.
#[derive(Default)]
pub(crate) struct ChunkBytes {
    pub files: [Vec<u8>; 4],
    pub counts: [u64; 3],
    pub people: u64,
}

pub(crate) fn serialise(rec: &ChunkRecords, people: u64) -> ChunkBytes {
    let mut b = ChunkBytes {
        people,
        ..ChunkBytes::default()
    };
    let [nhs, ons, dwp, truth] = &mut b.files;
    nhs.reserve(rec.nhs.len() * 120);
    ons.reserve(rec.ons.len() * 130);
    dwp.reserve(rec.dwp.len() * 100);
    truth.reserve((rec.nhs.len() + rec.ons.len() + rec.dwp.len()) * 36);
    nhs_rows(&rec.nhs, nhs, truth);
    ons_rows(&rec.ons, ons, truth);
    dwp_rows(&rec.dwp, dwp, truth);
    b.counts = [
        rec.nhs.len() as u64,
        rec.ons.len() as u64,
        rec.dwp.len() as u64,
    ];
    b
}

/// The five output files of a directory, in order: the three views,
/// `truth.csv`, `README.md`.
pub fn output_files(dir: &Path) -> [PathBuf; 5] {
    [
        dir.join(View::Nhs.file_name()),
        dir.join(View::Ons.file_name()),
        dir.join(View::Dwp.file_name()),
        dir.join(TRUTH_FILE),
        dir.join(README_FILE),
    ]
}

pub(crate) fn temp_path(final_path: &Path) -> PathBuf {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    final_path.with_file_name(format!(".{name}.tmp"))
}

/// Writes bytes to a new file (through a temporary name).
pub(crate) fn write_file_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// The README written beside the data: columns, the error vocabulary and
/// the rates used.
pub fn readme(config: &Config, people: u64, seed: u64, counts: &crate::Counts) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Synthetic NHS, ONS and DWP records\n\n\
         Made by `linkwell synth` (linkwell-synth {}) for {people} synthetic people with seed {seed}.\n\
         Every person, name, NHS number and NINO here is made up: NHS numbers are in the 9xx test\n\
         range, which is never issued to a patient. The same seed, people and configuration give\n\
         byte-identical files on any machine and any number of threads.\n",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(s, "| file | records |\n|---|---|");
    let _ = writeln!(s, "| nhs_patients.csv | {} |", counts.nhs);
    let _ = writeln!(s, "| ons_employment.csv | {} |", counts.ons);
    let _ = writeln!(s, "| dwp_claims.csv | {} |", counts.dwp);
    let _ = writeln!(s, "| truth.csv | {} |\n", counts.truth());
    s.push_str(COLUMNS_DOC);
    let _ = writeln!(
        s,
        "\n## Error kinds in `truth.csv`\n\n`errors` lists the kinds applied to the record, `;`-separated, in this order; empty when the record is clean.\n\n| kind | meaning |\n|---|---|"
    );
    for k in ErrorKind::ALL {
        let _ = writeln!(s, "| `{}` | {} |", k.name(), k.description());
    }
    let _ = writeln!(
        s,
        "\n## Error rates used\n\nProbabilities per record of the view (see the notes on which records a rate applies to).\n\n| key | nhs | ons | dwp | meaning |\n|---|---|---|---|---|"
    );
    let rates: Vec<_> = View::ALL.iter().map(|&v| config.view(v).rates()).collect();
    for (i, (key, doc)) in crate::config::ViewConfig::RATE_DOCS.iter().enumerate() {
        let _ = writeln!(
            s,
            "| `{key}` | {} | {} | {} | {doc} |",
            rates[0][i].1, rates[1][i].1, rates[2][i].1
        );
    }
    let _ = writeln!(
        s,
        "\nDate formats: nhs `{}`, ons `{}`, dwp `{}`. Name case: nhs `{}`, ons `{}`, dwp `{}`.\n",
        config.nhs.date_format.name(),
        config.ons.date_format.name(),
        config.dwp.date_format.name(),
        config.nhs.name_case.name(),
        config.ons.name_case.name(),
        config.dwp.name_case.name()
    );
    let _ = writeln!(
        s,
        "`nickname` applies to records whose forename has a nickname; `surname_change` to records of women aged 18 and over; `dob_day_month_swap` to dates whose day is 12 or less and differs from the month; `dob_default` to dates not already 1 January; `moved` is decided once per household and view.\n\n\
         ## The configuration\n\n```toml\n{}```",
        config.to_toml()
    );
    s
}

const COLUMNS_DOC: &str = "## Columns

`nhs_patients.csv` — people registered with a GP (the spine: about 99% of the population).

| column | meaning |
|---|---|
| patient_id | record id: `P` and 12 digits, unique in the file, says nothing about the person |
| nhs_number | 10 digits (9xx test range); empty when missing; a few mistyped |
| given_name, family_name | as recorded |
| date_of_birth | `YYYY-MM-DD` unless the configuration asks for another format |
| sex | NHS data dictionary: `1` male, `2` female, `9` not specified, `0` not known |
| postcode | UK postcode, `OUTWARD INWARD` |
| icb | integrated care board (by postcode area, approximate) |
| referral | health-and-work service: `physiotherapy`, `musculoskeletal`, `mental_health`, `cardiac_rehabilitation` or `none` |
| referral_date | date of the referral, empty when `none` |

`ons_employment.csv` — pay and employment records for most people aged 16–66 (and those aged 67–74 in work).

| column | meaning |
|---|---|
| ons_id | record id: `E` and 12 digits |
| nhs_number | present on most rows, not all |
| given_name, family_name, date_of_birth, postcode | as above |
| sex | `M`, `F`, `U` (not known) or empty (not specified) |
| employment_status | `employed`, `self_employed`, `unemployed`, `inactive` |
| annual_pay_band | gross annual pay in pounds (`0-9999` ... `100000+`), empty when not in work |
| industry | SIC 2007 section (grouped), empty when not in work |

`dwp_claims.csv` — benefit claims for a minority of adults, one to five per person, no NHS number.

| column | meaning |
|---|---|
| claim_id | record id: `C` and 12 digits |
| nino | National Insurance number (valid format and prefix) |
| given_name, family_name, date_of_birth, sex, postcode | as in the ONS file |
| benefit | `UC` Universal Credit, `ESA` Employment and Support Allowance, `JSA` Jobseeker's Allowance, `PIP` Personal Independence Payment, `CA` Carer's Allowance, `PC` Pension Credit, `AA` Attendance Allowance |
| claim_start, claim_end | dates; `claim_end` empty while the claim is open |

`truth.csv` — one row for every record of the three files.

| column | meaning |
|---|---|
| dataset | `nhs_patients`, `ons_employment` or `dwp_claims` (the file it describes) |
| record_id | the record's id in that file |
| person_id | the synthetic person (`0` .. people-1); records with the same person_id are the same person |
| errors | the error kinds applied to the record |

Rows are shuffled within blocks of 8,192 people; a linker must not use row order.
";
