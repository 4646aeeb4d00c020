//! Unit tests of the unpickler: every protocol's scalars, memo sharing, cycles, placeholders,
//! and the flat fast path checked against the general path on fixtures and fuzzed frames.

use super::flat::flat_fields;
use super::ir::Span;
use super::opcodes as op;
use super::placeholder::{py_bytes_repr, scalar_repr};
use super::*;

/// [`decode_record`] by the flat path alone, `None` where it steps aside.
fn flat_record(
    payload: &[u8],
    limits: &DecodeLimits,
    source: SourceKind,
    origin: &str,
) -> Option<Record> {
    let mut builder = RecordBuilder::new(source, origin, Rendering::Typed);
    flat_fields(payload, limits, &mut builder)?;
    Some(builder.finish(limits))
}

fn dv(p: &[u8]) -> Result<Value> {
    decode_value(p, &DecodeLimits::default())
}

fn s(x: &str) -> Value {
    Value::Str(x.to_owned())
}

#[test]
fn scalars_of_every_protocol() {
    assert_eq!(dv(b"N."), Ok(Value::Null));
    assert_eq!(dv(b"I01\n."), Ok(Value::Bool(true)));
    assert_eq!(dv(b"I00\n."), Ok(Value::Bool(false)));
    assert_eq!(dv(b"I-12\n."), Ok(Value::Int(-12)));
    assert_eq!(
        dv(b"I123456789012345678901234\n."),
        Ok(Value::BigInt("123456789012345678901234".into()))
    );
    assert_eq!(dv(b"L-5L\n."), Ok(Value::Int(-5)));
    assert_eq!(
        dv(b"L-000099999999999999999999L\n."),
        Ok(Value::BigInt("-99999999999999999999".into()))
    );
    assert_eq!(dv(b"\x80\x02\x88."), Ok(Value::Bool(true)));
    assert_eq!(dv(b"\x80\x02\x89."), Ok(Value::Bool(false)));
    assert_eq!(dv(b"J\xff\xff\xff\xff."), Ok(Value::Int(-1)));
    assert_eq!(dv(b"F2.5\n."), Ok(Value::Float(2.5)));
    assert_eq!(
        dv(b"G?\xf0\x00\x00\x00\x00\x00\x00."),
        Ok(Value::Float(1.0))
    );
    assert_eq!(dv(b"\x8c\x02hi."), Ok(s("hi")));
    assert_eq!(dv(b"\x8d\x02\0\0\0\0\0\0\0hi."), Ok(s("hi")));
    assert_eq!(dv(b"C\x02\x00\xff."), Ok(s("b'\\x00\\xff'")));
    assert_eq!(dv(b"S'a\\'b\\x41\\n'\n."), Ok(s("a'bA\n")));
    assert_eq!(dv(b"U\x02\xe9x."), Ok(s("\u{e9}x")));
    assert_eq!(
        dv(b"Vz\xe9\\u000a\\u005c\\U0001f680\n."),
        Ok(s("z\u{e9}\n\\\u{1f680}"))
    );
}

