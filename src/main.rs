//! The `logtui` binary: parses arguments, loads the config, and runs one subcommand.
//! Errors end here as one sentence on stderr and a non-zero exit.

use anyhow::{Result, anyhow};
use clap::Parser;
use logtui::cli::{Cli, Command};
use logtui::cmd;
use logtui::config::Config;

/// Records are allocated on the listener threads and freed on the index thread; glibc's
/// malloc pays heavily for that hand-off, and mimalloc measured about 1 µs less CPU per
/// stored record end to end (README, "Speed").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's number for its `purge_delay` option (`mi_option_purge_delay` in mimalloc.h,
/// the same in mimalloc 2 and 3); libmimalloc-sys names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Under the UI, freed memory goes back to the system at once rather than after mimalloc 3's
/// default delay of a second. A flood churns through some 56 MB of records a second, allocated
/// on the listeners and freed on the index thread, and a second's worth stayed resident: with
/// this the flooded UI peaked at 65 MB instead of 116 MB (medians of 3 alternating runs of
/// `benches/ui.py`'s live part), at the same ingest rate and CPU time (4.9 s against 5.0 s).
/// A delay of 10 ms or 100 ms kept most of it (90 MB, 95 MB).
/// `logtui record` keeps the default, which its throughput was measured with. A
/// `MIMALLOC_PURGE_DELAY` in the environment still wins.
fn purge_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set is a plain store into mimalloc's option table, and not thread
    // safe; this runs on the main thread before any other thread is started. Option 15 is
    // a delay in milliseconds, where 0 is a valid value ("purge at once").
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Under the UI, logtui's own log must not write over the screen.
    let ui = matches!(
        cli.command,
        None | Some(Command::View) | Some(Command::Demo(_))
    );
    if matches!(cli.command, None | Some(Command::Demo(_))) {
        purge_freed_memory_at_once();
    }
    init_log(cli.verbose, ui);
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logtui: {}", logtui::term::error_text(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    // These need no config: they describe the command line itself.
    match &cli.command {
        Some(Command::Completions(a)) => return cmd::docs::completions(a.shell),
        Some(Command::Man) => return cmd::docs::man(),
        _ => {}
    }
    let mut cfg = Config::load(cli.config.as_deref())?;
    if let Some(db) = &cli.db {
        cfg.db = db.clone();
    }
    match &cli.command {
        None => {
            // The UI owns the terminal: what these would print would land under it.
            if cli.record.echo {
                anyhow::bail!(
                    "--echo writes records to stdout, which the UI owns; use `logtui record --echo` for that"
                );
            }
            if cli.record.stats_interval.is_some() {
                anyhow::bail!(
                    "--stats-interval prints to stderr, which the UI owns; the UI's status bar shows the same counts (or use `logtui record --stats-interval`)"
                );
            }
            cli.record.apply(&mut cfg)
        }
        Some(Command::Record(a)) => a.apply(&mut cfg),
        Some(Command::Config(a)) => a.apply(&mut cfg),
        Some(Command::Channels(a)) => a.apply(&mut cfg),
        _ => {}
    }
    // The file was checked as it loaded; what fails now came from a flag.
    cfg.validate().map_err(|e| match e.flag() {
        Some(flag) => anyhow!("invalid {flag}: {}", e.why),
        None => anyhow!("invalid {e}"),
    })?;
    match &cli.command {
        None => cmd::ui::run(cfg, cmd::ui::Mode::Record),
        Some(Command::Demo(a)) => cmd::ui::run(cfg, cmd::ui::Mode::Demo { rate: a.rate }),
        Some(Command::View) => cmd::ui::view(cfg),
        Some(Command::Record(_)) => cmd::ui::runtime()?.block_on(cmd::record::run(cfg)),
        Some(Command::Query(a)) => cmd::query::run(&cfg.db, a),
        Some(Command::Channels(a)) => cmd::channels::run(&cfg, a),
        Some(Command::Emit(a)) => cmd::emit::run(a),
        Some(Command::Config(_)) => {
            cmd::config::run(&cfg);
            Ok(())
        }
        Some(Command::Completions(_)) | Some(Command::Man) => Ok(()),
    }
}

/// logtui's own log goes to stderr; LOGTUI_LOG (an env-filter) overrides `-v`.
fn init_log(verbose: u8, ui: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("LOGTUI_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    use std::io::IsTerminal;
    if ui {
        // The UI keeps the last lines and shows them in its status bar instead.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(logtui::tui::log::Ring::writer)
            .with_ansi(false)
            .with_target(false)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into files or pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number is mimalloc's `purge_delay`: its default is mimalloc 3's 1000 ms
    /// (or what MIMALLOC_PURGE_DELAY says), so a renumbering in an upgrade shows here.
    #[test]
    fn option_15_is_the_purge_delay() {
        let want = std::env::var("MIMALLOC_PURGE_DELAY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        // SAFETY: mi_option_get reads one entry of mimalloc's option table; nothing in this
        // test binary writes it.
        let got = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(got, want);
    }
}
