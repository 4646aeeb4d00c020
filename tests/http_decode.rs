//! Integration tests for HTTP intake: real HTTPHandler/Logbook/Smarter captures through the pure decoders,
//! hostile inputs, agreement with CPython's `%`, and the listener end to end with CPython's own HTTPHandler.

mod common;

use logtui::decode::httpreq::{self, Head};
use logtui::decode::{DecodeError, form, json};
use logtui::intake::{Envelope, Intake, Outlet};
use logtui::limits::{DecodeLimits, Limits};
use logtui::python as pyrepr;
use logtui::record::{Record, SourceKind};
use logtui::source::budget::ByteBudget;
use logtui::source::http::serve;
use logtui::source::{Phase, ShutdownController};
use logtui::stats::Stats;
use logtui::value::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------
// Captured requests through parse_head + decode_form
// ---------------------------------------------------------------------------

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/http")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The requests in a capture; the Camelot file holds several, each after a `### request N` line.
fn requests(name: &str) -> Vec<Vec<u8>> {
    let raw = fixture(name);
    if !raw.starts_with(b"### ") {
        return vec![raw];
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in raw.split_inclusive(|&c| c == b'\n') {
        if line.starts_with(b"### request") {
            out.push(Vec::new());
        } else if let Some(cur) = out.last_mut() {
            cur.extend_from_slice(line);
        }
    }
    out
}

/// Parses one raw request as the listener does and decodes its query or body.
fn decode_request(raw: &[u8]) -> (Head, Record) {
    let (head, len) = httpreq::parse_head(raw, httpreq::DEFAULT_MAX_HEAD)
        .expect("well-formed head")
        .expect("complete head");
    let payload = if head.method == "GET" {
        head.query()
            .expect("GET carries a query")
            .as_bytes()
            .to_vec()
    } else {
        let n = head
            .content_length
            .expect("HTTPHandler sends Content-length") as usize;
        assert_eq!(raw.len() - len, n, "body is exactly Content-length bytes");
        raw[len..len + n].to_vec()
    };
    let rec =
        form::decode_form(&payload, &DecodeLimits::default(), "127.0.0.1:5000").expect("a record");
    (head, rec)
}

fn extra<'a>(r: &'a Record, key: &str) -> Option<&'a Value> {
    r.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn s(x: &str) -> Value {
    Value::Str(x.to_owned())
}

#[test]
fn httphandler_get_py311_and_py312() {
    for (file, created, thread, process) in [
        (
            "http_py311_get.raw",
            1795564953.8253715,
            140045996985216,
            5895,
        ),
        (
            "http_py312_get.raw",
            1795564953.7533555,
            139683459132288,
            5893,
        ),
    ] {
        let (head, r) = decode_request(&fixture(file));
        assert_eq!(
            (
                head.method.as_str(),
                head.version_1_0,
                head.connection_close
            ),
            ("GET", false, false)
        );
        assert_eq!(r.logger, "web.api", "{file}");
        // msg "disk %s at %d%% & rising" % ('/dev/sda1', 93), as Python formats it.
        assert_eq!(r.message, "disk /dev/sda1 at 93% & rising", "{file}");
        assert_eq!((r.level, r.levelname.as_str()), (30, "WARNING"));
        assert_eq!(r.created, created);
        assert_eq!(r.thread, Some(thread));
        assert_eq!(r.process, Some(process));
        assert_eq!(r.thread_name.as_deref(), Some("MainThread"));
        assert_eq!(r.process_name.as_deref(), Some("MainProcess"));
        assert_eq!(
            r.pathname.as_deref(),
            Some("/home/app/service/http_samples.py")
        );
        assert_eq!(r.filename.as_deref(), Some("http_samples.py"));
        assert_eq!(r.module.as_deref(), Some("http_samples"));
        assert_eq!((r.lineno, r.func.as_deref()), (Some(28), Some("<module>")));
        assert_eq!(
            (
                r.exc_text.as_deref(),
                r.stack_info.as_deref(),
                r.task_name.as_deref()
            ),
            (None, None, None)
        );
        assert_eq!(r.source, SourceKind::Http);
        // The URL's own query and the `extra=` keys survive; "None" is null, "True" stays text.
        assert_eq!(extra(&r, "src"), Some(&s("app")));
        assert_eq!(extra(&r, "user"), Some(&s("Zoë")));
        assert_eq!(extra(&r, "n"), Some(&Value::Null));
        assert_eq!(extra(&r, "flag"), Some(&s("True")));
        assert_eq!(extra(&r, "args"), None, "args were used, not kept");
    }
}

