//! Progress bars on stderr, shown only when stderr is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A byte-counting progress bar for reading a file of `total` bytes, or a
/// hidden one when stderr is not a terminal (logs stay clean).
pub fn bytes_bar(message: &str, total: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::no_length(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A counter of records for a multi-stage job; the message names the
/// stage.
pub fn counter_bar(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::no_length();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:>14} {human_pos} records ({elapsed})")
            .expect("valid template"),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(150));
    bar
}

/// Prints a line about a long step: above the bar on a terminal, as a
/// plain line otherwise, so that logs keep it.
pub fn note(bar: &ProgressBar, message: &str) {
    if bar.is_hidden() {
        eprintln!("linkwell: {message}");
    } else {
        bar.println(format!("linkwell: {message}"));
    }
}
