//! The `[store]` section of the configuration: the persister's buffering, alerting, filtering
//! and retention. It lives with the store that reads it, so the store never imports `config`.

use crate::record::Record;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// The persister's buffering, alerting, filtering and retention (after django-log-panel's settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Flush when this many records are buffered.
    pub buffer_size: usize,
    /// Flush when the buffered records hold about this many bytes (counted as the intake
    /// counts its batches), so a run of huge records cannot hold gigabytes.
    pub buffer_bytes: usize,
    /// Flush at once when a record at or above this level arrives (name or number).
    pub flush_level: String,
    /// Flush buffered records after this many seconds, by timer.
    pub flush_interval: f64,
    /// Batches the queue in front of the persister holds (each ≤ 1024 records, ≤ 1 MiB).
    pub queue_batches: usize,
    /// Level name → count within `threshold_window` that raises an alert; 0 disables a level.
    pub thresholds: BTreeMap<String, u64>,
    /// The rolling window for thresholds, in seconds.
    pub threshold_window: f64,
    /// Loggers named `p` or `p.*` are not stored.
    pub ignored_logger_prefixes: Vec<String>,
    /// Loggers with exactly these names are not stored.
    pub ignored_logger_names: Vec<String>,
    /// Records whose message contains any of these are not stored.
    pub ignored_message_substrings: Vec<String>,
    /// Delete records older than this many days; 0 keeps them forever.
    pub retention_days: f64,
    /// Keep at most this many records, deleting the oldest; 0 means no cap.
    pub retention_max_rows: u64,
    /// The `drop = true` routes, set by the recorder from `[[route]]`, never read from
    /// `[store]`: records they match are not stored (counted as ignored, and per rule).
    #[serde(skip)]
    pub drop_rules: Vec<DropRule>,
}

/// A rule whose records are not stored. The test is a plain predicate, so the write side
/// needs nothing from the read side's filters that build it.
#[derive(Clone)]
pub struct DropRule {
    pub name: String,
    pub drops: Arc<dyn Fn(&Record) -> bool + Send + Sync>,
    /// Records this rule kept out of the store.
    pub hits: Arc<AtomicU64>,
}

impl std::fmt::Debug for DropRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropRule")
            .field("name", &self.name)
            .finish()
    }
}

impl PartialEq for DropRule {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.hits, &other.hits)
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            buffer_size: 2000,
            buffer_bytes: 8 << 20,
            flush_level: "WARNING".into(),
            flush_interval: 1.0,
            queue_batches: 32,
            thresholds: [("WARNING", 1), ("ERROR", 1), ("CRITICAL", 1)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            threshold_window: 3600.0,
            ignored_logger_prefixes: Vec::new(),
            ignored_logger_names: Vec::new(),
            ignored_message_substrings: Vec::new(),
            retention_days: 0.0,
            retention_max_rows: 0,
            drop_rules: Vec::new(),
        }
    }
}