#[test]
fn httphandler_post_with_basic_auth() {
    for (file, created) in [
        ("http_py311_post_basic_auth.raw", 1795564953.8428285),
        ("http_py312_post_basic_auth.raw", 1795564953.7752573),
    ] {
        let (head, r) = decode_request(&fixture(file));
        assert_eq!(head.method, "POST");
        assert_eq!(
            head.media_type().as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert!(httpreq::basic_auth_ok(
            head.authorization.as_deref(),
            "user",
            "pä:ss"
        ));
        assert!(!httpreq::basic_auth_ok(
            head.authorization.as_deref(),
            "user",
            "pä"
        ));
        assert!(!httpreq::basic_auth_ok(
            head.authorization.as_deref(),
            "user",
            "pa:ss"
        ));
        // A single dict argument is the mapping: 'boom %r' % {'k': [1, 2]}.
        assert_eq!(r.message, "boom {'k': [1, 2]}", "{file}");
        assert_eq!((r.level, r.levelname.as_str()), (40, "ERROR"));
        assert_eq!(r.created, created);
        assert_eq!(r.lineno, Some(33));
        let stack = r.stack_info.as_deref().expect("stack_info sent");
        assert!(stack.starts_with(
            "Stack (most recent call last):\n  File \"/home/app/service/http_samples.py\", line 33"
        ));
        assert!(stack.ends_with("lg.exception(\"boom %r\", {\"k\": [1, 2]}, stack_info=True)"));
        // HTTPHandler sends no traceback text (exc_text=None) for an exception.
        assert_eq!(r.exc_text, None);
    }
}

#[test]
fn camelot_py27_http10_get_newest_first() {
    let reqs = requests("camelot_threadedhttp_py27_get.raw");
    assert_eq!(reqs.len(), 2);
    let decoded: Vec<(Head, Record)> = reqs.iter().map(|r| decode_request(r)).collect();
    for (head, r) in &decoded {
        assert!(
            head.version_1_0 && head.connection_close,
            "HTTP/1.0 without keep-alive closes"
        );
        assert_eq!(r.logger, "camelot.view");
        assert_eq!((r.level, r.levelname.as_str()), (20, "INFO"));
        // Python 2's str(float) keeps 12 significant digits.
        assert_eq!(r.created, 1795565164.45);
        assert_eq!(r.thread, Some(139939011701632));
        assert_eq!(r.exc_text, None);
        assert_eq!(r.filename.as_deref(), Some("camelot_py27_http.py"));
    }
    // LIFO drain: "second" arrives first. args=() is not formatted; ('a',) is.
    assert_eq!(decoded[0].1.message, "second");
    assert_eq!(decoded[1].1.message, "first a");
    assert!(decoded[0].1.extra.is_empty(), "{:?}", decoded[0].1.extra);
}

/// Independently of our formatter: CPython reads the same captures and formats `msg % args`.
#[test]
fn captured_messages_match_cpython() {
    const SCRIPT: &str = r#"
import ast, json, sys, urllib.parse
for path in sys.argv[1:]:
    raw = open(path, 'rb').read()
    for req in [r for r in raw.split(b'### request') if r.strip()]:
        head, _, body = req.partition(b'\r\n\r\n')
        line = head.split(b'\r\n')[0].split(b'\n')[-1].decode()
        target = line.split(' ')[1]
        q = target.partition('?')[2] if line.startswith('GET') else body.decode()
        d = dict(urllib.parse.parse_qsl(q, keep_blank_values=True))
        args = ast.literal_eval(d['args'])
        if isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], dict) and args[0]:
            args = args[0]
        msg = d['msg'] % args if args else d['msg']
        print(json.dumps(msg))
"#;
    let mut argv = vec!["-c".to_owned(), SCRIPT.to_owned()];
    let files = [
        "http_py311_get.raw",
        "http_py312_get.raw",
        "http_py311_post_basic_auth.raw",
        "http_py312_post_basic_auth.raw",
        "camelot_threadedhttp_py27_get.raw",
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/http");
    argv.extend(files.iter().map(|f| dir.join(f).display().to_string()));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let Some(out) = common::python_or_skip(python(&argv), "python3") else {
        return;
    };
    let expected: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON string"))
        .collect();
    let ours: Vec<String> = files
        .iter()
        .flat_map(|f| requests(f))
        .map(|r| decode_request(&r).1.message)
        .collect();
    assert_eq!(ours, expected);
}

// ---------------------------------------------------------------------------
// JSON senders: Logbook and Smarter captures
// ---------------------------------------------------------------------------

fn decode_json_ok(name: &str) -> Vec<Record> {
    json::decode_json(
        &fixture(name),
        &DecodeLimits::default(),
        SourceKind::Http,
        "127.0.0.1:5001",
    )
    .expect("the body is JSON")
    .into_iter()
    .map(|r| r.expect("each element is a record"))
    .collect()
}

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn logbook_to_dict_json_safe() {
    let r = &decode_json_ok("to_dict_json_safe_0.json")[0];
    assert_eq!(r.logger, "billing.worker");
    assert_eq!(r.message, "charged 1250 cents to Zoë");
    // Logbook level 11 is INFO.
    assert_eq!((r.level, r.levelname.as_str()), (20, "INFO"));
    assert!(close_to(r.created, 1795565123.68902), "{}", r.created);
    assert_eq!(r.filename.as_deref(), Some("logbook_samples.py"));
    assert_eq!(
        r.pathname.as_deref(),
        Some("/home/app/service/logbook_samples.py")
    );
    assert_eq!(
        (r.lineno, r.func.as_deref(), r.module.as_deref()),
        (Some(19), Some("<module>"), Some("__main__"))
    );
    assert_eq!(
        (r.process, r.thread_name.as_deref()),
        (Some(11591), Some("MainThread"))
    );
    assert_eq!(
        extra(r, "req"),
        Some(&Value::Int(7)),
        "Logbook's extra dict is flattened"
    );
    assert_eq!(
        extra(r, "kwargs"),
        Some(&Value::Map(vec![("user".into(), s("Zoë"))]))
    );

    let r = &decode_json_ok("to_dict_json_safe_1.json")[0];
    assert_eq!(r.message, "failed for acct-1");
    assert_eq!((r.level, r.levelname.as_str()), (40, "ERROR"));
    assert!(close_to(r.created, 1795565123.689155));
    let exc = r.exc_text.as_deref().expect("formatted_exception");
    assert!(
        exc.starts_with("Traceback (most recent call last):") && exc.ends_with("KeyError: 'k'")
    );
    assert_eq!(extra(r, "3"), Some(&s("int-key")));
    assert_eq!(
        extra(r, "tup"),
        Some(&Value::List(vec![Value::Int(1), Value::Int(2)]))
    );
    assert_eq!(
        extra(r, "nested"),
        Some(&Value::Map(vec![(
            "a".into(),
            Value::List(vec![
                Value::Int(1),
                Value::Float(2.5),
                Value::Null,
                Value::Bool(true)
            ])
        )]))
    );

    let r = &decode_json_ok("zeromq_frame.json")[0];
    assert_eq!(
        (r.message.as_str(), r.level, r.levelname.as_str()),
        ("zmq frame 1", 25, "NOTICE")
    );
    assert!(close_to(r.created, 1795565125.198503));
    assert_eq!(extra(r, "k"), Some(&s("v")));
}

