//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Privacy-preserving record linkage: keyed tokens on the data owners'
/// side, linkage on encoded files in a trusted research environment.
#[derive(Debug, Parser)]
#[command(name = "linkwell", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a new 256-bit secret (a linkage secret, or a TRE project key)
    /// in a new file readable only by you.
    Keygen(KeygenArgs),
    /// Print the public fingerprint of a secret.
    Fingerprint(KeyArgs),
    /// Encode the identifiers of a CSV file as keyed tokens and Bloom
    /// filters (run by each data owner).
    Tokenise(TokeniseArgs),
    /// Link two encoded files (run in the TRE; needs no secret).
    Link(LinkArgs),
    /// Train a probabilistic model on two encoded files and save it as
    /// JSON for `link --model`.
    Train(TrainArgs),
    /// The whole story on built-in synthetic data: generate NHS, ONS and
    /// DWP files, tokenise each as its owner would, link them in the TRE,
    /// evaluate against the truth and write the reports.
    Demo(DemoArgs),
    /// Generate a synthetic population: NHS, ONS and DWP files with
    /// realistic errors, and the ground truth.
    Synth(SynthArgs),
    /// Measure a link table against ground truth: precision, recall and
    /// F1, by rule, by error kind and across thresholds.
    Evaluate(EvaluateArgs),
    /// Write the linkage-quality report: one self-contained HTML page with
    /// charts, and its figures as JSON, small counts suppressed.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the key (must not exist).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The key file (mode 0600). Defaults to the file named by the
    /// environment variable LINKWELL_KEY_FILE. Keys are never accepted on
    /// the command line.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TokeniseArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// The input CSV (UTF-8, with a header row).
    #[arg(long, value_name = "IN.csv")]
    pub input: PathBuf,
    /// The encoded output CSV. OUT.manifest.json and OUT.rejects.csv are
    /// written beside it.
    #[arg(long, value_name = "OUT.csv")]
    pub output: PathBuf,
    /// A TOML schema naming the identifier columns, their kinds and
    /// encodings. Without it, every standard identifier column present
    /// (nhs_number, given_name, family_name, date_of_birth, sex, postcode)
    /// is encoded with default encodings.
    #[arg(long, value_name = "schema.toml")]
    pub schema: Option<PathBuf>,
    /// The record id column (default: the schema's, else the first column).
    #[arg(long, value_name = "COL")]
    pub id_column: Option<String>,
    /// The NHS number column, when it is not called nhs_number (default
    /// schema only).
    #[arg(long, value_name = "COL", conflicts_with = "schema")]
    pub nhs_column: Option<String>,
    /// Columns to copy through unchanged (payload), comma-separated. Never
    /// name an identifier here unless it may leave in clear.
    #[arg(long, value_name = "COL,...", value_delimiter = ',')]
    pub keep: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    Deterministic,
    Probabilistic,
    Cascade,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CardinalityArg {
    OneToOne,
    OneToMany,
    ManyToMany,
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Left encoded file (its manifest must sit beside it).
    #[arg(long, value_name = "L.csv")]
    pub left: PathBuf,
    /// Right encoded file.
    #[arg(long, value_name = "R.csv")]
    pub right: PathBuf,
    /// The link table to write (LINKS.manifest.json and
    /// LINKS.ambiguous.csv are written beside it).
    #[arg(long, value_name = "links.csv")]
    pub output: PathBuf,
    /// Linkage method: the deterministic cascade, Fellegi–Sunter, or the
    /// cascade followed by Fellegi–Sunter on what it left unlinked.
    #[arg(long, value_enum, default_value = "cascade")]
    pub method: MethodArg,
    /// The probabilistic model: a TOML spec (trained on these files) or a
    /// trained model from `linkwell train` (.json). Default: the built-in
    /// model for the NHS/ONS/DWP schema, trained on these files.
    #[arg(long, value_name = "model.toml|trained.json")]
    pub model: Option<PathBuf>,
    /// Link pairs with at least this match probability (overrides the
    /// model).
    #[arg(long, value_name = "P", conflicts_with = "threshold_weight")]
    pub threshold_probability: Option<f64>,
    /// Link pairs with at least this match weight (overrides the model).
    #[arg(long, value_name = "W", allow_hyphen_values = true)]
    pub threshold_weight: Option<f64>,
    /// Add each comparison's level and weight to every probabilistic link.
    #[arg(long)]
    pub explain: bool,
    /// Write the N candidate pairs nearest the threshold to
    /// LINKS.review.csv for clerical review (ids and levels only).
    #[arg(long, value_name = "N")]
    pub review_sample: Option<usize>,
    /// Save the trained model as JSON.
    #[arg(long, value_name = "trained.json")]
    pub save_model: Option<PathBuf>,
    /// Write every scored candidate pair (left_id,right_id,match_weight,
    /// match_probability), so that `evaluate` and `report` can draw the
    /// precision-recall curve below the threshold. Inside the TRE only.
    #[arg(long, value_name = "scores.csv")]
    pub scores: Option<PathBuf>,
    /// A TOML file of deterministic rules (default: the built-in cascade).
    #[arg(long, value_name = "rules.toml")]
    pub rules: Option<PathBuf>,
    /// How many records each record may link to (default: the rules
    /// file's, else one-to-one).
    #[arg(long, value_enum)]
    pub cardinality: Option<CardinalityArg>,
    /// Also write the linked research extract: payload columns of both
    /// sides with ids replaced by per-project pseudonyms.
    #[arg(long, value_name = "extract.csv", requires = "pseudonym_key_file")]
    pub extract: Option<PathBuf>,
    /// The TRE's project key (from `linkwell keygen`) for pseudonyms.
    #[arg(long, value_name = "FILE", requires = "extract")]
    pub pseudonym_key_file: Option<PathBuf>,
    /// Project name for pseudonyms (a-z, 0-9, _): different projects'
    /// pseudonyms cannot be joined. Required with --extract.
    #[arg(long, requires = "extract")]
    pub project: Option<String>,
    /// Label for the left dataset in the extract (a-z, 0-9, _): part of
    /// every pseudonym, so give each dataset its own.
    #[arg(long, default_value = "left")]
    pub left_label: String,
    /// Label for the right dataset in the extract.
    #[arg(long, default_value = "right")]
    pub right_label: String,
    /// Include left records with no link in the extract.
    #[arg(long, requires = "extract")]
    pub extract_unlinked_left: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Left encoded file.
    #[arg(long, value_name = "L.csv")]
    pub left: PathBuf,
    /// Right encoded file.
    #[arg(long, value_name = "R.csv")]
    pub right: PathBuf,
    /// A TOML model spec (default: the built-in model).
    #[arg(long, value_name = "model.toml")]
    pub model: Option<PathBuf>,
    /// Where to write the trained model.
    #[arg(long, value_name = "trained.json")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// How many people (at most about 90 million).
    #[arg(long, value_name = "N", required_unless_present = "print_config")]
    pub people: Option<u64>,
    /// Random seed: the same seed, people and config give byte-identical
    /// files on any machine.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Output directory (created if needed). Refused when it already has
    /// files in it, unless --force.
    #[arg(long, value_name = "DIR", required_unless_present = "print_config")]
    pub out: Option<PathBuf>,
    /// A TOML file of error rates and settings; keys left out keep their
    /// documented defaults (see --print-config).
    #[arg(long, value_name = "synth.toml")]
    pub config: Option<PathBuf>,
    /// Write into an output directory that is not empty, replacing the
    /// generated files there.
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: all cores). Output does not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Print the configuration (defaults, or --config merged over them) as
    /// TOML and exit.
    #[arg(long)]
    pub print_config: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// People in the synthetic population.
    #[arg(long, default_value_t = 100_000)]
    pub people: u64,
    /// Seed for the synthetic population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory (its previous demo files are replaced).
    #[arg(long, value_name = "DIR", default_value = "demo-out")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The link table (from `linkwell link`; its manifest gives the
    /// cardinality).
    #[arg(long, value_name = "links.csv")]
    pub links: PathBuf,
    /// Ground truth: dataset,record_id,person_id[,errors] (as `linkwell
    /// synth` writes).
    #[arg(long, value_name = "truth.csv")]
    pub truth: PathBuf,
    /// The truth dataset of the left ids (default: inferred from the ids).
    #[arg(long, value_name = "NAME")]
    pub left_dataset: Option<String>,
    /// The truth dataset of the right ids (default: inferred from the ids).
    #[arg(long, value_name = "NAME")]
    pub right_dataset: Option<String>,
    /// Every scored candidate pair (left_id,right_id,match_weight), to
    /// extend the precision-recall curve below the link threshold.
    #[arg(long, value_name = "scores.csv")]
    pub scores: Option<PathBuf>,
    /// The cardinality recall is measured under (default: the links
    /// manifest's).
    #[arg(long, value_enum)]
    pub cardinality: Option<CardinalityArg>,
    /// Also write the evaluation as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The link table (its manifest must sit beside it).
    #[arg(long, value_name = "links.csv")]
    pub links: PathBuf,
    /// The left encoded file the links were made from.
    #[arg(long, value_name = "L.csv")]
    pub left: PathBuf,
    /// The right encoded file.
    #[arg(long, value_name = "R.csv")]
    pub right: PathBuf,
    /// A trained model (default: the model in the links manifest).
    #[arg(long, value_name = "trained.json")]
    pub model: Option<PathBuf>,
    /// Ground truth, for precision, recall and the precision-recall curve.
    #[arg(long, value_name = "truth.csv")]
    pub truth: Option<PathBuf>,
    /// The truth dataset of the left file (default: inferred).
    #[arg(long, value_name = "NAME", requires = "truth")]
    pub left_dataset: Option<String>,
    /// The truth dataset of the right file (default: inferred).
    #[arg(long, value_name = "NAME", requires = "truth")]
    pub right_dataset: Option<String>,
    /// Every scored candidate pair, to extend the curve below the link
    /// threshold.
    #[arg(long, value_name = "scores.csv", requires = "truth")]
    pub scores: Option<PathBuf>,
    /// A payload column to report match rates by, besides age band, sex
    /// and ICB (repeat, or separate with commas).
    #[arg(long, value_name = "COL", value_delimiter = ',')]
    pub subgroup: Vec<String>,
    /// The page title.
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// Show exact counts, small cells included: for use inside the TRE
    /// only (the page says so in a red banner).
    #[arg(long)]
    pub unsuppressed: bool,
    /// The HTML page to write; its JSON is written beside it (same stem,
    /// .json).
    #[arg(long, value_name = "report.html")]
    pub out: PathBuf,
}
