//! The filter prompt's language: each term kind, quoting, errors and their spans, and that a
//! parsed expression selects the same records from the store as in memory.

#[path = "store_util.rs"]
mod util;

use logtui::record::{ERROR, INFO, Record, SourceKind, WARNING};
use logtui::store::Filter;
use logtui::tui::filter_expr::{FilterExprError, MAX_INPUT, Problem, parse};
use util::{Harness, config, rec};

/// The filter `input` makes from the default one.
fn filter(input: &str) -> Filter {
    let mut f = Filter::default();
    parse(input).unwrap().apply(&mut f);
    f
}

/// The problem and span of a failing input.
fn error(input: &str) -> (Problem, std::ops::Range<usize>) {
    match parse(input).unwrap_err() {
        e @ FilterExprError::Term { .. } => {
            let span = e.span();
            let FilterExprError::Term { problem, .. } = e else {
                unreachable!()
            };
            (problem, span)
        }
        e => panic!("{input:?}: {e}"),
    }
}

#[test]
fn each_term_kind_sets_its_field() {
    assert_eq!(filter(""), Filter::default());
    assert!(parse("  \t ").unwrap().is_empty());
    assert_eq!(
        filter("disk  full*"),
        Filter {
            search: Some("disk full*".into()),
            ..Default::default()
        }
    );
    assert_eq!(filter(r"re:^GET\s").regex.as_deref(), Some(r"^GET\s"));
    for (input, level) in [
        ("level>=warning", WARNING),
        ("level:error", ERROR),
        ("level=ERROR", ERROR),
        ("LEVEL>=Warn", WARNING),
        ("level>=35", 35),
        ("level>warning", WARNING + 1),
        ("level:fatal", 50),
    ] {
        assert_eq!(filter(input).min_level, Some(level), "{input}");
    }
    // A plain name is a subtree; a wildcard makes a GLOB.
    let f = filter("logger:app");
    assert_eq!((f.logger_trees, f.logger), (vec!["app".to_owned()], None));
    let f = filter("logger:app.*");
    assert_eq!(
        (f.logger.as_deref(), f.logger_trees),
        (Some("app.*"), vec![])
    );
    assert_eq!(filter("logger:a[12]").logger.as_deref(), Some("a[12]"));
    assert_eq!(filter("job:etl-7").jobs, ["etl-7"]);
    assert_eq!(filter("origin:10.0.*").origins, ["10.0.*"]);
    assert_eq!(filter("source:UDP").sources, [SourceKind::Udp]);
    // Several terms of one channel key OR together (repeats once), keys AND.
    let f = filter("job:a origin:h* job:b logger:app source:tcp logger:web job:a source:UDP");
    assert_eq!(f.jobs, ["a", "b"]);
    assert_eq!(f.origins, ["h*"]);
    assert_eq!(f.logger_trees, ["app", "web"]);
    assert_eq!(f.sources, [SourceKind::Tcp, SourceKind::Udp]);
    assert_eq!(
        filter("!health !\"GET /ping\"").exclude,
        ["health", "GET-/ping"]
    );
    // Unknown keys are text, and so is everything quoted.
    assert_eq!(
        filter("user:alice http://x \"level>=error\"")
            .search
            .as_deref(),
        Some("user:alice http://x level>=error")
    );
    // All together, in any order.
    let f = filter("!health level>=warning timeout logger:app.* job:j1 source:tcp origin:h*");
    assert_eq!(
        f,
        Filter {
            min_level: Some(WARNING),
            logger: Some("app.*".into()),
            sources: vec![SourceKind::Tcp],
            origins: vec!["h*".into()],
            jobs: vec!["j1".into()],
            search: Some("timeout".into()),
            exclude: vec!["health".into()],
            ..Default::default()
        }
    );
}

