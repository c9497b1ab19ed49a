//! One module per subcommand.

use crate::cli::{Cli, Command};

mod demo;
mod keys;
mod link;
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
    }
}
