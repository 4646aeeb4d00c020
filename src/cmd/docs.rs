//! `logtui completions SHELL` and `logtui man`: shell completion scripts and the manual page,
//! both generated from the same clap definition as `--help`, so they never disagree with it.

use crate::cli::Cli;
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::io::Write;

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "logtui", &mut out);
    write_stdout(&out)
}

/// Writes the man page, `logtui(1)`, with a section per subcommand, to stdout as roff.
pub fn man() -> Result<()> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    let top = clap_mangen::Man::new(cmd.clone());
    top.render_title(&mut out)?;
    top.render_name_section(&mut out)?;
    top.render_synopsis_section(&mut out)?;
    top.render_description_section(&mut out)?;
    top.render_options_section(&mut out)?;
    // One page: the commands are sections below, not pages of their own.
    writeln!(out, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(
            out,
            ".TP\n\\fBlogtui {}\\fR\n{}",
            sub.get_name(),
            roff(&about)
        )?;
    }
    examples(&cmd, &mut out)?;
    top.render_version_section(&mut out)?;
    // Each subcommand's options in its own section, as its `--help` has them.
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("logtui {}", sub.get_name());
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        if let Some(about) = sub.get_about() {
            writeln!(out, "{}", roff(&about.to_string()))?;
        }
        let man = clap_mangen::Man::new(sub.clone().bin_name(name));
        man.render_synopsis_section(&mut out)?;
        man.render_options_section(&mut out)?;
        examples(sub, &mut out)?;
    }
    write_stdout(&out)
}

/// A command's `after_help` examples, kept as written (no refilling), under `EXAMPLES`.
fn examples(cmd: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    let Some(text) = cmd.get_after_help().map(|t| t.to_string()) else {
        return Ok(());
    };
    let body = text.strip_prefix("Examples:\n").unwrap_or(&text);
    writeln!(out, ".SS EXAMPLES\n.nf")?;
    for line in body.lines() {
        writeln!(out, "{}", roff(line))?;
    }
    writeln!(out, ".fi")
}

/// Text made safe for roff: backslashes and hyphens escaped, no line starting with a control dot.
fn roff(s: &str) -> String {
    let t = s.replace('\\', "\\e").replace('-', "\\-");
    match t.starts_with(['.', '\'']) {
        true => format!("\\&{t}"),
        false => t,
    }
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader saying it has enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to standard output"),
    }
}
