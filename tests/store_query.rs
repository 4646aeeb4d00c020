//! Queries: every filter, word search, regex, order, limit, count, read-only SQL, and
//! the round trip of every record field.

#[path = "store_util.rs"]
mod util;

use logtui::record::{DEBUG, ERROR, INFO, Record, SourceKind, WARNING};
use logtui::store::{self, Filter, StoreError};
use logtui::value::Value;
use util::{Harness, config, rec};

fn full_record() -> Record {
    let mut r = Record::new(SourceKind::Http, "10.1.2.3:5555");
    r.created = 1_700_000_000.123_456;
    r.set_level(35);
    r.levelname = "AUDIT".into();
    r.logger = "app.ünïcødé.日本".into();
    r.message = "héllo \"wörld\" 😀\nline2\t\u{1b}[31mred\u{0}nul".into();
    r.job = Some("nightly".into());
    r.host = Some("web-1".into());
    r.process = Some(-42);
    r.process_name = Some("MainProcess".into());
    r.thread = Some(i64::MAX);
    r.thread_name = Some("Thread-1".into());
    r.task_name = Some("Task-7".into());
    r.pathname = Some("/srv/app/ü.py".into());
    r.filename = Some("ü.py".into());
    r.module = Some("ü".into());
    r.lineno = Some(0);
    r.func = Some("<module>".into());
    r.exc_text = Some("Traceback (most recent call last):\n  ValueError: bad".into());
    r.stack_info = Some("Stack (most recent call last):\n  File x".into());
    r.extra = vec![
        ("nan".into(), Value::Float(f64::NAN)),
        ("inf".into(), Value::Float(f64::INFINITY)),
        ("ninf".into(), Value::Float(f64::NEG_INFINITY)),
        ("float".into(), Value::Float(0.1)),
        ("whole".into(), Value::Float(3.0)),
        (
            "big".into(),
            Value::BigInt("123456789012345678901234567890".into()),
        ),
        ("neg".into(), Value::BigInt("-98765432109876543210".into())),
        ("int".into(), Value::Int(i64::MIN)),
        ("null".into(), Value::Null),
        ("yes".into(), Value::Bool(true)),
        ("str".into(), Value::Str("ß \"q\" \\ \u{7}".into())),
        (
            "nested".into(),
            Value::Map(vec![
                (
                    "list".into(),
                    Value::List(vec![Value::Int(1), Value::List(vec![]), Value::Map(vec![])]),
                ),
                (
                    "k".into(),
                    Value::Map(vec![("deeper".into(), Value::Float(-0.5))]),
                ),
            ]),
        ),
        ("dup".into(), Value::Int(1)),
        ("dup".into(), Value::Int(2)),
    ];
    r
}

/// Compares records field by field; NaN extras compare by their JSON.
fn assert_same(a: &Record, b: &Record) {
    let mut ja = String::new();
    let mut jb = String::new();
    logtui::value::write_json_map(&a.extra, &mut ja);
    logtui::value::write_json_map(&b.extra, &mut jb);
    assert_eq!(ja, jb);
    let strip = |r: &Record| Record {
        extra: Vec::new(),
        ..r.clone()
    };
    assert_eq!(strip(a), strip(b));
}

#[test]
fn every_field_round_trips() {
    let mut h = Harness::start(config());
    let original = full_record();
    let mut bare = Record::new(SourceKind::Udp, "[::1]:9");
    bare.created = 5.0;
    h.send(vec![original.clone(), bare.clone()]);
    h.close().unwrap();
    let got = h.all(&Filter::default());
    assert_eq!(got.len(), 2);
    // Arrival order, although `bare` claims an earlier time.
    assert_same(&got[0].1, &original);
    assert_same(&got[1].1, &bare);
    // The ids are those the feed published.
    let seen = h.seen();
    let mut ids: Vec<i64> = seen.stored.iter().map(|(id, _)| *id).collect();
    ids.sort();
    let mut got_ids: Vec<i64> = got.iter().map(|(id, _)| *id).collect();
    got_ids.sort();
    assert_eq!(ids, got_ids);
    // SQLite's JSON5 reader accepts the stored extras.
    let c = store::open_read_only(&h.path).unwrap();
    let big: String = c
        .query_row(
            "SELECT json_extract(extra, '$.nested.k.deeper') || '/' || json_extract(extra, '$.str') FROM records WHERE job = 'nightly'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(big, "-0.5/ß \"q\" \\ \u{7}");
}

