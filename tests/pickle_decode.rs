//! Integration tests of the SocketHandler pickle decoder: real captured frames checked field by field, and hostile input.
//! Where CPython is installed, it also pickles structures for us (protocols 0–5, Python 2.7 and 3) and says what they must decode to.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use logtui::decode::{DecodeError, frame, pickle};
use logtui::limits::DecodeLimits;
use logtui::record::{Record, SourceKind};
use logtui::value::Value;

// --- helpers -------------------------------------------------------------------------------

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pickle")
        .join(name)
}

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// The exact socket bytes of a captured sample, length prefix included.
fn wire(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(fixture_path(&format!("{name}.hex")))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    unhex(&text)
}

/// The pickle inside a TCP frame, found the way the TCP source finds it.
fn payload(frame_bytes: &[u8]) -> &[u8] {
    let total = frame::check(frame_bytes, DecodeLimits::default().max_frame)
        .unwrap()
        .expect("a whole frame");
    assert_eq!(total, frame_bytes.len(), "one frame per sample");
    &frame_bytes[frame::PREFIX..total]
}

fn record(name: &str) -> Record {
    let w = wire(name);
    pickle::decode_record(
        payload(&w),
        &DecodeLimits::default(),
        SourceKind::Tcp,
        "127.0.0.1:9020",
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn extra<'r>(r: &'r Record, key: &str) -> &'r Value {
    r.extra
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no extra {key:?} in {:?}", r.extra))
}

fn s(x: &str) -> Value {
    Value::Str(x.to_owned())
}

fn dv(p: &[u8]) -> Result<Value, DecodeError> {
    pickle::decode_value(p, &DecodeLimits::default())
}

/// The f64 a BINFLOAT carries, from its 8 big-endian bytes as the disassembly shows them.
fn binfloat(hex: &str) -> f64 {
    let b: [u8; 8] = unhex(hex).try_into().unwrap();
    f64::from_be_bytes(b)
}

// --- real frames ---------------------------------------------------------------------------

#[test]
fn py311_simple_fields() {
    let r = record("pickle_py311_simple");
    assert_eq!(r.logger, "app.db");
    assert_eq!(r.message, "user alice logged in from 10.0.0.7 (attempt 3)");
    assert_eq!((r.level, r.levelname.as_str()), (20, "INFO"));
    // `G 41dac1895f79cba1` at byte 383: exact to the bit, and equal to Python's repr.
    assert_eq!(r.created.to_bits(), binfloat("41dac1895f79cba1").to_bits());
    assert_eq!(r.created, 1795564925.9030535);
    assert_eq!(r.thread, Some(139975356623744));
    assert_eq!(r.process, Some(5191));
    assert_eq!(r.lineno, Some(52));
    assert_eq!(r.func.as_deref(), Some("frames"));
    assert_eq!(
        r.pathname.as_deref(),
        Some("/home/app/service/pickle_samples.py")
    );
    assert_eq!(r.filename.as_deref(), Some("pickle_samples.py"));
    assert_eq!(r.module.as_deref(), Some("pickle_samples"));
    assert_eq!(r.thread_name.as_deref(), Some("MainThread"));
    assert_eq!(r.process_name.as_deref(), Some("MainProcess"));
    assert_eq!(
        (r.exc_text.as_deref(), r.stack_info.as_deref()),
        (None, None)
    );
    assert_eq!(r.task_name, None);
    assert_eq!(r.source, SourceKind::Tcp);
    assert_eq!(r.origin, "127.0.0.1:9020");
    assert!(r.extra.is_empty(), "{:?}", r.extra);
}

#[test]
fn py312_and_py313_simple_carry_task_name() {
    for name in ["pickle_py312_simple", "pickle_py313_simple"] {
        let r = record(name);
        assert_eq!(r.logger, "app.db", "{name}");
        assert_eq!(r.level, 20, "{name}");
        assert_eq!(r.task_name, None, "{name}: taskName is None on the wire");
        assert!(
            r.extra.is_empty(),
            "{name}: taskName must not leak into extras: {:?}",
            r.extra
        );
        assert!(
            r.thread.is_some_and(|t| t > 1 << 31),
            "{name}: thread id is a text LONG"
        );
    }
}

