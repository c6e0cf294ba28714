//! The `dps-tui` command line: the TUI (default), headless training, evaluation, benchmarks,
//! and run management.

mod cli;

/// Whether an error is a write to a closed pipe (`dps-tui export RUN | head -1`): the reader
/// has what it wanted, so the program ends quietly.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes, `: `-separated as anyhow's `{:#}` writes them, leaving out a cause
/// whose words the message already holds (an error that quotes its own source).
fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if text.contains(&c) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&c);
    }
    text
}

fn main() {
    dps_tui::train::allocator::keep_freed_memory();
    dps_tui::train::setup::single_threaded_candle_pool();
    let args = cli::parse();
    let code = match cli::run(args) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            2
        }
    };
    std::process::exit(code);
}
