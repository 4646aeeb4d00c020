//! The status bar: each source and its state, records per second, totals, drops and
//! rejections, what waits for the store, and (in `view`) whether the writer is alive.
//! It owns the rate it measures and draws itself; it reads counters, never records.

use super::text;
use super::theme::Theme;
use crate::record::SourceKind;
use crate::stats::Stats;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the UI's records come from.
pub enum Feeding {
    /// This process records: its listeners and counters.
    Live {
        stats: Arc<Stats>,
        listening: Vec<String>,
    },
    /// Another process writes the store; we follow it.
    View {
        how: &'static str,
        last_change: Option<Instant>,
    },
}

pub struct StatusBar {
    pub feeding: Feeding,
    pub db: String,
    last: (Instant, u64),
    rate: f64,
    /// Records the UI saw arrive through its feed.
    seen: u64,
    /// Records the UI's feed subscription missed (it lagged and caught up from the store).
    pub missed: u64,
    /// A short message from the app (theme changed, copied, an error).
    pub flash: Option<(String, Instant)>,
    /// The `[[route]]` forwarders' states, shown when there are any.
    pub routes: crate::sink::Routes,
}

impl StatusBar {
    pub fn new(feeding: Feeding, db: String) -> StatusBar {
        StatusBar {
            feeding,
            db,
            last: (Instant::now(), 0),
            rate: 0.0,
            seen: 0,
            missed: 0,
            flash: None,
            routes: crate::sink::Routes::default(),
        }
    }

    /// Counts records the UI saw arrive (for `view`, where no counters exist).
    pub fn saw(&mut self, n: u64) {
        if let Feeding::View { last_change, .. } = &mut self.feeding {
            *last_change = Some(Instant::now());
        }
        self.seen += n;
    }

    fn total_stored(&self) -> u64 {
        match &self.feeding {
            Feeding::Live { stats, .. } => stats.senders().stored,
            Feeding::View { .. } => self.seen,
        }
    }

    /// Updates the rate about once a second.
    pub fn tick(&mut self) {
        let now = Instant::now();
        let dt = now.duration_since(self.last.0);
        if dt >= Duration::from_secs(1) {
            let total = self.total_stored();
            self.rate = total.saturating_sub(self.last.1) as f64 / dt.as_secs_f64();
            self.last = (now, total);
        }
    }

    pub fn flash(&mut self, msg: impl Into<String>) {
        self.flash = Some((msg.into(), Instant::now()));
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, theme: &Theme) {
        let mut spans: Vec<Span<'static>> = Vec::new();
        let mut warn = Vec::new();
        match &self.feeding {
            Feeding::Live { stats, listening } => {
                let mut parts = Vec::new();
                for l in listening {
                    let kind = l.split(' ').next().unwrap_or("");
                    let conns = match kind {
                        "tcp" => Some(stats.conns(SourceKind::Tcp)),
                        "http" => Some(stats.conns(SourceKind::Http)),
                        _ => None,
                    };
                    match conns {
                        Some(c) => parts.push(format!(
                            "{l} ({} conn)",
                            c.open.load(std::sync::atomic::Ordering::Relaxed)
                        )),
                        // Redis is connected to, not listened on: its link's state is the news.
                        None if kind == "redis" => {
                            let state = stats.redis.state();
                            parts.push(format!("{l} ({})", state.as_str()));
                            if state != crate::stats::RedisState::Subscribed {
                                warn.push(format!("redis {}", state.as_str()));
                            }
                            let lost = stats
                                .redis
                                .dropped
                                .load(std::sync::atomic::Ordering::Relaxed);
                            if lost > 0 {
                                warn.push(format!("{lost} redis messages dropped"));
                            }
                        }
                        None => parts.push(l.clone()),
                    }
                }
                spans.push(Span::styled(parts.join(" · "), theme.status));
                // Senders' records: logtui's own (alerts) are not traffic.
                let crate::stats::Counts {
                    stored,
                    dropped,
                    rejected,
                    ..
                } = stats.senders();
                spans.push(Span::styled(
                    format!(" │ {:.0}/s · {stored} stored", self.rate),
                    theme.status,
                ));
                let lag = stats.in_flight();
                if lag > 0 {
                    spans.push(Span::styled(format!(" · {lag} waiting"), theme.status));
                }
                if dropped > 0 {
                    warn.push(format!("{dropped} dropped"));
                }
                if rejected > 0 {
                    warn.push(format!("{rejected} rejected"));
                }
                if let Some(r) = self.routes.compact() {
                    let style = match self.routes.healthy() {
                        true => theme.status,
                        false => theme.status_warning,
                    };
                    spans.push(Span::styled(format!(" │ {r}"), style));
                }
            }
            Feeding::View { how, last_change } => {
                let alive = match last_change {
                    Some(t) => format!("writer active {}s ago", t.elapsed().as_secs()),
                    None => "no writes seen".to_owned(),
                };
                spans.push(Span::styled(
                    format!(
                        "view ({how}) · {alive} │ {:.0}/s · {} new",
                        self.rate, self.seen
                    ),
                    theme.status,
                ));
            }
        }
        if self.missed > 0 {
            warn.push(format!("{} behind, read back from the store", self.missed));
        }
        if !warn.is_empty() {
            spans.push(Span::styled(
                format!(" · {}", warn.join(" · ")),
                theme.status_warning,
            ));
        }
        if let Some((msg, at)) = &self.flash
            && at.elapsed() < Duration::from_secs(4)
        {
            spans.push(Span::styled(" │ ".to_string(), theme.status));
            spans.extend(text::field_spans(msg, 60, theme.status_warning));
        }
        spans.push(Span::styled(" │ ? keys".to_string(), theme.status));
        let line = Line::from(spans);
        f.render_widget(Paragraph::new(line).style(theme.status), area);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    #[test]
    fn the_forwarders_show_in_the_live_status_bar() {
        let dir = tempfile::tempdir().unwrap();
        let cfg: crate::config::Config = toml::from_str(&format!(
            "[[route]]\nname = \"audit\"\njsonl = {:?}\n",
            dir.path().join("a.jsonl").display().to_string()
        ))
        .unwrap();
        let sinks = crate::sink::Sinks::start(
            &cfg,
            &crate::store::Feed::new(),
            dir.path().join("s.db"),
            &[],
        )
        .unwrap();
        let mut bar = StatusBar::new(
            Feeding::Live {
                stats: Arc::new(Stats::default()),
                listening: vec!["tcp 127.0.0.1:9020".into()],
            },
            "s.db".into(),
        );
        let text = |bar: &StatusBar| {
            let mut term = Terminal::new(TestBackend::new(120, 1)).unwrap();
            let theme = Theme::plain("t");
            term.draw(|f| bar.draw(f, f.area(), &theme)).unwrap();
            let buf = term.backend().buffer().clone();
            buf.content().iter().map(|c| c.symbol()).collect::<String>()
        };
        assert!(!text(&bar).contains('→'), "no routes, nothing shown");
        bar.routes = sinks.routes().clone();
        assert!(text(&bar).contains("│ → audit idle"), "{}", text(&bar));
        sinks.finish(Duration::ZERO);
        assert!(text(&bar).contains("→ audit stopped"), "{}", text(&bar));
    }
}