#[test]
fn full_samples_over_tcp_and_udp() {
    let created = [
        ("pickle_py311_full", 1795564925.9058425),
        ("pickle_py312_full", 1795564925.9516351),
        ("pickle_py313_full", 1795564926.0396736),
    ];
    for (name, when) in created {
        let udp = name.replace("pickle_", "udp_");
        let dgram = wire(&udp);
        let from_udp = pickle::decode_record(
            frame::datagram_payload(&dgram, DecodeLimits::default().max_frame).unwrap(),
            &DecodeLimits::default(),
            SourceKind::Udp,
            "127.0.0.1:9021",
        )
        .unwrap();
        let r = record(name);
        for r in [&r, &from_udp] {
            assert_eq!(r.message, "query 'SELECT 1' failed after 0.25s", "{name}");
            assert_eq!((r.level, r.levelname.as_str()), (40, "ERROR"));
            assert_eq!(r.created, when, "{name}");
            let exc = r.exc_text.as_deref().unwrap();
            assert!(
                exc.starts_with("Traceback (most recent call last):\n"),
                "{exc}"
            );
            assert!(exc.ends_with("KeyError: 'missing'"), "{exc}");
            assert!(exc.contains("~~^^^^^^^^^^^"), "{exc}");
            let stack = r.stack_info.as_deref().unwrap();
            assert!(
                stack.starts_with("Stack (most recent call last):\n"),
                "{stack}"
            );
            assert!(
                stack.ends_with("exc_info=True, stack_info=True,"),
                "{stack}"
            );
            assert_eq!(extra(r, "user_unicode"), &s("Zoë 🚀 日本"));
            assert_eq!(extra(r, "req_id"), &Value::Int(42));
            // 2**40 arrives as a text LONG and must stay an exact Int.
            assert_eq!(extra(r, "big"), &Value::Int(1 << 40));
            assert_eq!(extra(r, "neg"), &Value::Int(-7));
            assert_eq!(extra(r, "ratio"), &Value::Float(0.5));
            assert_eq!(extra(r, "nothing"), &Value::Null);
            assert_eq!(extra(r, "flag"), &Value::Bool(true));
            assert_eq!(extra(r, "off"), &Value::Bool(false));
            assert_eq!(
                extra(r, "nested"),
                &Value::Map(vec![
                    (
                        "k".into(),
                        Value::List(vec![
                            Value::Int(1),
                            Value::Float(2.5),
                            s("three"),
                            Value::Null,
                            Value::Map(vec![("deep".into(), Value::Bool(true))]),
                        ])
                    ),
                    ("e".into(), Value::Map(vec![])),
                    ("l".into(), Value::List(vec![])),
                ])
            );
            assert_eq!(extra(r, "tup"), &Value::List(vec![Value::Int(1), s("a")]));
        }
        assert_eq!(from_udp.source, SourceKind::Udp);
        assert_eq!(from_udp.message, r.message);
        assert_eq!(from_udp.extra, r.extra);
        if name.contains("py311") {
            assert!(r.extra.iter().all(|(k, _)| k != "taskName"));
        }
    }
}

#[test]
fn py27_cpickle_byte_strings_and_text_ints() {
    let r = record("pickle_py27_full");
    assert_eq!(r.logger, "legacy.app");
    assert_eq!(r.message, "user bob failed 3");
    assert_eq!((r.level, r.levelname.as_str()), (40, "ERROR"));
    assert_eq!(r.created, 1795565194.22701);
    // Python 2 writes a 64-bit thread id as a text INT, not a LONG.
    assert_eq!(r.thread, Some(140387906599808));
    assert_eq!(r.process, Some(12448));
    assert_eq!(r.lineno, Some(11));
    assert_eq!(r.func.as_deref(), Some("<module>"));
    assert_eq!(r.stack_info, None);
    assert_eq!(r.task_name, None);
    assert_eq!(
        r.exc_text.as_deref(),
        Some(
            "Traceback (most recent call last):\n  File \"/home/app/service/pickle_py27.py\", line 9, in <module>\n    1 / 0\nZeroDivisionError: integer division or modulo by zero"
        )
    );
    assert_eq!(extra(&r, "big"), &Value::Int(1 << 40));
    assert_eq!(extra(&r, "flag"), &Value::Bool(true));
    assert_eq!(extra(&r, "u"), &s("Zoë"));
}

#[test]
fn py312_edge_long_memo_and_number_corners() {
    let r = record("pickle_py312_edge");
    assert_eq!(r.logger, "edge");
    assert_eq!(r.message, "x-2");
    assert_eq!((r.level, r.levelname.as_str()), (5, "Level 5"));
    assert_eq!(r.thread, Some(139743252507520));
    // 300 strings: slots past 255 go through LONG_BINPUT.
    let Value::List(many) = extra(&r, "many") else {
        panic!("many is not a list")
    };
    assert_eq!(many.len(), 300);
    for (i, v) in many.iter().enumerate() {
        assert_eq!(v, &s(&format!("s{i}")));
    }
    assert_eq!(extra(&r, "empty_t"), &Value::List(vec![]));
    assert_eq!(extra(&r, "one"), &Value::List(vec![s("x")]));
    let Value::Map(huge) = extra(&r, "huge_dict") else {
        panic!("huge_dict is not a map")
    };
    // 1001 keys: one SETITEMS of 1000 pairs and one of 1.
    assert_eq!(huge.len(), 1001);
    for (i, (k, v)) in huge.iter().enumerate() {
        assert_eq!(
            (k.as_str(), v),
            (format!("k{i}").as_str(), &Value::Int(i as i64))
        );
    }
    assert!(matches!(extra(&r, "nan"), Value::Float(f) if f.is_nan()));
    assert_eq!(extra(&r, "inf"), &Value::Float(f64::NEG_INFINITY));
    for (k, v) in [
        ("i255", 255),
        ("i256", 256),
        ("i65536", 65536),
        ("imin", -2147483648),
        ("imin_1", -2147483649),
        ("imax", 2147483647),
        ("imax1", 2147483648),
    ] {
        assert_eq!(extra(&r, k), &Value::Int(v), "{k}");
    }
    assert_eq!(
        extra(&r, "neg_huge"),
        &Value::BigInt("-1000000000000000000000000000000".into())
    );
}