#[test]
fn binary_longs() {
    assert_eq!(dv(b"\x8a\x00."), Ok(Value::Int(0)));
    assert_eq!(dv(b"\x8a\x01\xff."), Ok(Value::Int(-1)));
    assert_eq!(dv(b"\x8a\x02\xff\x00."), Ok(Value::Int(255)));
    assert_eq!(
        dv(b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00."),
        Ok(Value::BigInt("9223372036854775808".into()))
    );
    assert_eq!(
        dv(b"\x8a\x09\xff\xff\xff\xff\xff\xff\xff\x7f\xff."),
        Ok(Value::BigInt("-9223372036854775809".into()))
    );
    assert_eq!(
        dv(b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\xff."),
        Ok(Value::Int(i64::MIN))
    );
    // 10**30, as Python 3 writes it with protocol 2.
    assert_eq!(
        dv(b"\x80\x02\x8a\r\x00\x00\x00@\xea\xed\x74F\xd0\x9c,\x9f\x0c."),
        Ok(Value::BigInt("1000000000000000000000000000000".into()))
    );
    let mut big = b"\x8b\x01\x01\x00\x00".to_vec();
    big.extend(vec![1u8; 257]);
    big.push(b'.');
    assert_eq!(dv(&big), Err(DecodeError::TooLarge("integer size")));
}

#[test]
fn placeholder_text_reprs_like_python() {
    // Floats and strings inside placeholders are python::repr's, the one Python repr in the crate.
    let float = |f: f64| {
        let mut out = String::new();
        scalar_repr(Item::Float(f), b"", &mut out);
        out
    };
    for (f, want) in [
        (0.5, "0.5"),
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (1e16, "1e+16"),
        (1.5e16, "1.5e+16"),
        (123456789012345.6, "123456789012345.6"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.2345e-300, "1.2345e-300"),
        (f64::NAN, "nan"),
        (f64::NEG_INFINITY, "-inf"),
    ] {
        assert_eq!(float(f), want, "{f:?}");
    }
    let text = "it's \u{1b}[31m\u{e9}\u{a0}\u{378}";
    let mut out = String::new();
    scalar_repr(
        Item::Str(Span {
            off: 0,
            len: text.len() as u32,
        }),
        text.as_bytes(),
        &mut out,
    );
    assert_eq!(out, "\"it's \\x1b[31m\u{e9}\\xa0\\u0378\"");
    out.clear();
    py_bytes_repr(b"\x00\xffbytes'", &mut out);
    assert_eq!(out, "b\"\\x00\\xffbytes'\"");
}

#[test]
fn objects_are_inert_placeholders() {
    assert_eq!(
        dv(b"cos\nsystem\n(S'echo pwned'\ntR."),
        Ok(s("os.system('echo pwned')"))
    );
    assert_eq!(
        dv(b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x0aecho pwned\x85R."),
        Ok(s("os.system('echo pwned')"))
    );
    assert_eq!(dv(b"c__builtin__\neval\n(S'1'\ntR."), Ok(s("eval('1')")));
    assert_eq!(
        dv(b"(c__main__\nP\no}(U\x01xK\x01ub."),
        Ok(s("__main__.P(x=1)"))
    );
    assert_eq!(dv(b"(K\x01ias\nT\n."), Ok(s("as.T(1)")));
    assert_eq!(dv(b"\x80\x02\x82\x07."), Ok(s("copyreg.extension(7)")));
    assert_eq!(dv(b"Pabc\n."), Ok(s("persistent_id('abc')")));
}

#[test]
fn memo_shares_containers() {
    // l = []; d = {'a': l, 'b': l} with l filled after the first reference.
    let p = b"}q\x00(X\x01\x00\x00\x00a]q\x01X\x01\x00\x00\x00bh\x01u.";
    let v = dv(p).unwrap();
    assert_eq!(
        v,
        Value::Map(vec![
            ("a".into(), Value::List(vec![])),
            ("b".into(), Value::List(vec![]))
        ])
    );
    let p = b"(]q\x01h\x01K\x05al.";
    assert_eq!(
        dv(p),
        Ok(Value::List(vec![
            Value::List(vec![Value::Int(5)]),
            Value::List(vec![Value::Int(5)])
        ]))
    );
}

#[test]
fn cycles_render_like_python() {
    // l = []; l.append(l)
    assert_eq!(dv(b"]q\x00h\x00a."), Ok(Value::List(vec![s("[...]")])));
    // d = {}; d['d'] = d
    assert_eq!(
        dv(b"}q\x00X\x01\x00\x00\x00dh\x00s."),
        Ok(Value::Map(vec![("d".into(), s("{...}"))]))
    );
}

#[test]
fn sparse_memo_slots_do_not_allocate() {
    assert_eq!(
        dv(b"K\x07r\xff\xff\xff\xffj\xff\xff\xff\xff."),
        Ok(Value::Int(7))
    );
    assert!(matches!(
        dv(b"j\x05\x00\x00\x00."),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn stack_discipline_follows_cpython() {
    // An APPEND may not reach below a MARK.
    assert!(matches!(
        dv(b"](K\x01a."),
        Err(DecodeError::Malformed { .. })
    ));
    assert!(matches!(
        dv(b"K\x01K\x02s."),
        Err(DecodeError::Malformed { .. })
    ));
    assert!(matches!(dv(b"."), Err(DecodeError::Malformed { .. })));
    assert_eq!(dv(b"K\x01"), Err(DecodeError::Truncated));
    assert_eq!(
        dv(b"\xff"),
        Err(DecodeError::BadOpcode { op: 0xff, pos: 0 })
    );
    assert!(matches!(
        dv(b"\x80\x06N."),
        Err(DecodeError::Malformed { .. })
    ));
}

/// Every payload the tests have: the committed bench mix and the captured samples.
fn fixture_payloads() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pickle");
    let mut out = Vec::new();
    let mix = std::fs::read(dir.join("bench_mix.frames")).unwrap();
    let mut buf = &mix[..];
    while let Some((p, rest)) = crate::decode::frame::split(buf, 1 << 24).unwrap() {
        out.push(p.to_vec());
        buf = rest;
    }
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".hex") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        let hex: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        let frame: Vec<u8> = hex
            .chunks(2)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
            .collect();
        out.push(frame[4..].to_vec());
    }
    out
}

/// Asserts the flat fast path, when it takes a payload, builds exactly what the general
/// unpickler builds. Returns whether the flat path took it.
fn same_record_both_ways(p: &[u8], limits: &DecodeLimits) -> bool {
    let Some(mut flat) = flat_record(p, limits, SourceKind::Tcp, "o") else {
        return false;
    };
    let mut general = general_record(p, limits, SourceKind::Tcp, "o")
        .unwrap_or_else(|e| panic!("general path rejects what the flat path took: {e}"));
    // Without a `created` key both stamp "now", a few nanoseconds apart.
    let has_created = matches!(decode_value(p, limits), Ok(Value::Map(m)) if m.iter().any(|(k, _)| k == "created"));
    if !has_created {
        flat.created = 0.0;
        general.created = 0.0;
    }
    assert_eq!(flat.created.to_bits(), general.created.to_bits());
    assert_eq!(flat, general);
    true
}

#[test]
fn flat_path_matches_general_path() {
    let limits = DecodeLimits::default();
    let payloads = fixture_payloads();
    let flat = payloads
        .iter()
        .filter(|p| same_record_both_ways(p, &limits))
        .count();
    // All 1000 mix frames (the WARNINGs' list extra included), plus the flat samples.
    assert!(
        flat >= 1000,
        "flat path took only {flat} of {}",
        payloads.len()
    );
    // Mutations that keep the flat shape (a byte inside a string, a number) must agree too.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut took = 0;
    for i in 0..20_000 {
        let mut p = payloads[i % payloads.len()].clone();
        for _ in 0..1 + next() % 3 {
            let at = (next() as usize) % p.len();
            match next() % 3 {
                0 => p[at] ^= 1 << (next() % 8),
                1 => p[at] = next() as u8,
                _ => {
                    p.remove(at);
                }
            }
        }
        took += usize::from(same_record_both_ways(&p, &limits));
    }
    assert!(
        took > 1000,
        "only {took} mutated frames kept the flat shape"
    );
    // Tight limits: the flat path steps aside and the general path reports the error.
    let tight = DecodeLimits {
        max_decoded: 100,
        ..DecodeLimits::default()
    };
    for p in &payloads {
        assert!(flat_record(p, &tight, SourceKind::Tcp, "o").is_none());
    }
}

/// A protocol-1 record dict `{"name": "n", <key>: <value>}`, the value's opcodes as given.
fn record_with(key: &str, value: &[u8]) -> Vec<u8> {
    let mut p = b"}q\x00(X\x04\x00\x00\x00nameq\x01X\x01\x00\x00\x00nq\x02".to_vec();
    p.push(op::BINUNICODE);
    p.extend((key.len() as u32).to_le_bytes());
    p.extend(key.as_bytes());
    p.extend(value);
    p.extend(b"X\x07\x00\x00\x00createdG@\x00\x00\x00\x00\x00\x00\x00u.");
    p
}

#[test]
fn flat_path_takes_scalar_lists_and_tuples_as_cpython_batches_them() {
    let limits = DecodeLimits::default();
    let ab = Value::List(vec![s("a"), Value::Int(1)]);
    for (value, want) in [
        // [] ; ["a"] (one item: APPEND) ; ["a", 1] (a batch: MARK … APPENDS)
        (&b"]q\x03"[..], Value::List(vec![])),
        (b"]q\x03X\x01\x00\x00\x00aq\x04a", Value::List(vec![s("a")])),
        (b"]q\x03(X\x01\x00\x00\x00aq\x04K\x01e", ab.clone()),
        // () ; ("a", 1) ; {}
        (b")", Value::List(vec![])),
        (b"(X\x01\x00\x00\x00aq\x03K\x01tq\x04", ab),
        (b"}q\x03", Value::Map(vec![])),
    ] {
        let p = record_with("tags", value);
        assert!(same_record_both_ways(&p, &limits), "{value:?}");
        let r = decode_record(&p, &limits, SourceKind::Tcp, "o").unwrap();
        assert_eq!(r.extra, vec![("tags".to_owned(), want)], "{value:?}");
        assert_eq!((r.logger.as_str(), r.created), ("n", 2.0));
        // The general path refuses a container one level down at max_depth 1: so does the
        // flat path, by stepping aside.
        let shallow = DecodeLimits {
            max_depth: 1,
            ..DecodeLimits::default()
        };
        assert!(flat_record(&p, &shallow, SourceKind::Tcp, "o").is_none());
        assert_eq!(
            decode_record(&p, &shallow, SourceKind::Tcp, "o"),
            Err(DecodeError::TooDeep(1))
        );
    }
    // Nested containers, a dict with items and a memo GET are the general path's.
    for value in [
        &b"]q\x03(]q\x04K\x01e"[..],
        b"}q\x03(X\x01\x00\x00\x00aK\x01u",
        b"]q\x03(h\x02K\x01e",
    ] {
        let p = record_with("tags", value);
        assert!(
            flat_record(&p, &limits, SourceKind::Tcp, "o").is_none(),
            "{value:?}"
        );
        assert!(
            decode_record(&p, &limits, SourceKind::Tcp, "o").is_ok(),
            "{value:?}"
        );
    }
}
