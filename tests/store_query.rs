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
                sources: vec![SourceKind::Http],
                ..Default::default()
            }
        ),
        ["django.request"]
    );
    assert_eq!(
        loggers(
            &h,
            Filter {
                origins: vec!["192.168.*".into()],
                ..Default::default()
            }
        ),
        ["django.request"]
    );
    assert_eq!(
        loggers(
            &h,
            Filter {
                jobs: vec!["etl".into()],
                ..Default::default()
            }
        ),
        ["app.dbx", "celery"]
    );
    assert_eq!(
        loggers(
            &h,
            Filter {
                jobs: vec!["etl".into()],
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
                jobs: vec!["etl' --".into()],
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
                sources: vec![SourceKind::Http],
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
                jobs: vec!["etl".into()],
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

/// Every sequence of up to `max` items drawn from `alphabet`, as strings.
fn all_strings(alphabet: &[&str], max: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..max {
        let mut next = Vec::new();
        for s in &last {
            for a in alphabet {
                next.push(format!("{s}{a}"));
            }
        }
        out.extend(next.iter().cloned());
        last = next;
    }
    out
}

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn string(&mut self, items: &[&str], max: usize) -> String {
        let n = (self.next() % (max as u64 + 1)) as usize;
        (0..n).map(|_| self.pick(items)).collect()
    }
}

/// Asserts `Glob` gives SQLite's answer for every pattern × text pair, asking SQLite for all
/// pairs in one cross join.
fn assert_glob_agrees(patterns: &[String], texts: &[String]) {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    c.execute_batch("CREATE TABLE p(x TEXT); CREATE TABLE s(y TEXT);")
        .unwrap();
    for (table, vals) in [("p", patterns), ("s", texts)] {
        let mut st = c
            .prepare(&format!("INSERT INTO {table} VALUES (?1)"))
            .unwrap();
        for v in vals {
            st.execute([v]).unwrap();
        }
    }
    let mut sqlite = std::collections::HashSet::new();
    let mut st = c
        .prepare("SELECT p.rowid, s.rowid FROM p, s WHERE s.y GLOB p.x")
        .unwrap();
    let mut rows = st.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        sqlite.insert((
            r.get::<_, i64>(0).unwrap() - 1,
            r.get::<_, i64>(1).unwrap() - 1,
        ));
    }
    let mut mismatches = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        let g = store::query::Glob::new(p);
        for (j, t) in texts.iter().enumerate() {
            let ours = g.matches(t);
            if ours != sqlite.contains(&(i as i64, j as i64)) {
                mismatches.push(format!("{t:?} GLOB {p:?}: sqlite {}, ours {ours}", !ours));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first: {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(10)]
    );
}

#[test]
fn glob_agrees_with_sqlite_on_every_short_pattern() {
    // Every pattern of up to 4 of these against every text of up to 3: the set syntax's
    // corners (`[]`, `[^]`, `[]-a]`, `[a-]`, `[-a]`, unclosed sets) all occur.
    let patterns = all_strings(&["*", "?", "[", "]", "^", "-", "a", "b"], 4);
    let texts = all_strings(&["a", "b", "c", "]", "-", "^", "["], 3);
    assert_glob_agrees(&patterns, &texts);
}

#[test]
fn glob_agrees_with_sqlite_on_random_long_patterns_and_unicode() {
    let pat_items = [
        "*", "*", "?", "[", "]", "^", "-", "a", "b", "z", ".", "é", "日", "\u{FFFF}", "\u{FFFD}",
        "\0", "\\", "[a-c]", "[^a]", "[é-日]", "app.", "*a", "[]]", "[--a]", "[z-a]",
    ];
    let text_items = [
        "a", "b", "c", "z", ".", "-", "]", "é", "日", "本", "\u{FFFE}", "\u{FFFD}", "\0", "\\",
        "app", "A", "😀",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let patterns: Vec<String> = (0..1500).map(|_| rng.string(&pat_items, 8)).collect();
    let texts: Vec<String> = (0..300).map(|_| rng.string(&text_items, 10)).collect();
    assert_glob_agrees(&patterns, &texts);
    // The pathological shape stays fast: O(pattern × text), not exponential.
    let long = "a".repeat(20_000);
    let g = store::query::Glob::new("*a*a*a*a*a*a*a*a*b");
    let start = std::time::Instant::now();
    assert!(!g.matches(&long));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_glob_agrees(&["*a*a*a*a*a*a*a*a*b".into(), "*a*a*a*a".into()], &[long]);
}

#[test]
fn before_id_pages_backwards_and_exclude_leaves_out_matches() {
    let h = corpus();
    let all: Vec<i64> = h
        .all(&Filter::default())
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(all.len(), 7);
    // The page above the fourth row, newest first, three at a time.
    let page: Vec<i64> = h
        .all(&Filter {
            before_id: Some(all[3]),
            descending: true,
            limit: Some(2),
            ..Default::default()
        })
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(page, [all[2], all[1]]);
    assert_eq!(
        h.count(&Filter {
            before_id: Some(all[3]),
            after_id: Some(all[0]),
            ..Default::default()
        }),
        2
    );
    // Any one exclusion leaves a record out; the traceback counts, as for `search`.
    assert_eq!(
        loggers(
            &h,
            Filter {
                exclude: vec!["user".into(), "UndefinedTable".into()],
                ..Default::default()
            }
        ),
        ["app.dbx", "django.request", "celery"]
    );
    // An exclusion with no terms excludes nothing, as an empty search selects everything.
    assert_eq!(
        h.count(&Filter {
            exclude: vec!["   ".into()],
            ..Default::default()
        }),
        7
    );
    assert_eq!(
        messages(
            &h,
            Filter {
                search: Some("user".into()),
                exclude: vec!["alice".into(), "quoted".into()],
                ..Default::default()
            }
        ),
        ["user bob failed login from 10.0.0.8"]
    );
}

#[test]
fn logger_tree_is_a_name_and_everything_below_it() {
    let h = corpus();
    let tree = |t: &str| {
        loggers(
            &h,
            Filter {
                logger_trees: vec![t.into()],
                ..Default::default()
            },
        )
    };
    assert_eq!(tree("app.db"), ["app.db"]);
    assert_eq!(
        tree("app"),
        ["app.auth", "app.auth", "app.db", "app.dbx", "app.auth"]
    );
    assert_eq!(tree("django"), ["django.request"]);
    assert!(tree("ap").is_empty());
    // No wildcards: the name means itself.
    assert!(tree("app.*").is_empty());
}

#[test]
fn a_glob_longer_than_sqlite_takes_is_refused_by_both_paths() {
    let h = corpus();
    let c = store::open_read_only(&h.path).unwrap();
    let f = Filter {
        origins: vec!["*".repeat(store::query::MAX_GLOB_BYTES + 1)],
        ..Default::default()
    };
    assert!(matches!(
        store::count(&c, &f),
        Err(StoreError::GlobTooLong { .. })
    ));
    assert!(matches!(f.compile(), Err(StoreError::GlobTooLong { .. })));
    let ok = Filter {
        origins: vec!["*".repeat(store::query::MAX_GLOB_BYTES)],
        ..Default::default()
    };
    assert_eq!(store::count(&c, &ok).unwrap(), 7);
}

#[test]
fn more_choices_than_a_filter_takes_are_refused_by_both_paths() {
    let h = corpus();
    let c = store::open_read_only(&h.path).unwrap();
    let jobs = |n: usize| (0..n).map(|i| format!("j{i}")).collect::<Vec<_>>();
    let f = Filter {
        jobs: jobs(store::MAX_CHOICES + 1),
        ..Default::default()
    };
    let err = store::count(&c, &f).unwrap_err();
    assert!(
        matches!(err, StoreError::TooManyChoices { field: "job", .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the filter names {} job values; it takes at most {}",
            store::MAX_CHOICES + 1,
            store::MAX_CHOICES
        )
    );
    assert!(matches!(
        f.compile(),
        Err(StoreError::TooManyChoices { .. })
    ));
    let mut ok = Filter {
        jobs: jobs(store::MAX_CHOICES),
        ..Default::default()
    };
    ok.jobs[0] = "etl".into();
    assert_eq!(
        store::count(&c, &ok).unwrap(),
        store::count(
            &c,
            &Filter {
                jobs: vec!["etl".into()],
                ..Default::default()
            }
        )
        .unwrap()
    );
}

/// A store with records chosen to sit on every edge the filters have: logger names holding
/// GLOB syntax and bytes beside `.`, NULs, U+FFFF, odd times, tracebacks, every source.
fn edge_corpus() -> Harness {
    let mut h = Harness::start(config());
    let loggers = [
        "app",
        "app.db",
        "app.db.pool",
        "apps",
        "app-x",
        "app/x",
        "app.",
        "ap",
        "App.db",
        "a*b",
        "a*b.c",
        "a[1]",
        "a[1].x",
        "x\0y",
        "日本.語",
        "\u{FFFF}",
        "root",
    ];
    let messages = [
        "disk full on /dev/sda1",
        "Disk is FULL",
        "health check ok",
        "GET /health 200",
        "user alice logged in",
        "-- separator --",
        "nul\0inside health",
        "error: connection refused",
        "",
    ];
    let origins = [
        "127.0.0.1:4000",
        "10.0.0.1:9",
        "logs:celery",
        "[::1]:5",
        "we*rd",
    ];
    let jobs = [None, Some("etl"), Some("web"), Some("")];
    let times = [100.0, 100.5, 101.0, -0.0, 0.0, 1e300, 102.0];
    let mut batch = Vec::new();
    let mut i = 0usize;
    // Each logger's records together, so blocks of the index list different loggers and
    // their narrowing (and `first_id < before_id`) really decides something.
    for (li, logger) in loggers.iter().enumerate() {
        for (mi, message) in (0..8).flat_map(|_| messages.iter()).enumerate() {
            let mut r = rec(
                logger,
                [DEBUG, INFO, WARNING, ERROR, 35][(li + mi) % 5],
                message,
            );
            r.source = SourceKind::ALL[i % 5];
            r.origin = origins[i % origins.len()].into();
            r.job = jobs[i % jobs.len()].map(String::from);
            r.created = times[i % times.len()];
            if i.is_multiple_of(4) {
                r.exc_text = Some("Traceback:\nOSError: disk full".into());
            }
            batch.push(r);
            i += 1;
        }
    }
    // Several batches, so the index has several blocks to narrow.
    for chunk in batch.chunks(100) {
        h.send(chunk.to_vec());
        h.flush();
    }
    h.close().unwrap();
    h
}

#[test]
fn the_compiled_filter_agrees_with_the_store_on_every_row() {
    let h = edge_corpus();
    let every = h.all(&Filter::default());
    assert!(every.len() > 1000);
    let c = store::open_read_only(&h.path).unwrap();
    store::count(&c, &Filter::default()).unwrap();
    let mut blocks = 0i64;
    store::run_sql(&c, "SELECT count(*) FROM idx.blocks", |_, v| {
        if let rusqlite::types::Value::Integer(n) = v[0] {
            blocks = n;
        }
    })
    .unwrap();
    assert!(blocks >= 4, "{blocks} blocks");
    let ids = |rows: &[(i64, Record)]| rows.iter().map(|(id, _)| *id).collect::<Vec<_>>();
    let mid = every[every.len() / 2].0;
    let s = |v: &str| Some(v.to_owned());
    let v = |vs: &[&str]| vs.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let mut filters = Vec::new();
    for g in [
        "app.*", "app", "a*b*", "a[*]b", "a[[]1]*", "[a-c]*", "[^a]*", "*.*.*", "x", "日*",
        "\u{FFFD}", "?", "*[", "[]", "*db*",
    ] {
        filters.push(Filter {
            logger: s(g),
            ..Default::default()
        });
    }
    for t in ["app", "app.db", "a*b", "a[1]", "x", "日本", "ap", ""] {
        filters.push(Filter {
            logger_trees: v(&[t]),
            ..Default::default()
        });
    }
    for o in ["127.*", "*:9", "we*rd", "we[*]rd", "logs:*", "\\[::1]*"] {
        filters.push(Filter {
            origins: v(&[o]),
            ..Default::default()
        });
    }
    for q in [
        "disk full",
        "health",
        "heal*",
        "--",
        "nul",
        "inside",
        "OSError",
        "\"disk",
    ] {
        filters.push(Filter {
            search: s(q),
            ..Default::default()
        });
        filters.push(Filter {
            exclude: vec![q.to_owned()],
            ..Default::default()
        });
    }
    for re in [
        r"^GET",
        r"(?i)full",
        r"health$",
        r"\x00",
        r"disk\s+full",
        "^$",
    ] {
        filters.push(Filter {
            regex: s(re),
            ..Default::default()
        });
    }
    for (since, until) in [
        (Some(100.5), None),
        (None, Some(0.0)),
        (Some(-0.0), Some(101.0)),
    ] {
        filters.push(Filter {
            since,
            until,
            ..Default::default()
        });
    }
    filters.push(Filter {
        since: Some(f64::NAN),
        ..Default::default()
    });
    for j in ["etl", "web", ""] {
        filters.push(Filter {
            jobs: v(&[j]),
            ..Default::default()
        });
    }
    // Job GLOBs, alone and OR'ed with exact jobs.
    for (jobs, globs) in [
        (&[][..], &["e*"][..]),
        (&[], &["*"]),
        (&[], &["[ew]*", "x?"]),
        (&["etl"], &["w?b"]),
        (&["web"], &["nothing*"]),
    ] {
        filters.push(Filter {
            jobs: v(jobs),
            job_globs: v(globs),
            ..Default::default()
        });
    }
    for k in SourceKind::ALL {
        filters.push(Filter {
            sources: vec![k],
            ..Default::default()
        });
    }
    filters.push(Filter {
        hide_internal: true,
        min_level: Some(WARNING),
        ..Default::default()
    });
    filters.push(Filter {
        before_id: Some(mid),
        after_id: Some(every[3].0),
        descending: true,
        ..Default::default()
    });
    filters.push(Filter {
        logger_trees: v(&["app"]),
        search: s("disk"),
        exclude: vec!["OSError".into(), "sda1".into()],
        min_level: Some(INFO),
        hide_internal: true,
        before_id: Some(mid),
        ..Default::default()
    });
    filters.push(Filter {
        logger: s("*"),
        origins: v(&["*"]),
        jobs: v(&["etl"]),
        regex: s("o"),
        since: Some(0.0),
        until: Some(1e301),
        ..Default::default()
    });
    // Several values of one field OR together, fields AND.
    for (jobs, trees, origins) in [
        (v(&["etl", "web"]), vec![], vec![]),
        (v(&["etl", "nosuch"]), v(&["app.db", "x"]), vec![]),
        (vec![], v(&["app", "日本", "a*b"]), v(&["127.*", "logs:*"])),
        (v(&["", "web"]), vec![], v(&["we[*]rd", "*:9"])),
    ] {
        filters.push(Filter {
            jobs,
            logger_trees: trees,
            origins,
            ..Default::default()
        });
    }
    filters.push(Filter {
        sources: vec![SourceKind::Tcp, SourceKind::Internal],
        search: s("disk"),
        ..Default::default()
    });
    let mut nonempty = 0;
    for f in &filters {
        let sql = ids(&h.all(f));
        let cf = f.compile().unwrap();
        let mem: Vec<i64> = every
            .iter()
            .filter(|(id, r)| cf.matches(*id, r))
            .map(|(id, _)| *id)
            .rev()
            .collect::<Vec<_>>();
        let mem: Vec<i64> = if f.descending {
            mem
        } else {
            mem.into_iter().rev().collect()
        };
        assert_eq!(sql, mem, "{f:?}");
        nonempty += usize::from(!sql.is_empty() && sql.len() < every.len());
    }
    // The filters really narrow: most select some rows but not all.
    assert!(
        nonempty > filters.len() / 2,
        "{nonempty} of {}",
        filters.len()
    );
}
