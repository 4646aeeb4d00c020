//! Threshold alerts: rolling per-(logger, level) counts kept in memory, firing on the crossing edge.
//! Memory is bounded: at most `threshold + 1` timestamps per key and a cap on keys, since strangers name loggers.

use crate::record::{Record, SourceKind, WARNING, level_name};
use crate::value::Value;
use std::collections::{HashMap, VecDeque};

/// Most distinct loggers tracked at once; beyond it, keys with nothing in the window go first.
pub(crate) const MAX_KEYS: usize = 10_000;

/// The logger alert records are written under.
pub const ALERT_LOGGER: &str = "logtui.alerts";

/// Whether a record read back from the store is a threshold alert, as the persister marks
/// in [`crate::store::CommittedBatch::alerts`]: logtui's own record under [`ALERT_LOGGER`],
/// but not the note that counts alerts left unstored (it carries `suppressed`).
pub fn is_alert(r: &Record) -> bool {
    r.source == SourceKind::Internal
        && r.logger == ALERT_LOGGER
        && !r.extra.iter().any(|(k, _)| k == "suppressed")
}

struct LevelWindow {
    level: i32,
    /// Newest `threshold + 1` `created` times of this logger at this level.
    times: VecDeque<f64>,
}

/// Rolling counts for every (logger, level) that has a threshold.
pub(crate) struct Thresholds {
    levels: Vec<(i32, u64)>,
    window: f64,
    keys: HashMap<String, Vec<LevelWindow>>,
    max_keys: usize,
}

impl Thresholds {
    pub fn new(levels: Vec<(i32, u64)>, window: f64) -> Thresholds {
        Thresholds {
            levels,
            window,
            keys: HashMap::new(),
            max_keys: MAX_KEYS,
        }
    }

    /// Counts `r` and returns the alert to store when its logger has just reached the
    /// threshold for exactly its level within the window ending at `r.created`.
    pub fn observe(&mut self, r: &Record) -> Option<Record> {
        if r.source == SourceKind::Internal {
            return None;
        }
        let &(level, threshold) = self.levels.iter().find(|(l, _)| *l == r.level)?;
        let now = r.created;
        let start = now - self.window;
        if !self.keys.contains_key(r.logger.as_str()) && self.keys.len() >= self.max_keys {
            self.evict(start);
        }
        let windows = self.keys.entry_ref(&r.logger);
        let w = match windows.iter_mut().position(|w| w.level == level) {
            Some(i) => &mut windows[i],
            None => {
                windows.push(LevelWindow {
                    level,
                    times: VecDeque::new(),
                });
                windows.last_mut()?
            }
        };
        while w.times.front().is_some_and(|&t| t < start) {
            w.times.pop_front();
        }
        w.times.push_back(now);
        let cap = usize::try_from(threshold)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        while w.times.len() > cap {
            w.times.pop_front();
        }
        let count = w.times.len() as u64;
        (count == threshold).then(|| alert(r, level, threshold, count, start, now))
    }

    /// Drops loggers with nothing left in the window; if that is not enough, forgets all
    /// (at worst an alert repeats, which is better than unbounded memory).
    fn evict(&mut self, start: f64) {
        self.keys.retain(|_, ws| {
            ws.iter()
                .any(|w| w.times.back().is_some_and(|&t| t >= start))
        });
        if self.keys.len() >= self.max_keys {
            tracing::warn!(
                keys = self.keys.len(),
                "too many distinct loggers for threshold tracking; forgetting their counts"
            );
            self.keys.clear();
        }
    }
}

trait EntryRef {
    fn entry_ref(&mut self, k: &str) -> &mut Vec<LevelWindow>;
}

impl EntryRef for HashMap<String, Vec<LevelWindow>> {
    /// `entry` without allocating the key when it is already present.
    fn entry_ref(&mut self, k: &str) -> &mut Vec<LevelWindow> {
        if !self.contains_key(k) {
            self.insert(k.to_owned(), Vec::new());
        }
        self.get_mut(k).expect("inserted above")
    }
}

fn alert(r: &Record, level: i32, threshold: u64, count: u64, start: f64, end: f64) -> Record {
    let lname = level_name(level);
    let mut a = Record::internal(
        WARNING,
        ALERT_LOGGER,
        format!(
            "logger {} reached its {lname} threshold: {count} record(s) at {lname} within {} s (threshold {threshold}); latest: {}",
            r.logger,
            end - start,
            r.message.chars().take(200).collect::<String>()
        ),
    );
    let opt = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Str);
    a.extra = vec![
        ("logger_name".into(), Value::Str(r.logger.clone())),
        ("threshold_level".into(), Value::Str(lname)),
        ("threshold".into(), Value::count(threshold)),
        ("matching_count".into(), Value::count(count)),
        ("window_start".into(), Value::Float(start)),
        ("window_end".into(), Value::Float(end)),
        ("message".into(), Value::Str(r.message.clone())),
        ("module".into(), opt(&r.module)),
        ("pathname".into(), opt(&r.pathname)),
        ("lineno".into(), r.lineno.map_or(Value::Null, Value::Int)),
        ("source".into(), Value::Str(r.source.as_str().to_owned())),
        ("origin".into(), Value::Str(r.origin.clone())),
    ];
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ERROR, INFO};

    fn rec(logger: &str, level: i32, t: f64) -> Record {
        let mut r = Record::new(SourceKind::Udp, "x");
        r.logger = logger.into();
        r.set_level(level);
        r.created = t;
        r
    }

    #[test]
    fn fires_on_the_crossing_edge_per_logger_and_window() {
        let mut th = Thresholds::new(vec![(ERROR, 1)], 60.0);
        assert!(th.observe(&rec("a", ERROR, 0.0)).is_some());
        assert!(th.observe(&rec("a", ERROR, 1.0)).is_none());
        assert!(th.observe(&rec("b", ERROR, 2.0)).is_some());
        assert!(th.observe(&rec("a", INFO, 3.0)).is_none());
        // Window passed: fires again.
        assert!(th.observe(&rec("a", ERROR, 100.0)).is_some());

        let mut th = Thresholds::new(vec![(ERROR, 3)], 60.0);
        let fired: Vec<bool> = (0..6)
            .map(|i| th.observe(&rec("a", ERROR, f64::from(i))).is_some())
            .collect();
        assert_eq!(fired, [false, false, true, false, false, false]);
        let a = th.observe(&rec("a", ERROR, 200.0));
        assert!(a.is_none());
        let a = [201.0, 202.0]
            .into_iter()
            .filter_map(|t| th.observe(&rec("a", ERROR, t)))
            .next()
            .unwrap();
        assert_eq!(a.source, SourceKind::Internal);
        assert_eq!(a.logger, ALERT_LOGGER);
        assert!(a.extra.contains(&("matching_count".into(), Value::Int(3))));
    }

    #[test]
    fn key_count_is_bounded() {
        let mut th = Thresholds::new(vec![(ERROR, 1)], 1e9);
        th.max_keys = 100;
        for i in 0..1000 {
            th.observe(&rec(&format!("l{i}"), ERROR, f64::from(i)));
            assert!(th.keys.len() <= 100);
        }
        let mut internal = rec("x", ERROR, 0.0);
        internal.source = SourceKind::Internal;
        assert!(th.observe(&internal).is_none());
    }
}