#[test]
fn logbook_redis_ndjson_lines() {
    let recs = decode_json_ok("logbook_redis_rpush_values.ndjson");
    assert_eq!(recs.len(), 3);
    // RedisHandler sends the unformatted template; positional args are lost on the sender's side.
    assert_eq!(recs[0].message, "disk {pct}% full on {}");
    assert_eq!(recs[0].host.as_deref(), Some("vm"));
    assert_eq!((recs[0].level, recs[0].levelname.as_str()), (30, "WARNING"));
    assert!(close_to(recs[0].created, 1795565123.695571));
    assert_eq!(extra(&recs[0], "service"), Some(&s("billing")));
    assert_eq!(extra(&recs[0], "pct"), Some(&Value::Int(93)));
    assert_eq!(
        (recs[1].message.as_str(), recs[1].level),
        ("plain message", 20)
    );
    assert_eq!((recs[2].message.as_str(), recs[2].level), ("SHADOWED", 40));
    assert!(close_to(recs[2].created, 1795565123.695644));
}

#[test]
fn smarter_pretty_printed_objects_back_to_back() {
    let recs = decode_json_ok("smarter_pubsub_messages.json");
    assert_eq!(recs.len(), 3);
    let r = &recs[0];
    assert_eq!(
        r.message,
        "[2026-11-25 00:03:38] INFO \u{1b}[1;31msmarter.apps.prompt.views.PromptView()\u{1b}[0m rendered prompt 17 for Zoë"
    );
    assert_eq!(
        (r.level, r.logger.as_str()),
        (20, "smarter.apps.prompt.views")
    );
    assert_eq!(r.created, 1795565018.211189);
    assert_eq!(r.host.as_deref(), Some("smarter-web-7d9f-abcde"));
    assert!(
        recs[1]
            .message
            .ends_with("ZeroDivisionError: division by zero")
    );
    assert_eq!((recs[1].level, recs[1].created), (40, 1795565018.2114208));
    assert_eq!((recs[2].level, recs[2].created), (30, 1795565018.2125099));
}

// ---------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------

#[test]
fn hostile_oversized_head() {
    let mut raw = b"GET /log?msg=".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 70 * 1024));
    assert!(matches!(
        httpreq::parse_head(&raw, httpreq::DEFAULT_MAX_HEAD),
        Err(DecodeError::FrameTooLarge { .. })
    ));
    raw.extend_from_slice(b" HTTP/1.1\r\n\r\n");
    assert!(matches!(
        httpreq::parse_head(&raw, httpreq::DEFAULT_MAX_HEAD),
        Err(DecodeError::FrameTooLarge { .. })
    ));
}

#[test]
fn hostile_percent_escapes_and_bad_utf8() {
    let limits = DecodeLimits::default();
    let r =
        form::decode_form(b"name=%&msg=50%ZZ+off%4&levelname=%E9t%C3%A9", &limits, "p").unwrap();
    assert_eq!(r.logger, "%");
    assert_eq!(r.message, "50%ZZ off%4");
    // %E9 alone is not UTF-8: Latin-1 'é'; %C3%A9 is UTF-8 'é'.
    assert_eq!(r.levelname, "été");
    let r = form::decode_form(b"name=raw\xff\xfe&msg=caf\xe9", &limits, "p").unwrap();
    assert_eq!((r.logger.as_str(), r.message.as_str()), ("rawÿþ", "café"));
}

#[test]
fn hostile_args_that_are_not_literals() {
    let limits = DecodeLimits::default();
    for args in [
        "(<object object at 0x7f5efefb37c0>,)",
        "(datetime.datetime(2026, 11, 25, 0, 5),)",
        "(__import__('os').system('id'),)",
        "(('nested', 'tuple'),)",
        "(b'bytes',)",
        "('a', 'b')",
    ] {
        let body = format!("name=x&msg=v%3D%25s&args={}", urlencode(args));
        let r = form::decode_form(body.as_bytes(), &limits, "p").unwrap();
        assert_eq!(r.message, "v=%s", "{args}");
        assert_eq!(extra(&r, "args"), Some(&s(args)), "{args}");
    }
}

