//! A SocketHandler-compatible TCP target: each record as the frame CPython's `makePickle` writes,
//! so another logtui (or a Python `SocketServer` receiver) reads it as if Python had sent it.

use super::{SinkError, Target};
use crate::encode;
use crate::record::Record;
use crate::value::Value;
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a connect may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a write may block on a peer that stopped reading before the connection is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct TcpTarget {
    addr: String,
    conn: Option<TcpStream>,
    buf: Vec<u8>,
}

impl TcpTarget {
    pub fn new(addr: &str) -> TcpTarget {
        TcpTarget {
            addr: addr.trim().to_owned(),
            conn: None,
            buf: Vec::new(),
        }
    }

    fn err(&self, why: impl std::fmt::Display) -> SinkError {
        SinkError::Send {
            target: self.addr.clone(),
            why: why.to_string(),
        }
    }
}

/// The frame for `r`: the LogRecord dict, then its extras, then `job` and `host` when set (the
/// receiving decoder reads those keys back into the same fields).
pub fn frame(r: &Record) -> Vec<u8> {
    let mut extra = r.extra.clone();
    if let Some(j) = &r.job {
        extra.push(("job".to_owned(), Value::Str(j.clone())));
    }
    if let Some(h) = &r.host {
        extra.push(("host".to_owned(), Value::Str(h.clone())));
    }
    encode::pickle::frame(&encode::logrecord_dict(r, 0.0), &extra)
}

/// Whether the peer has closed its end. A SocketHandler receiver never writes, so a readable
/// socket means EOF (or a reset): writes would vanish into a dead connection.
fn peer_closed(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return true;
    }
    let mut b = [0u8; 1];
    let closed = match s.peek(&mut b) {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    closed || s.set_nonblocking(false).is_err()
}

impl Target for TcpTarget {
    fn describe(&self) -> String {
        format!("tcp {}", self.addr)
    }

    fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    fn connect(&mut self) -> Result<(), SinkError> {
        let fail = |why: String| SinkError::Connect {
            target: self.addr.clone(),
            why,
        };
        let addrs: Vec<_> = self
            .addr
            .to_socket_addrs()
            .map_err(|e| fail(e.to_string()))?
            .collect();
        let mut last = "the name resolves to no address".to_owned();
        for a in addrs {
            match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    s.set_write_timeout(Some(WRITE_TIMEOUT))
                        .map_err(|e| fail(e.to_string()))?;
                    self.conn = Some(s);
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(fail(last))
    }

    fn send(&mut self, batch: &[(i64, Record)]) -> Result<(), SinkError> {
        let Some(conn) = self.conn.as_ref() else {
            return Err(self.err("not connected"));
        };
        if peer_closed(conn) {
            return Err(self.err("the peer closed the connection"));
        }
        self.buf.clear();
        for (_, r) in batch {
            self.buf.extend_from_slice(&frame(r));
        }
        let mut conn = conn;
        let res = conn.write_all(&self.buf);
        // A big batch's buffer is not kept between sends.
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::new();
        }
        res.map_err(|e| self.err(e))
    }

    fn disconnect(&mut self) {
        self.conn = None;
    }
}
