//! The in-process recorder the UI starts: its listeners, its store and its feed, without the
//! headless loop around them.

use logtui::cmd::record::{RecordOptions, Recorder, Stopped};
use logtui::config::Config;
use logtui::store::{FeedItem, FeedLimits};
use logtui::value::Value;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

fn config(dir: &std::path::Path) -> Config {
    let mut cfg = Config {
        db: dir.join("rec.db"),
        ..Config::default()
    };
    cfg.listen.tcp = "127.0.0.1:0".into();
    cfg.listen.udp = "127.0.0.1:0".into();
    cfg.listen.http = "off".into();
    // An hour: only the interactive cap can make the record show.
    cfg.store.flush_interval = 3600.0;
    cfg
}

fn frame(msg: &str) -> Vec<u8> {
    logtui::encode::pickle::frame(
        &[
            ("name", Value::Str("app.ui".into())),
            ("msg", Value::Str(msg.into())),
            ("args", Value::Null),
            ("levelname", Value::Str("INFO".into())),
            ("levelno", Value::Int(20)),
            ("created", Value::Float(1.7e9)),
        ],
        &[],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interactive_recorder_publishes_a_record_without_waiting_for_the_flush_interval() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let rec = Recorder::start(&cfg, RecordOptions { interactive: true })
        .await
        .unwrap();
    let addrs = rec.addrs();
    let tcp = addrs.tcp.expect("tcp is bound");
    assert!(addrs.udp.is_some() && addrs.http.is_none(), "{addrs:?}");
    assert_eq!(rec.listening()[0], format!("tcp {tcp}"));
    assert!(rec.listening()[1].starts_with("udp 127.0.0.1:"));
    assert_eq!(rec.buffered_bytes(), 0);
    assert_eq!(rec.db, cfg.db);
    let sub = rec.feed.subscribe(
        "test",
        FeedLimits {
            max_batches: 16,
            max_bytes: 1 << 20,
        },
    );
    let mut s = tokio::net::TcpStream::connect(tcp).await.unwrap();
    s.write_all(&frame("hello pane")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        match sub.try_recv() {
            Some(FeedItem::Batch(b)) => break b,
            Some(other) => panic!("{other:?}"),
            None if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(5)).await,
            None => panic!("nothing published within 10 s"),
        }
    };
    assert_eq!(got.rows.len(), 1);
    assert_eq!(got.rows[0].1.message, "hello pane");
    assert_eq!(got.rows[0].1.logger, "app.ui");
    drop(s);
    assert_eq!(
        rec.stop(Duration::from_secs(5)).await.unwrap(),
        Stopped::Clean
    );
    let c = logtui::store::open_read_only(&cfg.db).unwrap();
    assert_eq!(logtui::store::count(&c, &Default::default()).unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_fails_the_start_and_leaves_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = config(dir.path());
    cfg.listen.tcp = taken.local_addr().unwrap().to_string();
    let e = Recorder::start(&cfg, RecordOptions::default())
        .await
        .err()
        .expect("the port is taken");
    assert!(e.to_string().contains("already in use"), "{e}");
    assert!(!cfg.db.exists());
}
