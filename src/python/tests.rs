//! Unit tests of Python's text rules: literal parsing, `%`-formatting and `str()`/`repr()`,
//! with the answers CPython gives for the same input.

use super::*;
use crate::limits::DecodeLimits;
use crate::python::{Refused, Work, percent_format_within};
use crate::value::Value;

fn lit(s: &str) -> Option<Value> {
    parse_literal(s, &DecodeLimits::default())
}

fn s(x: &str) -> Value {
    Value::Str(x.to_owned())
}

fn fmt(t: &str, args: &str) -> Option<String> {
    percent_format(t, &lit(args).expect("test args are literals"))
}

#[test]
fn python2_byte_string_escapes_read_as_utf8() {
    assert_eq!(lit(r"('caf\xc3\xa9',)"), Some(Value::List(vec![s("café")])));
    // Python 3 writes é literally; a lone \xe9 stays U+00E9.
    assert_eq!(lit("'café'"), Some(s("café")));
    assert_eq!(lit(r"'\xe9'"), Some(s("é")));
}

#[test]
fn strings_prefixes_and_escapes() {
    assert_eq!(lit("'it\\'s'"), Some(s("it's")));
    assert_eq!(lit("\"it's\""), Some(s("it's")));
    assert_eq!(
        lit(r"'\n\t\\\x41\u20ac\U0001f600\0\101'"),
        Some(s("\n\t\\A€😀\0A"))
    );
    assert_eq!(lit("u'zo\\xeb'"), Some(s("zoë")));
    assert_eq!(lit(r"r'\d+\''"), Some(s(r"\d+\'")));
    assert_eq!(lit(r"'\q'"), Some(s(r"\q")));
    assert_eq!(lit("'zoë €'"), Some(s("zoë €")));
    // Bytes would print as b'…'; a lone surrogate is no Rust char; \N needs name tables.
    assert_eq!(lit("b'ab'"), None);
    assert_eq!(lit(r"'\ud800'"), None);
    assert_eq!(lit(r"'\N{BULLET}'"), None);
    assert_eq!(lit("'unterminated"), None);
    assert_eq!(lit("'a\nb'"), None);
}

#[test]
fn numbers_and_names() {
    assert_eq!(lit("42"), Some(Value::Int(42)));
    assert_eq!(lit("-7"), Some(Value::Int(-7)));
    assert_eq!(lit("140045996985216L"), Some(Value::Int(140045996985216)));
    assert_eq!(lit("-9223372036854775808"), Some(Value::Int(i64::MIN)));
    assert_eq!(
        lit("9223372036854775808"),
        Some(Value::BigInt("9223372036854775808".into()))
    );
    assert_eq!(
        lit("-1267650600228229401496703205376"),
        Some(Value::BigInt("-1267650600228229401496703205376".into()))
    );
    assert_eq!(lit(&"9".repeat(MAX_INT_DIGITS + 1)), None);
    assert_eq!(lit("1.5"), Some(Value::Float(1.5)));
    assert_eq!(lit("1e+16"), Some(Value::Float(1e16)));
    assert_eq!(lit("5e-324"), Some(Value::Float(5e-324)));
    let z = lit("-0.0");
    assert!(matches!(z, Some(Value::Float(f)) if f == 0.0 && f.is_sign_negative()));
    assert_eq!(lit("True"), Some(Value::Bool(true)));
    assert_eq!(lit("False"), Some(Value::Bool(false)));
    assert_eq!(lit("None"), Some(Value::Null));
    for bad in [
        "inf", "nan", "-inf", "(1, nan)", "1j", "0x10", "1_000", "- 1", "1.2.3", "true",
    ] {
        assert_eq!(lit(bad), None, "{bad}");
    }
}