#[test]
fn hostile_deep_json_is_cheap() {
    let body = vec![b'['; 1_000_000];
    let t = std::time::Instant::now();
    let err =
        json::decode_json(&body, &DecodeLimits::default(), SourceKind::Http, "p").unwrap_err();
    assert_eq!(err, DecodeError::TooDeep(DecodeLimits::default().max_depth));
    // A guard against quadratic or exponential work (which would take hours), not a
    // benchmark: generous, so a debug build on a loaded machine never trips it.
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    let body = "{\"a\":".repeat(100_000);
    assert!(matches!(
        json::decode_json(
            body.as_bytes(),
            &DecodeLimits::default(),
            SourceKind::Http,
            "p"
        ),
        Err(DecodeError::TooDeep(_))
    ));
}

#[test]
fn json_nan_and_infinity_from_python() {
    let body = br#"{"name": "x", "msg": "v=%s %s", "args": [NaN, -Infinity], "ratio": NaN, "top": Infinity}"#;
    let recs = json::decode_json(body, &DecodeLimits::default(), SourceKind::Http, "p").unwrap();
    let r = recs[0].as_ref().unwrap();
    assert_eq!(r.message, "v=nan -inf");
    assert!(matches!(extra(r, "ratio"), Some(Value::Float(f)) if f.is_nan()));
    assert_eq!(extra(r, "top"), Some(&Value::Float(f64::INFINITY)));
}

