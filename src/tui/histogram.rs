//! A pane's level histogram: one strip of bars above the rows, a bar per time bucket, its
//! height the records in it and its colour the worst level among them, so a spike of errors
//! is seen before it is read. It owns its counts and draws itself.
//!
//! Live, it counts the pane's matching records as they arrive, a bucket per second over the
//! last minutes. On demand (`H`) it shows the whole filtered store instead, from the block
//! index's level counts (see `store::read::histogram`), with no record read.

use super::theme::Theme;
use crate::store::index::format::level_band;
use crate::store::read::histogram::Histogram;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::collections::VecDeque;

/// Seconds the live strip remembers: more than the widest terminal shows at a bar a second.
const LIVE_SECONDS: usize = 1024;

/// The eight bar heights.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Which histogram a pane shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Live,
    /// The whole store for the pane's filter: None while it is being read.
    Store(Option<Histogram>),
}

pub struct LevelHistogram {
    /// The second of `buckets[0]`, epoch seconds.
    first_sec: i64,
    buckets: VecDeque<[u32; 5]>,
    pub shown: Shown,
}

impl Default for LevelHistogram {
    fn default() -> Self {
        LevelHistogram {
            first_sec: 0,
            buckets: VecDeque::new(),
            shown: Shown::Live,
        }
    }
}

impl LevelHistogram {
    /// Forgets the live counts (the pane's filter changed).
    pub fn clear(&mut self) {
        self.buckets.clear();
        if let Shown::Store(_) = self.shown {
            self.shown = Shown::Store(None);
        }
    }

    /// Counts one record of the pane's, by its own time; records older than the strip's
    /// memory, or from a clock far ahead, are left out rather than stretch it.
    pub fn add(&mut self, created: f64, level: i32, now: f64) {
        if !created.is_finite() {
            return;
        }
        let sec = created.floor() as i64;
        let now_sec = now.floor() as i64;
        if sec > now_sec + 60 || sec <= now_sec - LIVE_SECONDS as i64 {
            return;
        }
        if self.buckets.is_empty() {
            self.first_sec = sec;
        }
        if sec < self.first_sec {
            // Late arrivals within the memory: grow at the front.
            while self.first_sec > sec && self.buckets.len() < LIVE_SECONDS {
                self.buckets.push_front([0; 5]);
                self.first_sec -= 1;
            }
            if sec < self.first_sec {
                return;
            }
        }
        let idx = (sec - self.first_sec) as usize;
        while self.buckets.len() <= idx {
            self.buckets.push_back([0; 5]);
        }
        while self.buckets.len() > LIVE_SECONDS {
            self.buckets.pop_front();
            self.first_sec += 1;
        }
        let idx = (sec - self.first_sec) as usize;
        if let Some(b) = self.buckets.get_mut(idx) {
            b[level_band(level)] = b[level_band(level)].saturating_add(1);
        }
    }

    /// The live counts of the last `width` seconds up to `now`, oldest first.
    fn live(&self, width: usize, now: f64) -> Vec<[u64; 5]> {
        let end = now.floor() as i64;
        (0..width as i64)
            .map(|k| {
                let sec = end - (width as i64 - 1) + k;
                let i = sec - self.first_sec;
                match usize::try_from(i).ok().and_then(|i| self.buckets.get(i)) {
                    Some(b) => b.map(u64::from),
                    None => [0; 5],
                }
            })
            .collect()
    }

    /// Draws the strip into `area` (one line): a label, then a bar per bucket.
    pub fn draw(&self, f: &mut Frame, area: Rect, theme: &Theme, now: f64) {
        let (label, counts, exact) = match &self.shown {
            Shown::Live => {
                let w = area.width.saturating_sub(8) as usize;
                (
                    format!("{:>7} ", format!("{}m{:02}s", w / 60, w % 60)),
                    self.live(w, now),
                    true,
                )
            }
            Shown::Store(None) => ("store… ".to_owned(), Vec::new(), true),
            Shown::Store(Some(h)) => {
                let w = area.width.saturating_sub(8) as usize;
                (" store  ".to_owned(), resample(&h.buckets, w), h.exact)
            }
        };
        let mut spans = vec![Span::styled(
            if exact {
                label
            } else {
                label.replacen(' ', "≈", 1)
            },
            theme.fold_marker,
        )];
        let max = counts
            .iter()
            .map(|b| b.iter().sum::<u64>())
            .max()
            .unwrap_or(0);
        for b in &counts {
            let total: u64 = b.iter().sum();
            if total == 0 {
                spans.push(Span::raw(" "));
                continue;
            }
            // At least the lowest bar for any record: one error in a quiet minute must show.
            let h = ((total * 8).div_ceil(max.max(1)) as usize).clamp(1, 8);
            let worst = (0..5).rev().find(|&i| b[i] > 0).unwrap_or(0);
            let level = [10, 20, 30, 40, 50][worst];
            spans.push(Span::styled(
                BARS[h - 1].to_string(),
                theme.histogram(level),
            ));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), area);
    }
}

/// `counts` merged or stretched into `width` buckets.
fn resample(counts: &[[u64; 5]], width: usize) -> Vec<[u64; 5]> {
    if counts.is_empty() || width == 0 {
        return Vec::new();
    }
    let mut out = vec![[0u64; 5]; width];
    for (i, b) in counts.iter().enumerate() {
        let j = i * width / counts.len();
        for k in 0..5 {
            out[j][k] += b[k];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_counts_land_in_their_second_and_bound_their_memory() {
        let mut h = LevelHistogram::default();
        let now = 10_000.5;
        h.add(9_999.2, 40, now);
        h.add(10_000.1, 20, now);
        h.add(10_000.9, 20, now);
        h.add(1.0, 50, now); // far older than the memory: left out
        let strip = h.live(3, now);
        assert_eq!(strip, vec![[0; 5], [0, 0, 0, 1, 0], [0, 2, 0, 0, 0]]);
        for s in 0..5000 {
            h.add(5_000.0 + s as f64, 20, 10_000.0);
        }
        assert!(h.buckets.len() <= LIVE_SECONDS);
    }

    #[test]
    fn resampling_keeps_every_count() {
        let counts: Vec<[u64; 5]> = (0..100).map(|i| [i, 0, 0, 1, 0]).collect();
        for w in [1, 7, 100, 300] {
            let r = resample(&counts, w);
            let total: u64 = r.iter().flatten().sum();
            assert_eq!(total, (0..100).sum::<u64>() + 100, "width {w}");
        }
    }
}