#[test]
fn containers() {
    assert_eq!(lit("()"), Some(Value::List(vec![])));
    assert_eq!(lit("(1,)"), Some(Value::List(vec![Value::Int(1)])));
    assert_eq!(lit("(1)"), Some(Value::Int(1)));
    assert_eq!(
        lit("('/dev/sda1', 93)"),
        Some(Value::List(vec![s("/dev/sda1"), Value::Int(93)]))
    );
    assert_eq!(
        lit("{'k': [1, 2], 'n': {}, 'e': []}"),
        Some(Value::Map(vec![
            ("k".into(), Value::List(vec![Value::Int(1), Value::Int(2)])),
            ("n".into(), Value::Map(vec![])),
            ("e".into(), Value::List(vec![])),
        ]))
    );
    assert_eq!(
        lit("[1, 2,]"),
        Some(Value::List(vec![Value::Int(1), Value::Int(2)]))
    );
    assert_eq!(lit(" ( 'a' , ) "), Some(Value::List(vec![s("a")])));
    for bad in [
        "(,)",
        "[,]",
        "{'a':}",
        "{'a' 1}",
        "(1 2)",
        "[1, 2",
        "[1, 2))",
        "{1: 'a'}",
        "{(1, 2): 3}",
        "((1, 2),)",
        "[(1,)]",
        "{1, 2}",
        "set()",
        "'a' 'b'",
        "(1,) x",
        "",
    ] {
        assert_eq!(lit(bad), None, "{bad}");
    }
}

#[test]
fn non_literal_reprs_are_refused() {
    for bad in [
        "(<object object at 0x7f5efefb37c0>,)",
        "(datetime.datetime(2026, 11, 25, 0, 5),)",
        "(Decimal('1.5'),)",
        "(<class 'ZeroDivisionError'>, ZeroDivisionError('division by zero'), <traceback object at 0x7f>)",
    ] {
        assert_eq!(lit(bad), None, "{bad}");
    }
}

#[test]
fn depth_is_bounded_without_recursion() {
    let limits = DecodeLimits {
        max_depth: 3,
        ..DecodeLimits::default()
    };
    assert!(parse_literal("[[[1]]]", &limits).is_some());
    assert_eq!(parse_literal("[[[[1]]]]", &limits), None);
    // A million brackets must be refused quickly, not overflow the stack.
    let deep = "[".repeat(1_000_000) + &"]".repeat(1_000_000);
    assert_eq!(lit(&deep), None);
    let items = DecodeLimits {
        max_items: 2,
        ..DecodeLimits::default()
    };
    assert_eq!(parse_literal("[1, 2, 3]", &items), None);
}