#[test]
fn quotes_group_phrases_and_values() {
    // A phrase stays one store term: its words in a row.
    assert_eq!(filter("\"disk full\"").search.as_deref(), Some("disk-full"));
    assert_eq!(
        filter("\"disk   ful*\" x").search.as_deref(),
        Some("disk-ful* x")
    );
    assert_eq!(filter("logger:\"my app\"").logger_trees, ["my app"]);
    assert_eq!(filter("job:\"a b\"").jobs, ["a b"]);
    // Shell-like escapes inside quotes; other backslashes stay, for regexes.
    assert_eq!(
        filter(r#"re:"\d+ \"ms\" \\\\""#).regex.as_deref(),
        Some(r#"\d+ "ms" \\"#)
    );
    // Unquoted backslashes are plain characters.
    assert_eq!(filter(r"re:a\\b").regex.as_deref(), Some(r"a\\b"));
    // Quotes may sit inside a word.
    assert_eq!(filter("ab\"c d\"e").search.as_deref(), Some("abc-de"));
}

#[test]
fn errors_name_the_term_and_where_it_is() {
    let (p, span) = error("ok re:(unclosed");
    assert_eq!(span, 3..15);
    let Problem::BadRegex { reason } = &p else {
        panic!("{p:?}")
    };
    assert_eq!(reason, "unclosed group");
    let msg = parse("ok re:(unclosed").unwrap_err().to_string();
    assert_eq!(
        msg,
        "\"re:(unclosed\" at byte 3: the regular expression is invalid: unclosed group"
    );
    assert!(!msg.contains('\n'));
    assert_eq!(
        error("a level>=loud"),
        (
            Problem::UnknownLevel {
                name: "loud".into()
            },
            2..13
        )
    );
    assert_eq!(error("level<error"), (Problem::LevelBound, 0..11));
    assert_eq!(error("level>="), (Problem::NoValue { key: "level" }, 0..7));
    assert_eq!(
        error("logger:a logger:b*"),
        (Problem::LoggerGlobAlone, 9..18)
    );
    assert_eq!(
        error("logger:a* logger:b"),
        (Problem::LoggerGlobAlone, 10..18)
    );
    assert_eq!(
        error("re:a re:b"),
        (Problem::Duplicate { key: "re:" }, 5..9)
    );
    let many: Vec<String> = (0..=logtui::store::MAX_CHOICES)
        .map(|i| format!("job:j{i}"))
        .collect();
    let (p, _) = error(&many.join(" "));
    assert_eq!(
        p,
        Problem::TooMany {
            key: "job:",
            max: logtui::store::MAX_CHOICES
        }
    );
    assert_eq!(
        error("level:1 LEVEL>2"),
        (Problem::Duplicate { key: "level" }, 8..15)
    );
    assert_eq!(error("x job:"), (Problem::NoValue { key: "job:" }, 2..6));
    assert_eq!(
        error("source:smtp"),
        (
            Problem::UnknownSource {
                name: "smtp".into()
            },
            0..11
        )
    );
    assert_eq!(
        error("!logger:app"),
        (Problem::NegatedKey { key: "logger:" }, 0..11)
    );
    assert_eq!(error("a ! b"), (Problem::Empty, 2..3));
    assert_eq!(error("\"\""), (Problem::Empty, 0..2));
    assert_eq!(error("x \"-> <-\""), (Problem::NoWords, 2..9));
    // An unclosed quote is underlined from the quote to the end.
    assert_eq!(error("ab \"disk full"), (Problem::UnclosedQuote, 3..13));
    // Spans are byte offsets, also after multibyte text.
    assert_eq!(
        error("日本 re:["),
        (
            Problem::BadRegex {
                reason: "unclosed character class".into()
            },
            7..11
        )
    );
    // Key-like text with multibyte characters where a key would end does not panic.
    assert_eq!(
        filter("lo日本語ger:x").search.as_deref(),
        Some("lo日本語ger:x")
    );
    // The input is capped.
    let long = "a ".repeat(MAX_INPUT);
    let e = parse(&long).unwrap_err();
    assert_eq!(
        e,
        FilterExprError::TooLong {
            len: 2 * MAX_INPUT,
            max: MAX_INPUT
        }
    );
    assert_eq!(e.span(), MAX_INPUT..2 * MAX_INPUT);
    assert!(parse(&"a ".repeat(MAX_INPUT / 2)).is_ok());
}

#[test]
fn describe_is_short_and_reads_back() {
    let e = parse("level>=warning logger:app.* !health \"disk full\" level2").unwrap();
    assert_eq!(
        e.describe(),
        "level≥WARNING logger:app.* !health \"disk full\" level2"
    );
    assert_eq!(
        parse("level>35 job:\"a b\" source:HTTP re:x")
            .unwrap()
            .describe(),
        "level>35 job:\"a b\" source:http re:x"
    );
    assert_eq!(parse("").unwrap().describe(), "");
}

#[test]
fn apply_narrows_what_is_already_there() {
    let mut f = Filter {
        search: Some("base".into()),
        min_level: Some(ERROR),
        exclude: vec!["old".into()],
        hide_internal: true,
        ..Default::default()
    };
    parse("level>=info more !new source:internal")
        .unwrap()
        .apply(&mut f);
    assert_eq!(f.search.as_deref(), Some("base more"));
    // The stricter level wins: both must hold.
    assert_eq!(f.min_level, Some(ERROR));
    assert_eq!(f.exclude, ["old", "new"]);
    assert_eq!(f.sources, [SourceKind::Internal]);
    assert!(!f.hide_internal);
    // Typed channel terms replace the scope's list of their kind; other lists stay.
    let mut f = Filter {
        jobs: vec!["picked".into()],
        logger_trees: vec!["app".into()],
        ..Default::default()
    };
    parse("job:a job:b").unwrap().apply(&mut f);
    assert_eq!(f.jobs, ["a", "b"]);
    assert_eq!(f.logger_trees, ["app"]);
    // A picked job family is part of the scope's jobs: a typed job replaces it too.
    let mut f = Filter {
        job_globs: vec!["job_*".into()],
        ..Default::default()
    };
    parse("job:User.admin").unwrap().apply(&mut f);
    assert_eq!(f.jobs, ["User.admin"]);
    assert!(f.job_globs.is_empty());
}

fn record(logger: &str, level: i32, message: &str, exc: Option<&str>) -> Record {
    let mut r = rec(logger, level, message);
    r.exc_text = exc.map(String::from);
    r
}

#[test]
fn parsed_expressions_match_records_in_memory() {
    let rows = [
        record("app", INFO, "GET /health 200", None),
        record("app.db", ERROR, "disk full on /data", None),
        record("app.db", WARNING, "disk is almost full", None),
        record("apps", ERROR, "disk full", None),
        record(
            "app.web",
            ERROR,
            "request failed",
            Some("OSError: disk full"),
        ),
    ];
    let hits = |input: &str| -> Vec<usize> {
        let cf = filter(input).compile().unwrap();
        (0..rows.len())
            .filter(|&i| cf.matches(i as i64 + 1, &rows[i]))
            .collect()
    };
    assert_eq!(hits("\"disk full\""), [1, 3, 4]);
    assert_eq!(hits("disk full"), [1, 2, 3, 4]);
    assert_eq!(hits("logger:app"), [0, 1, 2, 4]);
    assert_eq!(hits("logger:app.*"), [1, 2, 4]);
    assert_eq!(hits("logger:app level>=error !oserror"), [1]);
    assert_eq!(hits("!health !\"disk full\""), [2]);
    assert_eq!(hits("level>warning"), [1, 3, 4]);
    assert_eq!(hits("re:^disk\\s"), [1, 2, 3]);
    assert_eq!(hits("re:(?i)^oserror"), [4]);
}

#[test]
fn exclusion_agrees_between_the_store_and_memory() {
    let mut h = Harness::start(config());
    let mut batch = Vec::new();
    for i in 0..300 {
        let msg = match i % 5 {
            0 => "GET /health 200",
            1 => "health check ok",
            2 => "disk full on /data",
            3 => "user logged in",
            _ => "healthy? no: disk FULL",
        };
        let logger = ["app", "app.db", "apps", "app.web"][i % 4];
        let mut r = rec(logger, [INFO, WARNING, ERROR][i % 3], msg);
        if i % 7 == 0 {
            r.exc_text = Some("OSError: health probe".into());
        }
        batch.push(r);
    }
    for chunk in batch.chunks(50) {
        h.send(chunk.to_vec());
        h.flush();
    }
    h.close().unwrap();
    let every = h.all(&Filter::default());
    assert_eq!(every.len(), 300);
    for input in [
        "!health",
        "!\"disk full\"",
        "!health !user",
        "logger:app !health level>=warning",
        "disk !\"on /data\"",
        "!heal*",
        "!OSError logger:app.*",
    ] {
        let f = filter(input);
        let sql: Vec<i64> = h.all(&f).iter().map(|(id, _)| *id).collect();
        let cf = f.compile().unwrap();
        let mem: Vec<i64> = every
            .iter()
            .filter(|(id, r)| cf.matches(*id, r))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(sql, mem, "{input}");
        assert!(!sql.is_empty() && sql.len() < every.len(), "{input}");
        // What `!` names is really gone.
        if input == "!health" {
            assert!(h.all(&f).iter().all(|(_, r)| {
                !r.message.to_lowercase().contains("health ")
                    && !r.message.ends_with("health")
                    && r.exc_text.as_deref().is_none_or(|t| !t.contains("health"))
            }));
        }
    }
}