#[test]
fn non_string_msg_arrives_formatted() {
    let r = record("pickle_py312_nonstr_msg");
    assert_eq!(r.message, "{'msg-is': 'a dict'}");
    assert_eq!((r.level, r.logger.as_str()), (30, "edge"));
}

#[test]
fn objects_become_placeholders() {
    for name in [
        "pickle_py311_objects",
        "pickle_py312_objects",
        "pickle_py313_objects",
    ] {
        let r = record(name);
        assert_eq!(r.message, "objects", "{name}");
        // datetime state bytes 07 e8 01 02 03 04 05 09 27 c0, sent as _codecs.encode(latin-1 str).
        assert_eq!(
            extra(&r, "when"),
            &s("datetime.datetime(2024, 1, 2, 3, 4, 5, 600000)"),
            "{name}"
        );
        assert_eq!(extra(&r, "amount"), &s("Decimal('1.10')"));
        assert_eq!(extra(&r, "tags"), &Value::List(vec![s("a")]));
        assert_eq!(extra(&r, "raw"), &s(r"b'\x00\xffbytes'"));
        assert_eq!(
            extra(&r, "uid"),
            &s("UUID('00000000-0000-0000-0000-000000000001')")
        );
        // The BINGET 48 inside `obj` reaches the interned 'a' made for `tags`.
        assert_eq!(extra(&r, "obj"), &s("__main__.Custom(a=1, b='x')"));
    }
}

/// A protocol-1 `record.__dict__` with string keys and values, as SocketHandler pickles it.
fn pickled_dict(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut p = b"}q\x00(".to_vec();
    for (k, v) in pairs {
        for t in [k, v] {
            p.push(b'X');
            p.extend((t.len() as u32).to_le_bytes());
            p.extend(t.as_bytes());
        }
    }
    p.extend(b"u.");
    p
}

#[test]
fn what_the_sender_leaves_out_gets_the_defaults() {
    let limits = DecodeLimits::default();
    let before = logtui::record::now_epoch();
    let r = pickle::decode_record(
        &pickled_dict(&[("msg", "hi")]),
        &limits,
        SourceKind::Tcp,
        "o",
    )
    .unwrap();
    assert_eq!(
        (
            r.logger.as_str(),
            r.level,
            r.levelname.as_str(),
            r.message.as_str()
        ),
        ("root", 20, "INFO", "hi")
    );
    assert!(r.created >= before && r.created <= logtui::record::now_epoch());
    // A stdlib level name is taken as its level; a custom one keeps its text.
    let r = pickle::decode_record(
        &pickled_dict(&[("name", ""), ("levelname", "ERROR")]),
        &limits,
        SourceKind::Tcp,
        "o",
    )
    .unwrap();
    assert_eq!(
        (r.logger.as_str(), r.level, r.levelname.as_str()),
        ("", 40, "ERROR")
    );
    let r = pickle::decode_record(
        &pickled_dict(&[("levelname", "AUDIT")]),
        &limits,
        SourceKind::Tcp,
        "o",
    )
    .unwrap();
    assert_eq!((r.level, r.levelname.as_str()), (20, "AUDIT"));
}

#[test]
fn committed_bench_mix_decodes() {
    let mix = std::fs::read(fixture_path("bench_mix.frames")).unwrap();
    let limits = DecodeLimits::default();
    let mut buf = &mix[..];
    let (mut n, mut errors, mut warnings_with_extras) = (0, 0, 0);
    while let Some((p, rest)) = frame::split(buf, limits.max_frame).unwrap() {
        let r = pickle::decode_record(p, &limits, SourceKind::Tcp, "t").unwrap();
        assert!(r.logger.starts_with("app."), "{}", r.logger);
        assert!(
            !r.message.is_empty() && !r.message.contains('%'),
            "{}",
            r.message
        );
        if r.level == 40 {
            errors += 1;
            assert!(
                r.exc_text
                    .as_deref()
                    .unwrap()
                    .ends_with("KeyError: 'token'")
            );
        }
        if r.level == 30 {
            assert!(matches!(extra(&r, "user_id"), Value::Int(_)));
            assert!(matches!(extra(&r, "latency_ms"), Value::Float(_)));
            assert!(matches!(extra(&r, "tags"), Value::List(t) if t.len() == 2));
            warnings_with_extras += 1;
        }
        n += 1;
        buf = rest;
    }
    assert!(buf.is_empty());
    assert_eq!((n, errors, warnings_with_extras), (1000, 20, 80));
}

// --- hostile input -------------------------------------------------------------------------