#[test]
fn percent_matches_python() {
    assert_eq!(
        fmt("disk %s at %d%% & rising", "('/dev/sda1', 93)").as_deref(),
        Some("disk /dev/sda1 at 93% & rising")
    );
    assert_eq!(
        fmt("boom %r", "{'k': [1, 2]}").as_deref(),
        Some("boom {'k': [1, 2]}")
    );
    assert_eq!(fmt("100%%", "{}").as_deref(), Some("100%"));
    assert_eq!(fmt("abc", "{}").as_deref(), Some("abc"));
    assert_eq!(
        fmt("%(a)s and %(b)05.1f", "{'a': None, 'b': -2.25}").as_deref(),
        Some("None and -02.2")
    );
    assert_eq!(fmt("%(a(b))s", "{'a(b)': 1}").as_deref(), Some("1"));
    assert_eq!(fmt("%s %(a)s", "{'a': 1}").as_deref(), Some("{'a': 1} 1"));
    assert_eq!(
        fmt("%d %i %u", "(True, 3.7, -3.7)").as_deref(),
        Some("1 3 -3")
    );
    assert_eq!(
        fmt("%#x %#o %X %#010x", "(255, 8, 255, -255)").as_deref(),
        Some("0xff 0o10 FF -0x00000ff")
    );
    assert_eq!(
        fmt("%x", "(1000000000000000000000000000000,)").as_deref(),
        Some("c9f2c9cd04674edea40000000")
    );
    assert_eq!(
        fmt("%.3d|%+d|% d|%-5d|", "(-5, 0, 5, 3)").as_deref(),
        Some("-005|+0| 5|3    |")
    );
    assert_eq!(
        fmt("%*d|%-*d|%.*f", "(5, 3, -5, 3, 2, 3.14159)").as_deref(),
        Some("    3|3    |3.14")
    );
    assert_eq!(
        fmt("%s %s %s %s", "(0.1, 1e16, 1e15, 1e-05)").as_deref(),
        Some("0.1 1e+16 1000000000000000.0 1e-05")
    );
    assert_eq!(
        fmt(
            "%e|%g|%g|%#g|%G|%.0f|%.1f",
            "(0.0, 1e-05, 1000000, 1.0, 1e-10, 2.5, 0.25)"
        )
        .as_deref(),
        Some("0.000000e+00|1e-05|1e+06|1.00000|1E-10|2|0.2")
    );
    assert_eq!(
        percent_format(
            "%010f|%+f|%F",
            &Value::List(vec![
                Value::Float(f64::INFINITY),
                Value::Float(f64::NAN),
                Value::Float(f64::NEG_INFINITY)
            ])
        )
        .as_deref(),
        Some("0000000inf|+nan|-INF")
    );
    assert_eq!(fmt("%f", &format!("(1{},)", "0".repeat(400))), None);
    assert_eq!(
        fmt("%c%c%5c|", "(65, '€', 'a')").as_deref(),
        Some("A€    a|")
    );
    assert_eq!(
        fmt(
            "%.3s|%5s|%-5s|%r|%a",
            "('abcdef', None, True, \"it's\", 'é€😀')"
        )
        .as_deref(),
        Some("abc| None|True |\"it's\"|'\\xe9\\u20ac\\U0001f600'")
    );
    assert_eq!(fmt("%ld %hd", "(5, 6)").as_deref(), Some("5 6"));
    assert_eq!(fmt("second", "()").as_deref(), Some("second"));
}

#[test]
fn percent_refuses_where_python_raises() {
    for (t, a) in [
        ("%s", "()"),
        ("%s %s", "(1,)"),
        ("%s", "(1, 2)"),
        ("abc", "5"),
        ("%d", "('5',)"),
        ("%d", "(None,)"),
        ("%x", "(3.0,)"),
        ("%c", "('ab',)"),
        ("%c", "(1114112,)"),
        ("%(a)s", "(1,)"),
        ("%(a)s", "{}"),
        ("%(a)s %s", "{'a': 1}"),
        ("%(a", "{'a': 1}"),
        ("%z", "(1,)"),
        ("%", "()"),
        ("%5%", "(1,)"),
        ("%*s", "(1.0, 'x')"),
        ("%lld", "(1,)"),
    ] {
        assert_eq!(fmt(t, a), None, "{t:?} % {a}");
    }
}

#[test]
fn hostile_widths_are_refused_not_allocated() {
    assert_eq!(fmt("%999999999999s", "('x',)"), None);
    assert_eq!(fmt("%.99999999999f", "(1.0,)"), None);
    let wide = format!("%{}s", MAX_FORMATTED + 1);
    assert!(fmt(&wide, "('x',)").is_none());
    let many = "%(a)9999999s".repeat(8);
    assert!(fmt(&many, "{'a': 1}").is_none());
    // 1e999 reads as inf, as ast.literal_eval has it; the float conversions then write a word.
    assert_eq!(
        fmt("%010f|%+F", "(1e999, -1e999)").as_deref(),
        Some("0000000inf|-INF")
    );
}

