//! Measures how long one pane row takes to render from a short message and from a 100 KB one.
//! Safe rendering is meant to cost the cells produced, not the text's length: the two should match.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use logtui::tui::text::{TextStyle, block_lines, row_line};
use ratatui::style::{Color, Style};

// The allocator the binary uses, so the figures match it.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A message column as wide as a 200-column terminal leaves it.
const WIDTH: usize = 160;

/// Text with what real messages carry: words, an SGR colour, a tab, a non-ASCII name.
fn message(bytes: usize) -> String {
    let unit = "\x1b[33mwarn\x1b[0m user=Zoë\tfetched 42 rows from orders in 3.2 ms; ";
    let mut s = String::with_capacity(bytes + unit.len());
    while s.len() < bytes {
        s.push_str(unit);
    }
    let cut = (0..=bytes)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    s.truncate(cut);
    s
}

fn bench_text(c: &mut Criterion) {
    let st = TextStyle {
        base: Style::new(),
        marker: Style::new().fg(Color::DarkGray),
        colour: true,
    };
    let short = message(100);
    let long = message(100_000);
    let traceback = format!(
        "{}\n{}",
        message(200),
        "  File \"app.py\", line 1, in f\n".repeat(3_000)
    );
    let mut g = c.benchmark_group("row_line");
    g.bench_function("100 B", |b| {
        b.iter(|| row_line(black_box(&short), WIDTH, &st))
    });
    g.bench_function("100 KB", |b| {
        b.iter(|| row_line(black_box(&long), WIDTH, &st))
    });
    g.bench_function("traceback 3000 lines", |b| {
        b.iter(|| row_line(black_box(&traceback), WIDTH, &st))
    });
    g.finish();
    c.bench_function("block_lines 100 KB, 60 lines", |b| {
        b.iter(|| block_lines(black_box(&long), WIDTH, 60, &st))
    });
}

criterion_group!(benches, bench_text);
criterion_main!(benches);
