//! Measures pickle decoding throughput in records per second, on one core, over a realistic frame mix.
//! The mix is `tests/fixtures/pickle/bench_mix.frames`, made by `benches/make_frames.py` from CPython's own SocketHandler.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logtui::decode::logrecord::{Field, RecordBuilder, Rendering};
use logtui::decode::{frame, pickle};
use logtui::limits::DecodeLimits;
use logtui::record::SourceKind;
use logtui::value::Value;

// The allocator the binary uses, so the figures match it.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The committed mix: 1000 frames, ~560 bytes each (INFO with %-args, WARNING with extras every
/// 10th, ERROR with a traceback every 50th).
const MIX: &[u8] = include_bytes!("../tests/fixtures/pickle/bench_mix.frames");

/// Splits the stream exactly as the TCP source does: check, then slice.
fn payloads<'a>(mut buf: &'a [u8], limits: &DecodeLimits) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some((payload, rest)) =
        frame::split(buf, limits.max_frame).expect("fixture frames are valid")
    {
        out.push(payload);
        buf = rest;
    }
    assert!(buf.is_empty(), "fixture ends mid-frame");
    out
}

fn bench_decode(c: &mut Criterion) {
    let limits = DecodeLimits::default();
    let frames = payloads(MIX, &limits);
    let bytes: usize = frames.iter().map(|f| f.len() + frame::PREFIX).sum();
    eprintln!(
        "bench_mix: {} frames, {:.1} bytes per frame on average",
        frames.len(),
        bytes as f64 / frames.len() as f64
    );

    let mut g = c.benchmark_group("pickle");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("decode_record/bench_mix", |b| {
        b.iter(|| {
            for p in &frames {
                let rec = pickle::decode_record(
                    black_box(p),
                    &limits,
                    SourceKind::Tcp,
                    "127.0.0.1:50000",
                )
                .expect("fixture decodes");
                black_box(rec);
            }
        })
    });
    g.bench_function("decode_value/bench_mix", |b| {
        b.iter(|| {
            for p in &frames {
                black_box(pickle::decode_value(black_box(p), &limits).expect("fixture decodes"));
            }
        })
    });
    // The cost RecordBuilder itself adds, with no decoding at all: the same records' values,
    // already decoded, cloned (as a decoder that makes `Value`s must allocate them) and fed
    // through set/finish, keys matched as text.
    let decoded: Vec<Vec<(String, Value)>> = frames
        .iter()
        .map(|p| match pickle::decode_value(p, &limits) {
            Ok(Value::Map(pairs)) => pairs,
            other => panic!("fixture frame is not a dict: {other:?}"),
        })
        .collect();
    g.bench_function("record_builder_floor/bench_mix", |b| {
        b.iter(|| {
            for pairs in &decoded {
                let mut rb =
                    RecordBuilder::new(SourceKind::Tcp, "127.0.0.1:50000", Rendering::Typed);
                for (k, v) in pairs {
                    rb.set(k, v.clone());
                }
                black_box(rb.finish(&limits));
            }
        })
    });
    // The same, fed as the pickle decoder feeds it: keys already resolved to a `Field`, text lent
    // (the builder copies only what it keeps), numbers plain. decode_record pays this plus the
    // decoding itself.
    let resolved: Vec<Vec<(Option<Field>, &str, &Value)>> = decoded
        .iter()
        .map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| (Field::from_key(k), k.as_str(), v))
                .collect()
        })
        .collect();
    g.bench_function("record_builder_fields/bench_mix", |b| {
        b.iter(|| {
            for pairs in &resolved {
                let mut rb =
                    RecordBuilder::new(SourceKind::Tcp, "127.0.0.1:50000", Rendering::Typed);
                for &(field, k, v) in pairs {
                    match (field, v) {
                        (Some(f), Value::Str(s)) => rb.set_field(f, s.as_str()),
                        (Some(f), Value::Int(i)) => rb.set_field(f, *i),
                        (Some(f), Value::Float(x)) => rb.set_field(f, *x),
                        (Some(f), v) => rb.set_field(f, v.clone()),
                        (None, v) => rb.set_extra(k.to_owned(), v.clone()),
                    }
                }
                black_box(rb.finish(&limits));
            }
        })
    });
    g.bench_function("frame_check/bench_mix", |b| {
        b.iter(|| black_box(payloads(black_box(MIX), &limits).len()))
    });
    g.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
