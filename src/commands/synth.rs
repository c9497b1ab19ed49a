use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use linkwell_synth::{write_dir, Config, WriteOptions};

use crate::cli::SynthArgs;

fn people_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {human_pos}/{human_len} people ({per_sec}, {eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message("generating");
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    if args.print_config {
        print!("{}", config.to_toml());
        return Ok(());
    }
    let (Some(people), Some(out)) = (args.people, args.out.as_deref()) else {
        anyhow::bail!("--people and --out are required");
    };
    if !args.force && out.is_dir() {
        let mut entries =
            std::fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))?;
        if entries.next().is_some() {
            anyhow::bail!(
                "{} is not empty; choose a new directory or pass --force to replace the generated files in it",
                out.display()
            );
        }
    } else if out.exists() && !out.is_dir() {
        anyhow::bail!("{} exists and is not a directory", out.display());
    }

    let bar = people_bar(people);
    let progress = |n: u64| bar.set_position(n);
    let started = Instant::now();
    let summary = write_dir(
        &config,
        people,
        args.seed,
        out,
        &WriteOptions {
            overwrite: args.force,
            progress: Some(&progress),
            threads: args.threads,
        },
    )?;
    bar.finish_and_clear();
    let c = summary.counts;
    eprintln!(
        "linkwell: synthesised {} people (seed {}) into {}: {} NHS patients, {} ONS employment records, {} DWP claims, {} truth rows in {:.1}s",
        c.people,
        args.seed,
        out.display(),
        c.nhs,
        c.ons,
        c.dwp,
        c.truth(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
