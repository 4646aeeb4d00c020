//! Decodes the benchmark's 1,000 frames a fixed 20 times, for an instruction count that the
//! shared machine's noise cannot move: run it under `valgrind --tool=callgrind
//! --toggle-collect='*decode_record*'` for this build and the one to compare (see the README).

use logtui::decode::{frame, pickle};
use logtui::limits::DecodeLimits;
use logtui::record::SourceKind;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MIX: &[u8] = include_bytes!("../tests/fixtures/pickle/bench_mix.frames");

fn main() {
    let limits = DecodeLimits::default();
    let mut buf = MIX;
    let mut frames = Vec::new();
    while let Some((p, rest)) = frame::split(buf, limits.max_frame).expect("fixture frames") {
        frames.push(p);
        buf = rest;
    }
    let mut bytes = 0usize;
    for _ in 0..20 {
        for p in &frames {
            let r = pickle::decode_record(
                std::hint::black_box(p),
                &limits,
                SourceKind::Tcp,
                "127.0.0.1:50000",
            )
            .expect("fixture decodes");
            bytes += r.message.len();
            std::hint::black_box(r);
        }
    }
    println!("{} records, {bytes} message bytes", 20 * frames.len());
}