/// A store with a spread of records for the filter tests; returns the harness (closed).
fn corpus() -> Harness {
    let mut h = Harness::start(config());
    let mut batch = Vec::new();
    let mut push = |logger: &str, level: i32, msg: &str, t: f64, f: &dyn Fn(&mut Record)| {
        let mut r = rec(logger, level, msg);
        r.created = t;
        f(&mut r);
        batch.push(r);
    };
    let none = |_: &mut Record| {};
    push(
        "app.auth",
        INFO,
        "user alice logged in from 10.0.0.7 (attempt 3)",
        100.0,
        &none,
    );
    push(
        "app.auth",
        WARNING,
        "user bob failed login from 10.0.0.8",
        101.0,
        &none,
    );
    push(
        "app.db",
        ERROR,
        "query failed: relation \"orders\" does not exist",
        102.0,
        &|r| {
            r.exc_text = Some(
                "Traceback (most recent call last):\npsycopg2.errors.UndefinedTable: orders".into(),
            )
        },
    );
    push("app.dbx", DEBUG, "connection pool size=5", 103.0, &|r| {
        r.job = Some("etl".into())
    });
    push(
        "django.request",
        ERROR,
        "Internal Server Error: /api/orders/17",
        104.0,
        &|r| {
            r.source = SourceKind::Http;
            r.origin = "192.168.1.20:8000".into();
            r.job = Some("web".into());
        },
    );
    push("celery", INFO, "task done in 12ms; ok=true", 105.0, &|r| {
        r.source = SourceKind::Redis;
        r.origin = "logs:celery".into();
        r.job = Some("etl".into());
    });
    push(
        "app.auth",
        INFO,
        "it's a user's \"quoted\" message (with parens) and AND/OR NOT",
        106.0,
        &none,
    );
    h.send(batch);
    h.close().unwrap();
    h
}

fn messages(h: &Harness, f: Filter) -> Vec<String> {
    h.all(&f).into_iter().map(|(_, r)| r.message).collect()
}

fn loggers(h: &Harness, f: Filter) -> Vec<String> {
    h.all(&f).into_iter().map(|(_, r)| r.logger).collect()
}

#[test]
fn filters_by_level_logger_source_origin_job() {
    let h = corpus();
    assert_eq!(
        loggers(
            &h,
            Filter {
                min_level: Some(ERROR),
                ..Default::default()
            }
        ),
        ["app.db", "django.request"]
    );
    assert_eq!(
        loggers(
            &h,
            Filter {
                logger: Some("app.*".into()),
                ..Default::default()
            }
        ),
        ["app.auth", "app.auth", "app.db", "app.dbx", "app.auth"]
    );
    // GLOB, not prefix: `app.db` does not match `app.dbx`; GLOB is case-sensitive.
    assert_eq!(
        loggers(
            &h,
            Filter {
                logger: Some("app.db".into()),
                ..Default::default()
            }
        ),
        ["app.db"]
    );
    assert!(
        loggers(
            &h,
            Filter {
                logger: Some("APP.*".into()),
                ..Default::default()
            }
        )
        .is_empty()
    );
    assert_eq!(
        loggers(
            &h,
            Filter {
                source: Some(SourceKind::Http),
                ..Default::default()
            }
        ),
        ["django.request"]
    );
    assert_eq!(
        loggers(
            &h,
            Filter {
                origin: Some("192.168.*".into()),
                ..Default::default()
            }
        ),
        ["django.request"]
    );
    assert_eq!(
        loggers(
            &h,
            Filter {
                job: Some("etl".into()),
                ..Default::default()
            }
        ),
        ["app.dbx", "celery"]
    );
    assert_eq!(
        loggers(
            &h,
            Filter {
                job: Some("etl".into()),
                min_level: Some(INFO),
                logger: Some("c*".into()),
                ..Default::default()
            }
        ),
        ["celery"]
    );
    // Values are bound, never spliced: quotes are just characters.
    assert!(
        loggers(
            &h,
            Filter {
                logger: Some("x' OR '1'='1".into()),
                ..Default::default()
            }
        )
        .is_empty()
    );
    assert!(
        loggers(
            &h,
            Filter {
                job: Some("etl' --".into()),
                ..Default::default()
            }
        )
        .is_empty()
    );
}

