//! The `dps-tui` command line: the TUI (default), headless training, evaluation, benchmarks,
//! and run management.

mod cli;

use anyhow::Result;
use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    let code = match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

#[allow(dead_code)]
fn _assert_result_is_anyhow(r: Result<()>) -> Result<()> {
    r
}
