//! A Redis target: PUBLISH each record to a channel in Smarter's payload shape (so Smarter's own
//! console reads it), and optionally XADD it to a stream as Smarter does (`MAXLEN ~ 1000`, field `data`).

use super::{SinkError, Target};
use crate::config::route::RedisRoute;
use crate::encode::smarter;
use crate::record::Record;
use std::time::Duration;

/// How long a connect, and then each command, may take before the server counts as down.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The stream length Smarter keeps (`XADD … MAXLEN ~ 1000`).
pub const STREAM_MAXLEN: usize = 1000;

pub struct RedisTarget {
    route: RedisRoute,
    /// `HOST:PORT` of the URL: what status lines name, never the credentials it may hold.
    server: String,
    conn: Option<redis::Connection>,
}

impl RedisTarget {
    pub fn new(route: &RedisRoute) -> RedisTarget {
        let server = redis::parse_redis_url(&route.url)
            .map(|u| {
                let host = u.host_str().unwrap_or("?").to_owned();
                match u.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host,
                }
            })
            .unwrap_or_else(|| "?".to_owned());
        RedisTarget {
            route: route.clone(),
            server,
            conn: None,
        }
    }

    fn where_(&self) -> String {
        format!("{} {}", self.server, self.route.channel)
    }
}

impl Target for RedisTarget {
    fn describe(&self) -> String {
        match &self.route.stream {
            Some(s) => format!("redis {} (+ stream {s})", self.where_()),
            None => format!("redis {}", self.where_()),
        }
    }

    fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    fn connect(&mut self) -> Result<(), SinkError> {
        let fail = |e: redis::RedisError| SinkError::Connect {
            target: self.where_(),
            why: e.to_string(),
        };
        let client = redis::Client::open(self.route.url.as_str()).map_err(fail)?;
        let conn = client.get_connection_with_timeout(TIMEOUT).map_err(fail)?;
        conn.set_read_timeout(Some(TIMEOUT)).map_err(fail)?;
        conn.set_write_timeout(Some(TIMEOUT)).map_err(fail)?;
        self.conn = Some(conn);
        Ok(())
    }

    fn send(&mut self, batch: &[(i64, Record)]) -> Result<(), SinkError> {
        let target = self.where_();
        let fail = |why: String| SinkError::Send {
            target: target.clone(),
            why,
        };
        let Some(conn) = self.conn.as_mut() else {
            return Err(fail("not connected".into()));
        };
        // One round trip per batch; without MULTI, since Smarter's transaction buys nothing
        // here and a pipeline is what keeps up with a burst.
        let mut pipe = redis::pipe();
        for (_, r) in batch {
            let payload = smarter::payload(r);
            pipe.cmd("PUBLISH")
                .arg(&self.route.channel)
                .arg(&payload)
                .ignore();
            if let Some(stream) = &self.route.stream {
                pipe.cmd("XADD")
                    .arg(stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(STREAM_MAXLEN)
                    .arg("*")
                    .arg("data")
                    .arg(&payload)
                    .ignore();
            }
        }
        pipe.query::<()>(conn).map_err(|e| fail(e.to_string()))
    }

    fn disconnect(&mut self) {
        self.conn = None;
    }
}