#[test]
fn full_text_search_is_safe_with_punctuation() {
    let h = corpus();
    let search = |s: &str| {
        messages(
            &h,
            Filter {
                search: Some(s.into()),
                ..Default::default()
            },
        )
    };
    assert_eq!(
        search("alice"),
        ["user alice logged in from 10.0.0.7 (attempt 3)"]
    );
    // Terms are ANDed; case-insensitive.
    assert_eq!(search("USER login").len(), 1);
    assert_eq!(search("user").len(), 3);
    // Punctuation is never query syntax: each term is a phrase of its words.
    assert_eq!(search("10.0.0.7").len(), 1);
    assert_eq!(search("(attempt").len(), 1);
    assert_eq!(search("\"orders\"").len(), 2);
    assert_eq!(search("user's").len(), 1);
    assert_eq!(search("AND/OR NOT").len(), 1);
    assert_eq!(search("ok=true; 12ms").len(), 1);
    assert!(search("NEAR(a b)").is_empty());
    assert!(search("col:umn ^start * - + {x}").is_empty());
    // The traceback is searched too.
    assert_eq!(
        search("UndefinedTable"),
        ["query failed: relation \"orders\" does not exist"]
    );
    // A trailing star is a prefix.
    assert_eq!(search("logg*").len(), 1);
    assert_eq!(search("log").len(), 0);
    // A term with no word characters is matched as a substring.
    assert_eq!(search("=").len(), 2);
    assert!(search("@@@").is_empty());
    // Combined with other filters.
    assert_eq!(
        messages(
            &h,
            Filter {
                search: Some("orders".into()),
                min_level: Some(ERROR),
                source: Some(SourceKind::Http),
                ..Default::default()
            }
        ),
        ["Internal Server Error: /api/orders/17"]
    );
}