#[test]
fn truncation_at_every_offset_is_an_error() {
    for name in [
        "pickle_py312_full",
        "pickle_py312_objects",
        "pickle_py27_full",
        "pickle_py312_edge",
    ] {
        let w = wire(name);
        let p = payload(&w);
        let limits = DecodeLimits::default();
        for cut in 0..p.len() {
            let got = pickle::decode_record(&p[..cut], &limits, SourceKind::Tcp, "t");
            assert_eq!(
                got.as_ref().err(),
                Some(&DecodeError::Truncated),
                "{name} cut at {cut}"
            );
        }
        // The TCP framer never hands out a partial frame either.
        for cut in 0..w.len() {
            assert_eq!(frame::check(&w[..cut], limits.max_frame), Ok(None));
        }
    }
}

#[test]
fn four_gib_prefix_is_refused_without_buffering() {
    let max = DecodeLimits::default().max_frame;
    assert_eq!(
        frame::check(&[0xff, 0xff, 0xff, 0xff], max),
        Err(DecodeError::FrameTooLarge {
            len: 0xffff_ffff,
            max
        })
    );
    assert!(matches!(
        frame::datagram_payload(&[0xff, 0xff, 0xff, 0xff, b'N', b'.'], max),
        Err(DecodeError::FrameTooLarge { .. })
    ));
    // Three bytes are not yet a prefix; the fourth decides.
    assert_eq!(frame::check(&[0xff, 0xff, 0xff], max), Ok(None));
}

#[test]
fn garbage_is_rejected() {
    assert_eq!(
        dv(b"\xde\xad\xbe\xef"),
        Err(DecodeError::BadOpcode { op: 0xde, pos: 0 })
    );
    assert_eq!(dv(b""), Err(DecodeError::Truncated));
    // 'G' reads "ET / HTT" as a BINFLOAT, 'P' a persistent id up to the newline, then '\r' is no opcode.
    assert_eq!(
        pickle::decode_record(
            b"GET / HTTP/1.1\r\n\r\n",
            &DecodeLimits::default(),
            SourceKind::Tcp,
            "t"
        )
        .err(),
        Some(DecodeError::BadOpcode { op: b'\r', pos: 16 })
    );
    assert!(matches!(
        pickle::decode_record(b"]K\x01a.", &DecodeLimits::default(), SourceKind::Tcp, "t"),
        Err(DecodeError::NotARecord(_))
    ));
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let len = (rng.next() % 64) as usize;
        let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = dv(&junk);
    }
}

/// 100,000 levels of list, built three ways, must fail fast with TooDeep and not overflow the stack.
#[test]
fn deep_nesting_is_too_deep_and_fast() {
    const N: usize = 100_000;
    let limits = DecodeLimits::default();
    let mut appends = vec![b']'; N];
    appends.extend(std::iter::repeat_n(b'a', N - 1));
    appends.push(b'.');
    let mut marks = vec![b'('; N];
    marks.extend(std::iter::repeat_n(b'l', N));
    marks.push(b'.');
    let mut tuples = b"]".to_vec();
    tuples.extend(std::iter::repeat_n(b'\x85', N));
    tuples.push(b'.');
    for (what, p) in [
        ("APPEND", &appends),
        ("MARK/LIST", &marks),
        ("TUPLE1", &tuples),
    ] {
        let t = Instant::now();
        assert_eq!(dv(p), Err(DecodeError::TooDeep(limits.max_depth)), "{what}");
        // A guard against quadratic or exponential work (which would take hours), not a
        // benchmark: generous, so a debug build on a loaded machine never trips it.
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{what} took {:?}",
            t.elapsed()
        );
    }
    // Inside a record too, and as an object's argument (placeholder text is depth-bounded too).
    let mut rec = b"}(X\x04\x00\x00\x00deep".to_vec();
    rec.extend_from_slice(&appends[..appends.len() - 1]);
    rec.extend_from_slice(b"u.");
    assert_eq!(
        pickle::decode_record(&rec, &limits, SourceKind::Tcp, "t").err(),
        Some(DecodeError::TooDeep(limits.max_depth))
    );
    let mut obj = b"cmod\nf\n".to_vec();
    obj.extend_from_slice(&appends[..appends.len() - 1]);
    obj.extend_from_slice(b"\x85R.");
    assert_eq!(dv(&obj), Err(DecodeError::TooDeep(limits.max_depth)));
    // Exactly at the limit is fine: the root list is depth 1.
    let depth = limits.max_depth;
    let mut ok = vec![b']'; depth];
    ok.extend(std::iter::repeat_n(b'a', depth - 1));
    ok.push(b'.');
    assert!(dv(&ok).is_ok());
    ok.insert(0, b']');
    ok.insert(ok.len() - 1, b'a');
    assert_eq!(dv(&ok), Err(DecodeError::TooDeep(depth)));
}

