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
    let render = |c: &clap::Command, out: &mut Vec<u8>| -> std::io::Result<()> {
        let man = clap_mangen::Man::new(c.clone());
        man.render_title(out)?;
        man.render_name_section(out)?;
        man.render_synopsis_section(out)?;
        man.render_description_section(out)?;
        man.render_options_section(out)?;
        if c.get_subcommands().next().is_some() {
            man.render_subcommands_section(out)?;
        }
        man.render_extra_section(out)?;
        man.render_version_section(out)
    };
    render(&cmd, &mut out).context("cannot render the man page")?;
    // Each subcommand's options in its own section, as its `--help` has them.
    for sub in cmd.get_subcommands() {
        let name = format!("logtui {}", sub.get_name());
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        let man = clap_mangen::Man::new(sub.clone().bin_name(name));
        man.render_synopsis_section(&mut out)?;
        man.render_options_section(&mut out)?;
        man.render_extra_section(&mut out)?;
    }
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader saying it has enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to standard output"),
    }
}