#[test]
fn regex_matches_message_or_traceback() {
    let h = corpus();
    let re = |s: &str| {
        messages(
            &h,
            Filter {
                regex: Some(s.into()),
                ..Default::default()
            },
        )
    };
    assert_eq!(re(r"10\.0\.0\.[78]").len(), 2);
    assert_eq!(re(r"^Internal"), ["Internal Server Error: /api/orders/17"]);
    assert_eq!(
        re(r"psycopg2\.errors"),
        ["query failed: relation \"orders\" does not exist"]
    );
    assert_eq!(re(r"(?i)CONNECTION POOL").len(), 1);
    let c = store::open_read_only(&h.path).unwrap();
    let e = store::count(
        &c,
        &Filter {
            regex: Some("(unclosed".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, StoreError::BadRegex { .. }), "{e}");
}

#[test]
fn time_range_order_limit_and_count() {
    let h = corpus();
    let times = |f: Filter| -> Vec<f64> { h.all(&f).into_iter().map(|(_, r)| r.created).collect() };
    assert_eq!(
        times(Filter {
            since: Some(102.0),
            until: Some(104.0),
            ..Default::default()
        }),
        [102.0, 103.0]
    );
    assert_eq!(
        times(Filter {
            since: Some(105.5),
            ..Default::default()
        }),
        [106.0]
    );
    assert_eq!(
        times(Filter {
            until: Some(100.0),
            ..Default::default()
        }),
        Vec::<f64>::new()
    );
    assert_eq!(
        times(Filter {
            descending: true,
            limit: Some(3),
            ..Default::default()
        }),
        [106.0, 105.0, 104.0]
    );
    assert_eq!(
        times(Filter {
            limit: Some(2),
            ..Default::default()
        }),
        [100.0, 101.0]
    );
    let c = store::open_read_only(&h.path).unwrap();
    assert_eq!(store::count(&c, &Filter::default()).unwrap(), 7);
    assert_eq!(
        store::count(
            &c,
            &Filter {
                min_level: Some(WARNING),
                ..Default::default()
            }
        )
        .unwrap(),
        3
    );
    assert_eq!(
        store::count(
            &c,
            &Filter {
                limit: Some(4),
                ..Default::default()
            }
        )
        .unwrap(),
        4
    );
    assert_eq!(
        store::count(
            &c,
            &Filter {
                search: Some("user".into()),
                ..Default::default()
            }
        )
        .unwrap(),
        3
    );
    assert_eq!(
        store::count(
            &c,
            &Filter {
                since: Some(103.0),
                until: Some(106.0),
                job: Some("etl".into()),
                ..Default::default()
            }
        )
        .unwrap(),
        2
    );
}

#[test]
fn read_only_sql_runs_selects_and_refuses_writes() {
    let h = corpus();
    let c = store::open_read_only(&h.path).unwrap();
    let mut rows = Vec::new();
    store::run_sql(
        &c,
        "SELECT logger, count(*) AS n, max(level) FROM records GROUP BY logger ORDER BY n DESC, logger LIMIT 2",
        |names, vals| {
            assert_eq!(names, ["logger", "n", "max(level)"]);
            rows.push(vals);
        },
    )
    .unwrap();
    use rusqlite::types::Value as V;
    assert_eq!(
        rows[0],
        vec![
            V::Text("app.auth".into()),
            V::Integer(3),
            V::Integer(WARNING.into())
        ]
    );
    assert_eq!(rows.len(), 2);
    // The registered regexp function is there.
    let mut n = 0;
    store::run_sql(
        &c,
        "SELECT id FROM records WHERE message REGEXP 'alice|bob'",
        |_, _| n += 1,
    )
    .unwrap();
    assert_eq!(n, 2);
    for bad in [
        "DELETE FROM records",
        "UPDATE records SET message = 'x'",
        "INSERT INTO records(created) VALUES (1)",
        "DROP TABLE records",
        "CREATE TABLE t(x)",
    ] {
        let e = store::run_sql(&c, bad, |_, _| {}).unwrap_err();
        assert!(matches!(e, StoreError::NotReadOnly { .. }), "{bad}: {e}");
    }
    // Even on a writable connection the check refuses.
    let w = store::open(&h.path).unwrap();
    assert!(matches!(
        store::run_sql(&w, "DELETE FROM records", |_, _| {}),
        Err(StoreError::NotReadOnly { .. })
    ));
    assert_eq!(store::count(&c, &Filter::default()).unwrap(), 7);
    // Syntax errors carry the store path.
    let e = store::run_sql(&c, "SELEC nope", |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("store.db"), "{e}");
}

#[test]
fn reads_while_the_persister_writes() {
    let h = Harness::start(config());
    h.send(vec![rec("a", INFO, "first")]);
    h.flush();
    let c = store::open_read_only(&h.path).unwrap();
    assert_eq!(store::count(&c, &Filter::default()).unwrap(), 1);
    h.send(vec![rec("a", INFO, "second")]);
    h.flush();
    assert_eq!(store::count(&c, &Filter::default()).unwrap(), 2);
    assert_eq!(
        store::count(
            &c,
            &Filter {
                search: Some("second".into()),
                ..Default::default()
            }
        )
        .unwrap(),
        1
    );
}