/// Thirty lists, each holding the previous one ten times: 10^30 items if copied naively.
fn memo_bomb(levels: usize, fanout: usize) -> Vec<u8> {
    let mut p = b"]r\x00\x00\x00\x00".to_vec();
    for level in 1..=levels as u32 {
        p.push(b'(');
        for _ in 0..fanout {
            p.push(b'j');
            p.extend_from_slice(&(level - 1).to_le_bytes());
        }
        p.extend_from_slice(b"lr");
        p.extend_from_slice(&level.to_le_bytes());
    }
    p.push(b'.');
    p
}

#[test]
fn memo_bombs_hit_the_item_budget() {
    let limits = DecodeLimits::default();
    let bomb = memo_bomb(30, 10);
    assert!(bomb.len() < 2000);
    let t = Instant::now();
    assert_eq!(dv(&bomb), Err(DecodeError::TooLarge("max_items")));
    // A guard against quadratic or exponential work (which would take hours), not a
    // benchmark: generous, so a debug build on a loaded machine never trips it.
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    // As a record extra, and as an object's argument (placeholder text).
    let mut rec = b"}(X\x01\x00\x00\x00b".to_vec();
    rec.extend_from_slice(&bomb[..bomb.len() - 1]);
    rec.extend_from_slice(b"u.");
    assert_eq!(
        pickle::decode_record(&rec, &limits, SourceKind::Tcp, "t").err(),
        Some(DecodeError::TooLarge("max_items"))
    );
    let mut obj = b"cmod\nf\n".to_vec();
    obj.extend_from_slice(&bomb[..bomb.len() - 1]);
    obj.extend_from_slice(b"\x85R.");
    assert!(matches!(dv(&obj), Err(DecodeError::TooLarge(_))));
    // A small fan-out stays under the budget and decodes to the expected shape.
    let Value::List(top) = dv(&memo_bomb(3, 2)).unwrap() else {
        panic!()
    };
    assert_eq!(top.len(), 2);
    // The same 1 MiB string referenced 100 times: 100 MiB of copies, over max_decoded.
    let mut text = b"X\x00\x00\x10\x00".to_vec();
    text.extend(std::iter::repeat_n(b'x', 1 << 20));
    text.extend_from_slice(b"q\x00(");
    text.extend(std::iter::repeat_n(&b"h\x00"[..], 100).flatten());
    text.extend_from_slice(b"l.");
    assert_eq!(dv(&text), Err(DecodeError::TooLarge("max_decoded")));
}

/// One-byte opcodes that each allocate (an empty list, a memo slot, a stack push, a memo gap, a
/// MARK) must not let a frame expand many times its size while parsing.
#[test]
fn parse_time_growth_is_bounded() {
    let limits = DecodeLimits {
        max_items: 10_000,
        ..DecodeLimits::default()
    };
    let dl = |p: &[u8]| pickle::decode_value(p, &limits);
    let too_large = Err(DecodeError::TooLarge("max_items"));
    assert_eq!(dl(&vec![b']'; 20_000]), too_large, "empty lists");
    assert_eq!(dl(&vec![b'N'; 20_000]), too_large, "stack pushes");
    let mut memoize = b"\x80\x04N".to_vec();
    memoize.extend(std::iter::repeat_n(0x94, 20_000));
    assert_eq!(dl(&memoize), too_large, "MEMOIZE");
    let mut appends = b"]".to_vec();
    appends.extend(std::iter::repeat_n(&b"Na"[..], 20_000).flatten());
    assert_eq!(dl(&appends), too_large, "APPEND");
    // LONG_BINPUT hopping 64 slots ahead each time: 1 KiB of memo per 5 bytes if uncharged.
    let mut hops = b"N".to_vec();
    for i in 1..2_000u32 {
        hops.push(b'r');
        hops.extend_from_slice(&(i * 64).to_le_bytes());
    }
    assert_eq!(dl(&hops), too_large, "memo gaps");
    // And a real-size hostile frame with the default limits: 4 MiB of `]` stops at max_items.
    let t = Instant::now();
    assert_eq!(
        dv(&vec![b']'; 4 << 20]),
        Err(DecodeError::TooLarge("max_items"))
    );
    // A guard against quadratic or exponential work (which would take hours), not a
    // benchmark: generous, so a debug build on a loaded machine never trips it.
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    // Deep MARK nesting is refused while parsing.
    assert_eq!(
        dv(&vec![b'('; 1000]),
        Err(DecodeError::TooDeep(DecodeLimits::default().max_depth))
    );
}

#[test]
fn self_references_render_like_python_repr() {
    // l = []; l.append(l)
    assert_eq!(dv(b"]q\x00h\x00a."), Ok(Value::List(vec![s("[...]")])));
    // d = {}; d['me'] = d;   and a list inside a dict pointing back at the dict.
    assert_eq!(
        dv(b"}q\x00(X\x02\x00\x00\x00meh\x00X\x01\x00\x00\x00l]h\x00au."),
        Ok(Value::Map(vec![
            ("me".into(), s("{...}")),
            ("l".into(), Value::List(vec![s("{...}")])),
        ]))
    );
    // A record whose extra is the record dict itself.
    let r = pickle::decode_record(
        b"}q\x00(X\x04\x00\x00\x00nameX\x01\x00\x00\x00nX\x02\x00\x00\x00meh\x00u.",
        &DecodeLimits::default(),
        SourceKind::Tcp,
        "t",
    )
    .unwrap();
    assert_eq!(r.logger, "n");
    assert_eq!(extra(&r, "me"), &s("{...}"));
    // An object whose state contains itself: the placeholder text terminates too.
    assert_eq!(
        dv(b"cmod\nC\n)Rq\x00}(X\x01\x00\x00\x00sh\x00ub."),
        Ok(s("mod.C(s=...)"))
    );
}