#[test]
fn json_mixed_good_and_bad_lines() {
    let body = b"{\"message\": \"one\", \"level\": \"INFO\"}\n\
                 {\"message\": \"two\", \"level\": }\n\
                 [1, 2]\n\
                 not json at all\n\
                 {\"no\": \"record keys\"}\n\
                 {\"message\": \"three\", \"level\": \"ERROR\"}\n";
    let recs = json::decode_json(body, &DecodeLimits::default(), SourceKind::Http, "p").unwrap();
    let summary: Vec<Result<&str, ()>> = recs
        .iter()
        .map(|r| r.as_ref().map(|r| r.message.as_str()).map_err(|_| ()))
        .collect();
    // One error per bad line or element: the broken object, 1, 2, "not json", the keyless object.
    assert_eq!(
        summary,
        vec![
            Ok("one"),
            Err(()),
            Err(()),
            Err(()),
            Err(()),
            Err(()),
            Ok("three")
        ]
    );
    assert!(
        json::decode_json(b"not json", &DecodeLimits::default(), SourceKind::Http, "p").is_err()
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Agreement with CPython's `%`
// ---------------------------------------------------------------------------

/// Generates random `%` cases with CPython and checks that `parse_literal` +
/// `percent_format` give the same text (or refuse exactly where Python raises).
const PY_PERCENT_CASES: &str = r#"
import json, random, sys
rnd = random.Random(int(sys.argv[1]))
pool = [0, 1, -1, 7, 42, -255, 255, 2**31, -2**63, 2**63, 2**70, -2**100, 10**30, True, False, None,
        0.0, -0.0, 0.1, 0.5, 1.5, 2.5, 0.125, 1e16, 1e15, 1e-5, 1e-4, 123456.789, -3.7, 1e300, 5e-324, 1e22,
        9.9999995e-05, 999999.5, 0.30000000000000004, 1/3, 2/3, 100.0, 12345678901234567890.0,
        "", "a", "abc", "it's", 'say "hi"', "both ' and \"", "tab\there", "nl\nx", "zoë", "€", "😀",
        "\x00\x7f\x80\xa0\xad", "\u2028\u0378\ue000", "\\back", "%s", "A",
        [], [1, 2], ["x", None, True], {"k": [1, 2]}, {"a": {"b": None}}, {}, [[1], {"z": 1.5}]]
pool += [rnd.uniform(-1e6, 1e6) for _ in range(20)] + [rnd.random() * 10 ** rnd.randint(-30, 30) for _ in range(20)]
pool += [rnd.randint(-10**20, 10**20) for _ in range(10)]
convs = "sssrraddiuxXoeEfFgGc"
def spec(named=None):
    s = "%"
    if named is not None:
        s += "(" + named + ")"
    s += "".join(rnd.sample("-+ #0", rnd.randint(0, 2)))
    star = 0
    r = rnd.random()
    if r < 0.3:
        s += str(rnd.randint(0, 14))
    elif r < 0.35 and named is None:
        s += "*"; star += 1
    r = rnd.random()
    if r < 0.3:
        s += "." + str(rnd.randint(0, 20))
    elif r < 0.33 and named is None:
        s += ".*"; star += 1
    if rnd.random() < 0.05:
        s += "l"
    if rnd.random() < 0.01:
        s += rnd.choice("zq%")
    else:
        s += rnd.choice(convs)
    return s, star
for _ in range(int(sys.argv[2])):
    kind = rnd.random()
    if kind < 0.7:
        n = rnd.randint(0, 4)
        parts, args = [], []
        for _ in range(n):
            s, star = spec()
            parts.append(s)
            for _ in range(star):
                args.append(rnd.randint(-12, 12))
            args.append(rnd.choice(pool))
        if rnd.random() < 0.1:
            args.append(rnd.choice(pool))
        if rnd.random() < 0.1 and args:
            args.pop()
        t = rnd.choice(["", "x ", "%% "]).join([""] + parts) + rnd.choice(["", " end", " 100%%"])
        args = tuple(args)
    elif kind < 0.85:
        keys = ["a", "b", "a(b)"]
        args = {k: rnd.choice(pool) for k in rnd.sample(keys, rnd.randint(0, 3))}
        t = " ".join(spec(rnd.choice(keys))[0] for _ in range(rnd.randint(0, 3))) + rnd.choice(["", " %%"])
    else:
        # A bare list as the one argument has no Value form (Value::List is the args tuple).
        args = rnd.choice([v for v in pool if not isinstance(v, list)])
        t = rnd.choice(["", "v="]) + spec()[0]
    try:
        r = t % args
    except Exception:
        r = None
    print(json.dumps({"t": t, "a": repr(args), "r": r, "v": repr(rnd.choice(pool))}))
"#;

#[test]
fn percent_format_agrees_with_cpython() {
    let Some(out) =
        common::python_or_skip(python(&["-c", PY_PERCENT_CASES, "7", "20000"]), "python3")
    else {
        return;
    };
    let limits = DecodeLimits::default();
    let (mut checked, mut failures) = (0, Vec::new());
    for line in out.lines() {
        let case: serde_json::Value = serde_json::from_str(line).expect("generator writes JSON");
        let t = case["t"].as_str().unwrap_or_default();
        let a = case["a"].as_str().unwrap_or_default();
        let want = case["r"].as_str();
        let v = case["v"].as_str().unwrap_or_default();
        match pyrepr::parse_literal(v, &limits) {
            Some(parsed) if pyrepr::py_repr(&parsed) != v => {
                failures.push(format!("repr {v:?} -> {:?}", pyrepr::py_repr(&parsed)))
            }
            Some(_) => {}
            None => failures.push(format!("parse_literal refused {v:?}")),
        }
        let Some(args) = pyrepr::parse_literal(a, &limits) else {
            // Only tuples nested inside the args tuple are refused by design.
            assert!(a.starts_with("(("), "parse_literal refused {a:?}");
            continue;
        };
        checked += 1;
        let got = pyrepr::percent_format(t, &args);
        if got.as_deref() != want {
            failures.push(format!("{t:?} % {a} -> python {want:?}, ours {got:?}"));
        }
    }
    assert!(checked > 15_000, "only {checked} cases checked");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}

// ---------------------------------------------------------------------------
// The listener end to end
// ---------------------------------------------------------------------------

/// A running `serve` on 127.0.0.1 with a small queue.
struct Server {
    addr: std::net::SocketAddr,
    outlet: Outlet,
    stats: Arc<Stats>,
    ctrl: ShutdownController,
    task: tokio::task::JoinHandle<()>,
    budget: ByteBudget,
}

async fn start(auth: Option<(&str, &str)>, limits: Limits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stats = Arc::new(Stats::default());
    let (intake, outlet) = Intake::new(8, stats.clone());
    let ctrl = ShutdownController::new();
    let auth = auth.map(|(u, p)| (u.to_owned(), p.to_owned()));
    let budget = ByteBudget::new(limits.max_buffered);
    let task = tokio::spawn(serve(
        listener,
        auth,
        limits.decode(),
        budget.clone(),
        intake,
        ctrl.handle(),
    ));
    Server {
        addr,
        outlet,
        stats,
        ctrl,
        task,
        budget,
    }
}

impl Server {
    /// Waits for `n` records from the queue.
    async fn records(&mut self, n: usize) -> Vec<Record> {
        let mut out = Vec::new();
        while out.len() < n {
            match tokio::time::timeout(Duration::from_secs(10), self.outlet.recv()).await {
                Ok(Some(Envelope::Records(batch))) => out.extend(batch.records),
                Ok(Some(Envelope::Flush(_))) => {}
                Ok(None) => panic!("queue closed"),
                Err(_) => panic!("timed out with {} of {n} records", out.len()),
            }
        }
        out
    }

    async fn assert_no_more_records(&mut self) {
        let more = tokio::time::timeout(Duration::from_millis(200), self.outlet.recv()).await;
        assert!(more.is_err(), "unexpected extra batch");
    }

    /// Drains, stops, and checks every task let go.
    async fn stop(mut self) {
        self.ctrl.set(Phase::Draining);
        self.ctrl.set(Phase::Stop);
        tokio::time::timeout(Duration::from_secs(5), self.ctrl.wait())
            .await
            .expect("listener and connections end on Stop");
        self.task.await.expect("serve returned");
    }
}

/// Sends a CPython logging run at the server and returns what the sender logged, per record.
const PY_SENDER: &str = r#"
import datetime, json, logging, logging.handlers, sys
port, method = int(sys.argv[1]), sys.argv[2]
creds = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else None
seen = []
class Capture(logging.Handler):
    def emit(self, record):
        seen.append({"name": record.name, "levelno": record.levelno, "created": record.created,
                     "msg": record.msg, "message": record.getMessage() if record.args else record.msg})
lg = logging.getLogger("e2e.http")
lg.setLevel(logging.DEBUG)
lg.propagate = False
lg.addHandler(Capture())
lg.addHandler(logging.handlers.HTTPHandler("127.0.0.1:%d" % port, "/log?src=e2e", method=method, credentials=creds))
lg.warning("disk %s at %d%% & rising", "/dev/sda1", 93)
lg.error("boom %r", {"k": [1, 2]})
lg.info("100%%")
lg.debug("%-6s|%+.3e|%x|%c", "zoë", 12345.678, 255, 0x20ac)
lg.critical("when %s", datetime.datetime(2026, 1, 2))
print(json.dumps(seen))
"#;

async fn run_python(exe: &str, args: Vec<String>) -> Option<(serde_json::Value, String)> {
    let exe = exe.to_owned();
    tokio::task::spawn_blocking(move || {
        let out = match std::process::Command::new(&exe).args(&args).output() {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("cannot run {exe}: {e}"),
        };
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{exe} failed: {stderr}");
        let stdout = String::from_utf8(out.stdout).expect("UTF-8");
        Some((
            serde_json::from_str(stdout.trim()).expect("sender prints JSON"),
            stderr,
        ))
    })
    .await
    .expect("sender task")
}

fn check_against_sender(recs: &[Record], sent: &serde_json::Value) {
    let sent = sent.as_array().expect("a list");
    assert_eq!(recs.len(), sent.len());
    for (r, want) in recs.iter().zip(sent) {
        assert_eq!(r.logger, want["name"].as_str().unwrap());
        assert_eq!(i64::from(r.level), want["levelno"].as_i64().unwrap());
        assert_eq!(
            r.created,
            want["created"].as_f64().unwrap(),
            "created survives str() exactly"
        );
        let template = want["msg"].as_str().unwrap();
        let message = want["message"].as_str().unwrap();
        if template.starts_with("when") {
            // datetime args are no literal: the template stays and the args text is kept.
            assert_eq!(r.message, template);
            assert_eq!(
                extra(r, "args"),
                Some(&s("(datetime.datetime(2026, 1, 2, 0, 0),)"))
            );
        } else {
            assert_eq!(r.message, message);
        }
        assert_eq!(extra(r, "src"), Some(&s("e2e")));
        assert_eq!(r.source, SourceKind::Http);
        assert!(r.origin.starts_with("127.0.0.1:"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpython_httphandler_get_and_post_with_credentials() {
    let mut srv = start(Some(("user", "pä:ss")), Limits::default()).await;
    let port = srv.addr.port().to_string();
    for method in ["GET", "POST"] {
        let args = vec![
            "-c".into(),
            PY_SENDER.into(),
            port.clone(),
            method.into(),
            "user".into(),
            "pä:ss".into(),
        ];
        let Some((sent, stderr)) =
            common::python_or_skip(run_python("python3", args).await, "python3")
        else {
            return;
        };
        assert!(stderr.is_empty(), "the sender reported errors: {stderr}");
        let recs = srv.records(5).await;
        check_against_sender(&recs, &sent);
    }
    // Wrong credentials: nothing is stored, each request is counted, and the
    // sender sees a clean 401 (HTTPHandler ignores it) rather than a reset and a traceback.
    let args = vec![
        "-c".into(),
        PY_SENDER.into(),
        port.clone(),
        "POST".into(),
        "user".into(),
        "wrong".into(),
    ];
    let (_, stderr) = run_python("python3", args)
        .await
        .expect("python3 ran before");
    assert!(stderr.is_empty(), "the sender reported errors: {stderr}");
    srv.assert_no_more_records().await;
    let c = srv.stats.snapshot(SourceKind::Http);
    assert_eq!((c.received, c.rejected, c.dropped), (15, 5, 0));
    srv.stop().await;
}

/// Python 2.7's HTTPHandler (HTTP/1.0, as Camelot's ThreadedHttpHandler used it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python27_httphandler_http10_get() {
    const PY27: &str = r#"
import json, logging, logging.handlers, sys
seen = []
class Capture(logging.Handler):
    def emit(self, record):
        seen.append({"name": record.name, "levelno": record.levelno, "created": float(str(record.created)),
                     "message": record.getMessage()})
lg = logging.getLogger("camelot.view")
lg.setLevel(logging.DEBUG)
lg.addHandler(Capture())
lg.addHandler(logging.handlers.HTTPHandler("127.0.0.1:%s" % sys.argv[1], "/my_logs/", "GET"))
lg.info("first %s", "a")
lg.info("second")
lg.warning("%d%% of %s", 50, u"disk")
print(json.dumps(seen))
"#;
    let exe = dirs::home_dir()
        .map(|h| h.join(".pyenv/versions/2.7.18/bin/python"))
        .filter(|p| p.exists());
    let Some(exe) = common::python_or_skip(exe, "Python 2.7 (~/.pyenv/versions/2.7.18)") else {
        return;
    };
    let mut srv = start(None, Limits::default()).await;
    let args = vec!["-c".into(), PY27.into(), srv.addr.port().to_string()];
    let (sent, stderr) = run_python(&exe.display().to_string(), args)
        .await
        .expect("python 2.7 ran");
    assert!(stderr.is_empty(), "{stderr}");
    let recs = srv.records(3).await;
    let sent = sent.as_array().unwrap();
    for (r, want) in recs.iter().zip(sent) {
        assert_eq!(r.message, want["message"].as_str().unwrap());
        assert_eq!(i64::from(r.level), want["levelno"].as_i64().unwrap());
        // str(float) in Python 2 keeps 12 significant digits: that is what arrives.
        assert_eq!(r.created, want["created"].as_f64().unwrap());
        assert_eq!(r.logger, "camelot.view");
    }
    srv.stop().await;
}

/// Writes `req` and reads one complete response: status line, headers (lower-cased names), body.
async fn exchange(stream: &mut TcpStream, req: &[u8]) -> (u16, Vec<(String, String)>, String) {
    stream.write_all(req).await.expect("write");
    read_response(stream).await
}

async fn read_response(stream: &mut TcpStream) -> (u16, Vec<(String, String)>, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("response in time")
            .expect("read");
        assert!(
            n == 1,
            "EOF inside a response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let text = String::from_utf8(buf).expect("ASCII head");
    let mut lines = text.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.expect("body");
    (status, headers, String::from_utf8(body).unwrap())
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn assert_closed(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("server closes");
    assert!(
        matches!(n, Ok(0)) || n.is_err(),
        "unexpected bytes after the reply: {rest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_clients_keepalive_chunked_and_refusals() {
    let limits = Limits {
        max_frame: 4096,
        ..Limits::default()
    };
    let mut srv = start(None, limits).await;

    // Keep-alive: pipelined JSON, NDJSON with one bad line, a probe, then Connection: close.
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    let one = r#"{"message": "m1", "level": "INFO", "logger": "a"}"#;
    let nd = "{\"message\": \"m2\"}\n{\"message\": oops}\n{\"message\": \"m3\"}\n";
    let req = format!(
        "POST /a HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{one}\
         POST /b HTTP/1.1\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n{nd}",
        one.len(),
        nd.len()
    );
    let (st, h, _) = exchange(&mut c, req.as_bytes()).await;
    assert_eq!((st, header(&h, "connection")), (200, None));
    let (st, _, _) = read_response(&mut c).await;
    assert_eq!(st, 200, "one good line is enough for 200");
    let (st, _, body) = exchange(&mut c, b"GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(
        (st, body.as_str()),
        (200, ""),
        "a GET without a query is a probe"
    );
    let (st, h, _) = exchange(&mut c, b"GET /x?name=a&msg=hi+%25s&args=%28%27there%27%2C%29 HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!((st, header(&h, "connection")), (200, Some("close")));
    assert_closed(&mut c).await;
    let recs = srv.records(4).await;
    let msgs: Vec<&str> = recs.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(msgs, ["m1", "m2", "m3", "hi there"]);

    // Chunked body with Expect: 100-continue, as curl sends large uploads.
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    c.write_all(b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
        .await
        .unwrap();
    let (st, _, _) = read_response(&mut c).await;
    assert_eq!(st, 100);
    let (st, _, _) = exchange(&mut c, b"7\r\nname=c&\r\n8\r\nmsg=chnk\r\n0\r\n\r\n").await;
    assert_eq!(st, 200);
    assert_eq!(srv.records(1).await[0].message, "chnk");

    // Refusals, each on its own connection.
    let too_big = b"POST /d HTTP/1.1\r\nContent-Length: 4097\r\n\r\n".to_vec();
    let bad_body = b"POST /e HTTP/1.1\r\nContent-Length: 7\r\n\r\na=1&b=2".to_vec();
    let refusals: Vec<(&[u8], u16, bool)> = vec![
        (&too_big, 413, true),
        (b"PUT /f HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, true),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, true),
        (b"POST /g HTTP/1.1\r\n\r\n", 411, true),
        (b"POST /h HTTP/1.1\r\nContent-Type: multipart/form-data\r\nContent-Length: 3\r\n\r\n--x", 415, false),
        (&bad_body, 400, false),
        (b"GET /i?a=1 HTTP/1.0\r\n\r\n", 400, true),
    ];
    for (req, want, closes) in refusals {
        let mut c = TcpStream::connect(srv.addr).await.unwrap();
        let (st, h, body) = exchange(&mut c, req).await;
        assert_eq!(st, want, "{}", String::from_utf8_lossy(req));
        assert!(body.starts_with(&want.to_string()));
        if closes {
            assert_eq!(header(&h, "connection"), Some("close"));
            assert_closed(&mut c).await;
        }
    }
    srv.assert_no_more_records().await;
    let c = srv.stats.snapshot(SourceKind::Http);
    // Records: m1 m2 m3 "hi there" chnk; rejected: the bad NDJSON line and 7 refusals.
    assert_eq!((c.received, c.rejected), (5 + 8, 8));

    // Credentials required: 401 with the challenge.
    let mut auth_srv = start(Some(("u", "p")), Limits::default()).await;
    let mut c = TcpStream::connect(auth_srv.addr).await.unwrap();
    let (st, h, _) = exchange(&mut c, b"GET /?name=a&msg=b HTTP/1.1\r\n\r\n").await;
    assert_eq!(
        (st, header(&h, "www-authenticate")),
        (401, Some("Basic realm=\"logtui\""))
    );
    let mut c = TcpStream::connect(auth_srv.addr).await.unwrap();
    let (st, _, _) = exchange(
        &mut c,
        b"GET /?name=a&msg=b HTTP/1.1\r\nAuthorization: Basic dTpw\r\n\r\n",
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(auth_srv.records(1).await[0].message, "b");
    auth_srv.stop().await;

    // An idle keep-alive connection does not hold up shutdown.
    // One answered request proves the listener holds the connection, which then sits idle.
    let mut idle = TcpStream::connect(srv.addr).await.unwrap();
    assert_eq!(
        exchange(&mut idle, b"GET /?name=i&msg=j HTTP/1.1\r\n\r\n")
            .await
            .0,
        200
    );
    srv.stop().await;
}

/// Runs CPython 3 with `args` and returns its stdout, or `None` when it is not installed.
fn python(args: &[&str]) -> Option<String> {
    let out = match std::process::Command::new("python3").args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot run python3: {e}"),
    };
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).expect("python3 writes UTF-8"))
}

/// Bodies over a read chunk share the listeners' byte budget: while a stalled upload holds
/// it, another big body waits (no reply yet), then goes through once room comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_bodies_wait_for_the_shared_byte_budget() {
    let limits = Limits {
        max_buffered: 256 * 1024,
        ..Limits::default()
    };
    let mut srv = start(None, limits).await;
    let body = |m: &str| format!("name=big&levelno=20&msg={m}{}", "x".repeat(200_000));
    let post = |b: &str| {
        format!(
            "POST /log HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
        .into_bytes()
    };
    let first = post(&body("first"));
    let mut a = TcpStream::connect(srv.addr).await.unwrap();
    let half = first.len() / 2;
    a.write_all(&first[..half]).await.unwrap();
    common::poll_until_async(
        Duration::from_secs(10),
        "the stalled upload to hold the budget",
        || srv.budget.available() < 256 * 1024,
    )
    .await;
    let mut b = TcpStream::connect(srv.addr).await.unwrap();
    b.write_all(&post(&body("second"))).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(500), read_response(&mut b)).await;
    assert!(
        early.is_err(),
        "the second body did not wait for the budget"
    );
    a.write_all(&first[half..]).await.unwrap();
    assert_eq!(read_response(&mut a).await.0, 200);
    assert_eq!(read_response(&mut b).await.0, 200);
    let recs = srv.records(2).await;
    assert!(recs[0].message.starts_with("first"));
    assert!(recs[1].message.starts_with("second"));
    srv.stop().await;
}

/// `urllib.parse.quote_plus` for the few characters these tests send.
fn quote_plus(s: &str) -> String {
    s.replace('%', "%25")
        .replace('&', "%26")
        .replace('+', "%2B")
        .replace('=', "%3D")
        .replace(' ', "+")
}

/// A form whose template repeats a zero-width conversion against a multi-megabyte argument
/// (and ones asking for absurd widths or precisions) keeps its template and args text and is
/// marked `format_refused`, promptly; an honest form beside it formats as before.
#[test]
fn form_work_bombs_keep_the_template_and_are_marked() {
    let limits = DecodeLimits::default();
    let mark = |r: &logtui::record::Record| {
        r.extra
            .iter()
            .find(|(k, _)| k == "format_refused")
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    };
    let big = "x".repeat(3 << 20);
    let bomb = "%(k).0s".repeat(20_000);
    let body = format!(
        "name=bomb&msg={}&args={}",
        quote_plus(&bomb),
        quote_plus(&format!("{{'k': '{big}'}}"))
    );
    let started = std::time::Instant::now();
    let r = form::decode_form(body.as_bytes(), &limits, "p").expect("a record");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(r.message, bomb);
    assert_eq!(mark(&r).as_deref(), Some("work budget"));
    for (msg, args) in [("%.16777216g", "(1.0,)"), ("%999999999d", "(1,)")] {
        let body = format!("name=x&msg={}&args={args}", quote_plus(msg));
        let r = form::decode_form(body.as_bytes(), &limits, "p").expect("a record");
        assert_eq!(
            (r.message.as_str(), mark(&r).as_deref()),
            (msg, Some("work budget"))
        );
    }
    let r = form::decode_form(b"name=x&msg=%25d+%25s&args=(1,+'a')", &limits, "p").unwrap();
    assert_eq!((r.message.as_str(), mark(&r)), ("1 a", None));
    // What Python itself refuses is kept, but not marked: it is the sender's bug, not ours.
    let r = form::decode_form(b"name=x&msg=%25d+%25d&args=(1,)", &limits, "p").unwrap();
    assert_eq!((r.message.as_str(), mark(&r)), ("%d %d", None));
}

/// Every JSON value counts against `max_items`, top-level ones included, and
/// `decode_json_each` hands records over one by one, keeping only the first failure.
#[test]
fn json_bodies_count_every_value_and_stream_their_records() {
    let limits = DecodeLimits {
        max_items: 1000,
        ..DecodeLimits::default()
    };
    let each = |body: &str| {
        let mut seen = 0usize;
        let s = json::decode_json_each(body.as_bytes(), &limits, SourceKind::Http, "p", |_| {
            seen += 1
        });
        (seen, s)
    };
    // 5000 bare numbers: 1000 are read (and are not records), then the limit ends the body.
    let (seen, s) = each(&"1 ".repeat(5000));
    let s = s.expect("JSON");
    assert_eq!((seen, s.records, s.rejected), (0, 0, 1001));
    assert!(
        matches!(s.first_error, Some(DecodeError::NotARecord(_))),
        "{s:?}"
    );
    // An array is one value plus its elements.
    let (_, s) = each(&format!("[{}1]", "1,".repeat(1000)));
    assert_eq!(s, Err(DecodeError::TooLarge("item")));
    // 400 tiny objects on their own lines: 800 items, all records, each handed over.
    let (seen, s) = each(&"{\"msg\": \"a\"}\n".repeat(400));
    let s = s.expect("JSON");
    assert_eq!(
        (seen, s.records, s.rejected, s.first_error),
        (400, 400, 0, None)
    );
    // The collecting wrapper sees the same.
    let all = json::decode_json(
        b"{\"msg\": 1} 2 {\"msg\": 3}",
        &limits,
        SourceKind::Http,
        "p",
    )
    .expect("JSON");
    assert_eq!(all.iter().filter(|r| r.is_ok()).count(), 2);
}
