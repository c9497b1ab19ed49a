//! One module per subcommand.

use crate::cli::{Cli, Command};

mod demo;
mod evaluate;
mod keys;
mod link;
mod report;
mod synth;
mod tokenise;

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Keygen(a) => keys::keygen(&a),
        Command::Fingerprint(a) => keys::fingerprint(&a),
        Command::Tokenise(a) => tokenise::run(&a),
        Command::Link(a) => link::run(&a),
        Command::Train(a) => link::train(&a),
        Command::Demo(a) => demo::run(&a),
        Command::Synth(a) => synth::run(&a),
        Command::Evaluate(a) => evaluate::run(&a),
        Command::Report(a) => report::run(&a),
    }
}