#[test]
fn os_system_pickles_stay_inert() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let cmd = format!("touch {}", marker.display());
    let mut p0 = b"cos\nsystem\n(S'".to_vec();
    p0.extend_from_slice(cmd.as_bytes());
    p0.extend_from_slice(b"'\ntR.");
    let mut p2 = b"\x80\x02cposix\nsystem\nq\x00X".to_vec();
    p2.extend_from_slice(&(cmd.len() as u32).to_le_bytes());
    p2.extend_from_slice(cmd.as_bytes());
    p2.extend_from_slice(b"\x85R.");
    let mut p4 =
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c"
            .to_vec();
    p4.push(cmd.len() as u8);
    p4.extend_from_slice(cmd.as_bytes());
    p4.extend_from_slice(b"\x94\x85\x94R\x94.");
    for (p, module) in [(&p0, "os"), (&p2, "posix"), (&p4, "os")] {
        assert_eq!(dv(p), Ok(Value::Str(format!("{module}.system('{cmd}')"))));
        assert!(matches!(
            pickle::decode_record(p, &DecodeLimits::default(), SourceKind::Tcp, "t"),
            Err(DecodeError::NotARecord(_))
        ));
    }
    // Smuggled in as an extra of an otherwise ordinary record.
    let mut rec = b"}(X\x04\x00\x00\x00nameX\x03\x00\x00\x00appX\x03\x00\x00\x00cmd".to_vec();
    rec.extend_from_slice(&p2[2..p2.len() - 1]);
    rec.extend_from_slice(b"u.");
    let r = pickle::decode_record(&rec, &DecodeLimits::default(), SourceKind::Tcp, "t").unwrap();
    assert_eq!(
        extra(&r, "cmd"),
        &Value::Str(format!("posix.system('{cmd}')"))
    );
    assert!(!marker.exists(), "the pickle ran a command");
    // eval/exec and friends are just names too.
    assert_eq!(
        dv(b"c__builtin__\neval\n(S'__import__(\"os\")'\ntR."),
        Ok(s("eval('__import__(\"os\")')"))
    );
}

/// Invalid UTF-8 in BINUNICODE is decoded lossily (U+FFFD), not rejected: CPython itself writes
/// lone surrogates that way (`surrogatepass`), and one bad character should not drop a record.
#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    assert_eq!(dv(b"X\x03\x00\x00\x00a\xffb."), Ok(s("a\u{fffd}b")));
    // '\udcff' as CPython pickles it.
    assert_eq!(
        dv(b"X\x03\x00\x00\x00\xed\xb3\xbf."),
        Ok(s("\u{fffd}\u{fffd}\u{fffd}"))
    );
    let r = pickle::decode_record(
        b"}(X\x04\x00\x00\x00nameX\x02\x00\x00\x00\xffaX\x03\x00\x00\x00k\xfe1K\x01u.",
        &DecodeLimits::default(),
        SourceKind::Tcp,
        "t",
    )
    .unwrap();
    assert_eq!(r.logger, "\u{fffd}a");
    assert_eq!(extra(&r, "k\u{fffd}1"), &Value::Int(1));
}

#[test]
fn oversized_integers_are_refused() {
    let mut p = b"\x8b\x00\x10\x00\x00".to_vec();
    p.extend(vec![0x11; 4096]);
    p.push(b'.');
    assert_eq!(dv(&p), Err(DecodeError::TooLarge("integer size")));
    let mut t = b"L".to_vec();
    t.extend(std::iter::repeat_n(b'9', 5000));
    t.extend_from_slice(b"L\n.");
    assert_eq!(dv(&t), Err(DecodeError::TooLarge("integer size")));
}