#[test]
fn str_and_repr() {
    let v = Value::Map(vec![
        (
            "a".into(),
            Value::List(vec![
                Value::Int(1),
                Value::Float(0.5),
                Value::Null,
                Value::Bool(true),
            ]),
        ),
        ("q".into(), s("it's \"x\"\n\u{a0}\u{1b}")),
        (
            "big".into(),
            Value::BigInt("-123456789012345678901234567890".into()),
        ),
    ]);
    assert_eq!(
        py_repr(&v),
        r#"{'a': [1, 0.5, None, True], 'q': 'it\'s "x"\n\xa0\x1b', 'big': -123456789012345678901234567890}"#
    );
    assert_eq!(py_str(&s("plain")), "plain");
    assert_eq!(py_str(&Value::Null), "None");
    assert_eq!(py_str(&Value::Float(1e22)), "1e+22");
    assert_eq!(
        py_str(&Value::Float(123456789012345680.0)),
        "1.2345678901234568e+17"
    );
    assert_eq!(py_str(&Value::Float(f64::NEG_INFINITY)), "-inf");
    assert_eq!(
        py_repr(&s("\u{300}\u{378}\u{e000}")),
        "'\u{300}\\u0378\\ue000'"
    );
    assert_eq!(py_ascii(&s("zoë")), r"'zo\xeb'");
    // Deep values render without deep recursion.
    let mut deep = Value::Int(0);
    for _ in 0..10_000 {
        deep = Value::List(vec![deep]);
    }
    assert_eq!(py_repr(&deep).len(), 20_001);
}

fn within(t: &str, args: &Value) -> Result<String, Refused> {
    let input = t.len() + args.approx_size();
    percent_format_within(
        t,
        args,
        &mut Work::new(crate::limits::format_work_budget(input)),
    )
}

#[test]
fn work_bombs_are_refused_as_budget() {
    // A 1 KB-ish template repeating a zero-width conversion against a 4 MiB argument.
    let big = Value::Map(vec![("k".into(), s(&"x".repeat(4 << 20)))]);
    let bomb = "%(k).0s".repeat(5000);
    assert_eq!(within(&bomb, &big), Err(Refused::Budget));
    let one = Value::List(vec![Value::Float(1.0)]);
    assert_eq!(within("%.16777216g", &one), Err(Refused::Budget));
    assert_eq!(within("%.1101f", &one), Err(Refused::Budget));
    let int = Value::List(vec![Value::Int(1)]);
    assert_eq!(within("%999999999d", &int), Err(Refused::Budget));
    assert_eq!(within("%.999999999d", &int), Err(Refused::Budget));
    // What Python itself refuses stays a Python refusal.
    assert_eq!(within("%d %d", &int), Err(Refused::Python));
}

#[test]
fn honest_messages_fit_the_budget() {
    let text = "y".repeat(16 << 20);
    let args = Value::List(vec![s(&text)]);
    assert_eq!(within("%s", &args).map(|m| m.len()), Ok(16 << 20));
    let one = Value::List(vec![Value::Float(0.1)]);
    assert_eq!(
        within("%.1100f", &one).map(|m| m.len()),
        Ok(1102),
        "the precision ceiling itself still formats"
    );
    let big = Value::Map(vec![("k".into(), s(&"x".repeat(4 << 20)))]);
    assert_eq!(within("%(k).3s", &big).as_deref(), Ok("xxx"));
}

#[test]
fn big_maps_are_indexed_and_the_last_duplicate_wins() {
    let mut pairs: Vec<(String, Value)> = (0..100_000)
        .map(|i| (format!("k{i}"), Value::Int(i)))
        .collect();
    pairs.push(("k7".into(), s("last")));
    let args = Value::Map(pairs);
    let t = "%(k0)s %(k99999)s %(k7)s ".repeat(10_000);
    // Through the index built for a big map, the last duplicate still wins, as in a dict.
    // (What the index saves is measured by benches/hostile.py, not timed here.)
    let m = within(&t, &args).expect("formats");
    assert!(m.starts_with("0 99999 last 0 99999 last"), "{}", &m[..40]);
}
