//! The Redis test harness itself: a server of the test's own starts, answers, restarts on its port.

mod common;

use common::redis_server::RedisServer;

#[test]
fn own_server_starts_answers_and_restarts_on_the_same_port() {
    let mut r = RedisServer::start();
    assert!(r.cli(&["PING"]).contains("PONG"));
    r.cli(&["SET", "k", "v"]);
    assert_eq!(r.cli(&["GET", "k"]).trim(), "v");
    let port = r.port;
    r.restart();
    assert_eq!(r.port, port);
    // Nothing is kept across a restart.
    assert_eq!(r.cli(&["GET", "k"]).trim(), "");
}

#[test]
fn a_password_is_required_when_set() {
    let r = RedisServer::start_with(&["--requirepass", "s3cret"]);
    assert!(r.cli(&["PING"]).contains("NOAUTH"));
    assert!(
        r.cli(&["-a", "s3cret", "--no-auth-warning", "PING"])
            .contains("PONG")
    );
}