/// A tiny deterministic PRNG so the fuzz loop is reproducible without dependencies.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[test]
fn mutation_fuzz_never_panics() {
    let seeds: Vec<Vec<u8>> = [
        "pickle_py311_simple",
        "pickle_py312_full",
        "pickle_py312_objects",
        "pickle_py27_full",
        "pickle_py313_full",
    ]
    .iter()
    .map(|n| payload(&wire(n)).to_vec())
    .collect();
    let interesting = [
        b'(', b'.', b'0', b'1', b'2', b'a', b'b', b'c', b'd', b'e', b'h', b'j', b'l', b'q', b'r',
        b's', b't', b'u', b'R', b'X', b'L', b'I', b'S', b'V', 0x80, 0x85, 0x8a, 0x8b, 0x8c, 0x93,
        0x94, 0x95, 0xff, 0x00,
    ];
    let limits = DecodeLimits::default();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let (mut ok, mut err) = (0usize, 0usize);
    for i in 0..20_000 {
        let mut p = seeds[i % seeds.len()].clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % (p.len() + 1);
            let byte = if rng.next().is_multiple_of(2) {
                interesting[(rng.next() as usize) % interesting.len()]
            } else {
                rng.next() as u8
            };
            match rng.next() % 4 {
                0 if at < p.len() => p[at] ^= 1 << (rng.next() % 8),
                1 if at < p.len() => p[at] = byte,
                2 => p.insert(at, byte),
                _ if at < p.len() => {
                    p.remove(at);
                }
                _ => p.push(byte),
            }
        }
        match pickle::decode_record(&p, &limits, SourceKind::Tcp, "fuzz") {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
        let _ = pickle::decode_value(&p, &limits);
    }
    // Both outcomes must actually occur, or the mutations are not exercising anything.
    assert!(ok > 100 && err > 100, "ok {ok}, err {err}");
}

// --- cross-checks against CPython ----------------------------------------------------------

/// Finds an interpreter: `python3` on PATH, or a pyenv version.
fn python(version_prefix: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if let Some(versions) = home.map(|h| h.join(".pyenv/versions"))
        && let Ok(rd) = std::fs::read_dir(&versions)
    {
        let mut found: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(version_prefix))
            .map(|e| e.path().join("bin/python"))
            .filter(|p| p.exists())
            .collect();
        found.sort();
        if let Some(p) = found.pop() {
            return Some(p);
        }
    }
    if version_prefix.starts_with('3') {
        let ok = Command::new("python3")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        return ok.then(|| PathBuf::from("python3"));
    }
    None
}

/// Shared by both Python versions: prints `name proto hex expected-json` lines, where the
/// expected value is tagged JSON that maps 1:1 onto `Value`.
const DESCRIBE: &str = r#"
import json, pickle, sys, binascii
PY2 = sys.version_info[0] == 2
text_type = unicode if PY2 else str
def describe(o, keys=False):
    if o is None: return None
    if isinstance(o, bool): return o
    if isinstance(o, (int, long) if PY2 else int):
        return o if -2**63 <= o < 2**63 else {"big": str(o)}
    if isinstance(o, float): return {"float": repr(o)}
    if isinstance(o, text_type): return o
    if PY2 and isinstance(o, str):
        try: return o.decode("utf-8")
        except UnicodeDecodeError: return o.decode("latin-1")
    if isinstance(o, (list, tuple, set, frozenset)) and type(o) in (list, tuple, set, frozenset):
        return [describe(x) for x in o]
    if type(o) is dict or type(o).__name__ == "OrderedDict":
        return {"map": [[k if isinstance(k, text_type) else (describe(k) if PY2 and isinstance(k, str) else repr(k)), describe(v)] for k, v in o.items()]}
    return {"str": repr(o)}
def emit(name, obj, protos):
    for p in protos:
        data = pickle.dumps(obj, p)
        sys.stdout.write("%s %d %s %s\n" % (name, p, binascii.hexlify(data).decode(), json.dumps(describe(obj))))
"#;

