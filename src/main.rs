//! The `dps-tui` command line: the TUI (default), headless training, evaluation, benchmarks,
//! and run management.

mod cli;

use clap::Parser;

fn main() {
    dps_tui::train::allocator::keep_freed_memory();
    dps_tui::train::setup::single_threaded_candle_pool();
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
