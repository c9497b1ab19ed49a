//! End-to-end tests of the `linkwell` command. One test binary (see
//! Cargo.toml `[[test]]`) with a module per command, so the suite links
//! once.

mod util;

mod accuracy;
mod evaluate;
mod keys;
mod link;
mod report;
mod synth;
mod tokenise;
