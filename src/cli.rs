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
    /// Generate a synthetic population: NHS, ONS and DWP files with
    /// realistic errors, and the ground truth.
    Synth(SynthArgs),
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
