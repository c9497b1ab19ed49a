use std::fmt::Write as _;

use anyhow::Context;
use linkwell::schema::{Kind, SchemaSpec};
use linkwell::secret::Secret;
use linkwell::tokenise::{tokenise_file, Progress, TokeniseOptions};

use crate::cli::TokeniseArgs;
use crate::progress;

/// Reads the header row only, for building the default schema.
fn header_of(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let h = rdr
        .byte_headers()
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(h.iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_string())
        .collect())
}

fn spec_for(args: &TokeniseArgs) -> anyhow::Result<Option<SchemaSpec>> {
    let mut spec = match &args.schema {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read schema {}", p.display()))?;
            SchemaSpec::from_toml(&text).with_context(|| format!("schema {}", p.display()))?
        }
        None => {
            if args.id_column.is_none() && args.nhs_column.is_none() && args.keep.is_empty() {
                return Ok(None);
            }
            let header = header_of(&args.input)?;
            let mut hdr: Vec<&str> = header.iter().map(String::as_str).collect();
            if let Some(nhs) = &args.nhs_column {
                // The named column plays the part of nhs_number.
                if !hdr.contains(&nhs.as_str()) {
                    anyhow::bail!(
                        "{}: the NHS number column {nhs:?} is not in the input; its columns are: {}",
                        args.input.display(),
                        linkwell::schema::describe_columns(&hdr)
                    );
                }
                hdr.retain(|h| *h != "nhs_number");
                hdr.push("nhs_number");
            }
            let mut spec = SchemaSpec::default_for(&hdr);
            if let Some(nhs) = &args.nhs_column {
                for f in &mut spec.fields {
                    if f.kind == Kind::NhsNumber {
                        f.column = nhs.clone();
                    }
                }
            }
            spec
        }
    };
    if let Some(id) = &args.id_column {
        spec.id_column = Some(id.clone());
    }
    if !args.keep.is_empty() {
        spec.keep = args.keep.clone();
    }
    Ok(Some(spec))
}

/// The fingerprint of the published test secret (bytes 00..1f): its tokens
/// are reversible by anyone who reads the README.
pub const TEST_KEY_FINGERPRINT: &str = "6d1cc2b0ca43e3cb";

pub fn run(args: &TokeniseArgs) -> anyhow::Result<()> {
    let secret = Secret::load_from(args.key.key_file.as_deref())?;
    anyhow::ensure!(
        secret.fingerprint().to_string() != TEST_KEY_FINGERPRINT
            || std::env::var_os("LINKWELL_ALLOW_TEST_KEY").is_some(),
        "the key file holds linkwell's published test secret (fingerprint {TEST_KEY_FINGERPRINT}), whose tokens anyone can reverse: make a real key with `linkwell keygen` (tests may set LINKWELL_ALLOW_TEST_KEY=1)"
    );
    let spec = spec_for(args)?;
    let bar = progress::bytes_bar("tokenising", None);
    let on_progress = |p: Progress| {
        if let Some(t) = p.total_bytes {
            bar.set_length(t);
        }
        bar.set_position(p.bytes);
    };
    let started = std::time::Instant::now();
    let summary = tokenise_file(
        &secret,
        spec.as_ref(),
        &args.input,
        &args.output,
        &TokeniseOptions {
            progress: Some(&on_progress),
            ..TokeniseOptions::default()
        },
    )?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let c = &summary.manifest.counts;
    let mut msg = format!(
        "linkwell: tokenised {}: read {} records = {} written + {} rejected{} in {:.1}s ({:.0} records/s); key fingerprint {}",
        args.input.display(),
        c.read,
        c.written,
        c.rejected,
        if c.reconciles() { "" } else { " (COUNTS DO NOT RECONCILE)" },
        secs,
        c.read as f64 / secs.max(1e-9),
        summary.manifest.key_fingerprint,
    );
    for (field, statuses) in &c.fields {
        let parts: Vec<String> = statuses
            .iter()
            .filter(|(_, &n)| n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let _ = write!(msg, "\n  {field}: {}", parts.join(", "));
    }
    let _ = write!(
        msg,
        "\n  wrote {} and {}",
        args.output.display(),
        linkwell::io::manifest_path(&args.output).display()
    );
    let clear = summary.manifest.schema.kept_identifiers();
    if !clear.is_empty() {
        let _ = write!(
            msg,
            "\n  WARNING: identifier columns kept in clear because --keep named them: {}; the output is not safe to send to the TRE",
            clear.join(", ")
        );
    }
    if c.rejected > 0 {
        let _ = write!(
            msg,
            "\n  {} rejected records are listed in {} (line and reason); the first:",
            c.rejected,
            summary.rejects_path.display()
        );
        for r in summary.first_rejects.iter().take(5) {
            let _ = write!(msg, "\n    line {}: {}", r.line, r.reason);
        }
    }
    if spec.is_none() {
        let fields: Vec<&str> = summary
            .manifest
            .schema
            .fields
            .iter()
            .map(|f| f.column.as_str())
            .collect();
        let _ = write!(
            msg,
            "\n  default schema: encoded {}; other columns dropped (give --schema or --keep to change this)",
            fields.join(", ")
        );
    }
    eprintln!("{msg}");
    Ok(())
}
