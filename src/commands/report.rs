//! `linkwell report`: the linkage-quality report.

use linkwell::report::{self, ReportRequest, Suppression};

use crate::cli::ReportArgs;

pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let data = report::build(&ReportRequest {
        links: args.links.clone(),
        left: args.left.clone(),
        right: args.right.clone(),
        model: args.model.clone(),
        truth: args.truth.clone(),
        left_dataset: args.left_dataset.clone(),
        right_dataset: args.right_dataset.clone(),
        scores: args.scores.clone(),
        subgroups: args.subgroup.clone(),
        suppression: if args.unsuppressed {
            Suppression::Unsuppressed
        } else {
            Suppression::default()
        },
        title: args.title.clone(),
    })?;
    let json = report::write(&data, &args.out)?;
    println!(
        "linkwell: wrote {} and {}{}",
        args.out.display(),
        json.display(),
        if data.suppressed {
            " (small counts suppressed)"
        } else {
            " (UNSUPPRESSED: for use inside the TRE only)"
        }
    );
    Ok(())
}
