//! The persister's settings, checked once: flush triggers, ignore rules, thresholds, retention.
//! Bad values are reported by `spawn` before anything starts, not discovered at the first record.

use crate::record::{Record, SourceKind, parse_level_arg};
use crate::store::config::{DropRule, StoreConfig};
use crate::store::error::StoreError;
use std::time::Duration;

/// [`StoreConfig`], validated and parsed.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub buffer_size: usize,
    pub buffer_bytes: usize,
    pub flush_level: i32,
    pub flush_interval: Duration,
    pub ignore: IgnoreRules,
    /// (level, count) for every level with a non-zero threshold.
    pub thresholds: Vec<(i32, u64)>,
    pub threshold_window: f64,
    pub retention_days: f64,
    pub retention_max_rows: u64,
}

impl Settings {
    pub fn from_config(c: &StoreConfig) -> Result<Settings, StoreError> {
        let bad = |key: &'static str, why: String| StoreError::Config { key, why };
        let flush_level = parse_level_arg(&c.flush_level).ok_or_else(|| {
            bad(
                "flush_level",
                format!("{:?} is not a level name or number", c.flush_level),
            )
        })?;
        if c.buffer_bytes == 0 {
            return Err(bad(
                "buffer_bytes",
                "0 would flush after every record; it must be a number of bytes > 0".into(),
            ));
        }
        if !c.flush_interval.is_finite() || c.flush_interval < 0.0 || c.flush_interval > 1e9 {
            return Err(bad(
                "flush_interval",
                format!("{} is not a number of seconds ≥ 0", c.flush_interval),
            ));
        }
        if !c.threshold_window.is_finite() || c.threshold_window < 0.0 {
            return Err(bad(
                "threshold_window",
                format!("{} is not a number of seconds ≥ 0", c.threshold_window),
            ));
        }
        if !c.retention_days.is_finite() || c.retention_days < 0.0 {
            return Err(bad(
                "retention_days",
                format!("{} is not a number of days ≥ 0", c.retention_days),
            ));
        }
        let mut thresholds = Vec::new();
        for (name, &count) in &c.thresholds {
            let level = parse_level_arg(name).ok_or_else(|| {
                bad(
                    "thresholds",
                    format!("{name:?} is not a level name or number"),
                )
            })?;
            if count > 0 {
                thresholds.retain(|&(l, _)| l != level);
                thresholds.push((level, count));
            }
        }
        Ok(Settings {
            buffer_size: c.buffer_size.max(1),
            buffer_bytes: c.buffer_bytes,
            flush_level,
            flush_interval: Duration::from_secs_f64(c.flush_interval),
            ignore: IgnoreRules {
                prefixes: c.ignored_logger_prefixes.clone(),
                names: c.ignored_logger_names.clone(),
                substrings: c.ignored_message_substrings.clone(),
                drops: c.drop_rules.clone(),
            },
            thresholds,
            threshold_window: c.threshold_window,
            retention_days: c.retention_days,
            retention_max_rows: c.retention_max_rows,
        })
    }

    pub fn retention_enabled(&self) -> bool {
        self.retention_days > 0.0 || self.retention_max_rows > 0
    }
}

/// Records that are not stored (after django-log-panel's IGNORED_* settings).
#[derive(Debug, Clone, Default)]
pub(crate) struct IgnoreRules {
    pub prefixes: Vec<String>,
    pub names: Vec<String>,
    pub substrings: Vec<String>,
    /// The `drop = true` routes; the first that matches counts the record.
    pub drops: Vec<DropRule>,
}

impl IgnoreRules {
    /// Whether `r` is to be skipped. logtui's own records never are.
    pub fn ignores(&self, r: &Record) -> bool {
        if r.source == SourceKind::Internal {
            return false;
        }
        let name = r.logger.as_str();
        self.names.iter().any(|n| n == name)
            || self.prefixes.iter().any(|p| {
                name.strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
            })
            || self
                .substrings
                .iter()
                .any(|s| r.message.contains(s.as_str()))
            || self.drops.iter().any(|d| {
                let hit = (d.drops)(r);
                if hit {
                    d.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                hit
            })
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
            && self.names.is_empty()
            && self.substrings.is_empty()
            && self.drops.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(logger: &str, msg: &str) -> Record {
        let mut r = Record::new(SourceKind::Tcp, "x");
        r.logger = logger.into();
        r.message = msg.into();
        r
    }

    #[test]
    fn ignore_rules_match_like_django_log_panel() {
        let rules = IgnoreRules {
            prefixes: vec!["pymongo".into()],
            names: vec!["noisy".into()],
            substrings: vec!["healthcheck".into()],
            drops: vec![DropRule {
                name: "debug".into(),
                drops: std::sync::Arc::new(|r: &Record| r.level < 20),
                hits: Default::default(),
            }],
        };
        assert!(rules.ignores(&rec("pymongo", "")));
        assert!(rules.ignores(&rec("pymongo.pool", "")));
        assert!(!rules.ignores(&rec("pymongoose", "")));
        assert!(rules.ignores(&rec("noisy", "")));
        assert!(!rules.ignores(&rec("noisy.child", "")));
        assert!(rules.ignores(&rec("app", "GET /healthcheck 200")));
        let mut quiet = rec("app", "x");
        quiet.set_level(10);
        assert!(rules.ignores(&quiet));
        assert!(rules.ignores(&quiet));
        assert_eq!(
            rules.drops[0]
                .hits
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        let mut internal = rec("pymongo", "healthcheck");
        internal.source = SourceKind::Internal;
        assert!(!rules.ignores(&internal));
    }

    #[test]
    fn settings_are_checked() {
        let c = StoreConfig {
            flush_level: "LOUD".into(),
            ..StoreConfig::default()
        };
        assert!(matches!(
            Settings::from_config(&c),
            Err(StoreError::Config {
                key: "flush_level",
                ..
            })
        ));
        let c = StoreConfig {
            flush_interval: f64::NAN,
            ..StoreConfig::default()
        };
        assert!(Settings::from_config(&c).is_err());
        let mut c = StoreConfig::default();
        c.thresholds.insert("ERROR".into(), 0);
        c.thresholds.insert("35".into(), 2);
        let s = Settings::from_config(&c).unwrap();
        assert!(s.thresholds.contains(&(30, 1)));
        assert!(s.thresholds.contains(&(35, 2)));
        assert!(!s.thresholds.iter().any(|&(l, _)| l == 40));
    }
}