const CASES_PY3: &str = r#"
import datetime, decimal, uuid, collections
shared = ["s"]
cases = {
    "ints": [0, 1, -1, 255, 256, 65535, 65536, 2**31-1, 2**31, -2**31, -2**31-1, 2**63-1, 2**63, -2**63, -2**63-1, 2**100, -2**100, 10**30],
    "floats": [0.0, -0.0, 0.1, 1e300, -1e-300, 1.5, 1e16, float("inf"), float("-inf")],
    "strs": ["", "a", "Zo\u00eb \U0001f680 \u65e5\u672c", "quote's \"dq\"", "back\\slash\nnl", "\x00\x1b[31m", "a" * 300, "\u20ac" * 70],
    "bytes": [b"", b"\x00\xffbytes", b"it's", bytearray(b"ba")],
    "nest": {"k": [1, (2, 3), {"d": None}], "e": {}, "t": (), "s1": ("x",), "t3": (1, 2, 3)},
    "shared": {"a": shared, "b": shared, "c": [shared, shared]},
    "nonstr_keys": {1: "a", (1, 2): "b", None: "c", 2.5: "d", (): "e"},
    "sets": [{1}, frozenset([2]), set(), frozenset()],
    "dt": datetime.datetime(2026, 1, 2, 3, 4, 5, 599999),
    "dt0": datetime.datetime(2026, 1, 2, 3, 4),
    "dtz": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    "dtoff": datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    "date": datetime.date(2026, 1, 2),
    "time": datetime.time(3, 4, 5, 6),
    "time0": datetime.time(3, 4),
    "td": datetime.timedelta(days=1, seconds=2, microseconds=3),
    "td0": datetime.timedelta(0),
    "dec": decimal.Decimal("1.10"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "od": collections.OrderedDict([("a", 1), ("b", [2])]),
    "many_memo": ["m%d" % i for i in range(300)],
}
for name, obj in cases.items():
    emit(name, obj, range(0, pickle.HIGHEST_PROTOCOL + 1))
"#;

const CASES_PY2: &str = r#"
import datetime, decimal
cases = {
    "ints": [0, 1, -1, 2**31, 2**62, 2**63, -2**63 - 1, 2**100, 10**30, True, False],
    "floats": [0.1, -0.0, 1e300, float("inf")],
    "bytestr": ["ascii", "caf\xc3\xa9", "\xff\xfe latin", "quote's", "\x00\n\\"],
    "unicode": [u"Zo\xeb", u"\u65e5\u672c \U0001f680", u"back\\slash\nnl"],
    "nest": {"k": [1, (2, 3), {"d": None}], "e": {}, "t": (), "s1": ("x",)},
    "set": set([1]),
    "dt": datetime.datetime(2026, 1, 2, 3, 4, 5, 599999),
    "date": datetime.date(2026, 1, 2),
    "dec": decimal.Decimal("1.10"),
}
for name, obj in cases.items():
    emit(name, obj, [0, 1, 2])
"#;

/// Turns the tagged JSON from `describe` into the `Value` the decoder must produce.
fn expected(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::Int(n.as_i64().expect("describe keeps i64 as numbers")),
        J::String(s) => Value::Str(s.clone()),
        J::Array(a) => Value::List(a.iter().map(expected).collect()),
        J::Object(o) => {
            if let Some(J::String(d)) = o.get("big") {
                Value::BigInt(d.clone())
            } else if let Some(J::String(f)) = o.get("float") {
                Value::Float(match f.as_str() {
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    other => other.parse().unwrap(),
                })
            } else if let Some(J::String(s)) = o.get("str") {
                Value::Str(s.clone())
            } else if let Some(J::Array(pairs)) = o.get("map") {
                Value::Map(
                    pairs
                        .iter()
                        .map(|p| {
                            let key = match &p[0] {
                                J::String(k) => k.clone(),
                                other => panic!("key {other}"),
                            };
                            (key, expected(&p[1]))
                        })
                        .collect(),
                )
            } else {
                panic!("unknown tag in {j}")
            }
        }
    }
}

/// Runs one interpreter and checks every (case, protocol) it pickled. Returns how many were checked.
fn cross_check(py: &Path, cases: &str) -> usize {
    let out = Command::new(py)
        .arg("-c")
        .arg(format!("{DESCRIBE}\n{cases}"))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut n = 0;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let mut f = line.splitn(4, ' ');
        let (name, proto, hex, json) = (
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap(),
        );
        let want = expected(&serde_json::from_str(json).unwrap());
        let got = dv(&unhex(hex));
        assert_eq!(
            got.as_ref(),
            Ok(&want),
            "{} case {name} protocol {proto}: {hex}",
            py.display()
        );
        n += 1;
    }
    n
}

#[test]
fn cpython3_pickles_of_every_protocol_decode_as_python_sees_them() {
    let Some(py) = common::python_or_skip(python("3.12").or_else(|| python("3")), "Python 3")
    else {
        return;
    };
    let n = cross_check(&py, CASES_PY3);
    assert!(n >= 6 * 20, "only {n} cases ran");
}

#[test]
fn cpython2_pickles_decode_as_python_sees_them() {
    let Some(py) = common::python_or_skip(python("2.7"), "Python 2.7") else {
        return;
    };
    let n = cross_check(&py, CASES_PY2);
    assert!(n >= 3 * 9, "only {n} cases ran");
}

/// Self-referencing and very deep structures pickled by CPython itself, every protocol.
#[test]
fn cpython_hostile_structures() {
    let Some(py) = common::python_or_skip(python("3.12").or_else(|| python("3")), "Python 3")
    else {
        return;
    };
    let script = r#"
import pickle, sys, binascii
sys.setrecursionlimit(20000)
l = []; l.append(l)
d = {}; d["d"] = d; d["l"] = [d]
deep = []
for _ in range(500): deep = [deep]
for p in range(0, pickle.HIGHEST_PROTOCOL + 1):
    for name, obj in (("selflist", l), ("selfdict", d), ("deep", deep)):
        print(name, p, binascii.hexlify(pickle.dumps(obj, p)).decode())
"#;
    let out = Command::new(&py).arg("-c").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let limits = DecodeLimits::default();
    let mut n = 0;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let mut f = line.split(' ');
        let (name, proto, hex) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        let got = pickle::decode_value(&unhex(hex), &limits);
        let want = match name {
            "selflist" => Ok(Value::List(vec![s("[...]")])),
            "selfdict" => Ok(Value::Map(vec![
                ("d".into(), s("{...}")),
                ("l".into(), Value::List(vec![s("{...}")])),
            ])),
            _ => Err(DecodeError::TooDeep(limits.max_depth)),
        };
        assert_eq!(got, want, "{name} protocol {proto}");
        n += 1;
    }
    assert_eq!(n, 3 * 6);
}
