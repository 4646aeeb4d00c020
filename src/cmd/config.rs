//! `logtui config`: prints the effective configuration (defaults, then file, then flags) as TOML.
//! What it prints is a valid config file.

use crate::config::Config;

pub fn run(cfg: &Config) {
    print!("{}", cfg.to_toml());
}
