//! `logtui emit`: the demo feed and load generator. Sends synthetic records, stdin lines or a
//! file of ready-made frames, encoded byte for byte as SocketHandler, DatagramHandler or HTTPHandler would.

use crate::cli::EmitArgs;
use crate::encode::{self, form};
use crate::record::{self, Record, SourceKind};
use crate::term::escape_controls;
use anyhow::{Context, Result, anyhow, bail};
use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};

pub fn run(args: &EmitArgs) -> Result<()> {
    let level = record::parse_level_arg(&args.level)
        .ok_or_else(|| anyhow!("unknown level '{}'", args.level))?;
    let mut target = Target::open(args)?;
    let start = Instant::now();
    if let Some(path) = &args.replay {
        let Target::Tcp(w, _) = &mut target else {
            bail!("--replay sends SocketHandler frames and needs --tcp");
        };
        let frames =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let per_pass = count_frames(&frames).with_context(|| {
            format!(
                "{} is not a file of SocketHandler frames (python3 benches/make_frames.py writes one)",
                path.display()
            )
        })?;
        for _ in 0..args.count {
            w.write_all(&frames)
                .context("the listener closed the connection")?;
        }
        w.flush().context("the listener closed the connection")?;
        let sent = Sent {
            records: per_pass * args.count,
            bytes: frames.len() as u64 * args.count,
        };
        eprintln!("{}", target.summary(&sent, start.elapsed()));
        return Ok(());
    }
    let mut sent = Sent::default();
    let pace = (args.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / args.rate));
    let mut send = |i: u64, message: String, template: Option<(String, String)>| -> Result<()> {
        if let Some(p) = pace {
            let due = start + p * i as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let mut r = Record::new(SourceKind::Tcp, "");
        r.logger = args.logger.clone();
        r.set_level(level);
        r.message = message;
        r.pathname = Some("logtui/emit.rs".into());
        r.filename = Some("emit.rs".into());
        r.module = Some("emit".into());
        r.lineno = Some(1);
        r.func = Some("emit".into());
        r.process = Some(i64::from(std::process::id()));
        r.process_name = Some("MainProcess".into());
        r.thread = Some(1);
        r.thread_name = Some("MainThread".into());
        let bytes = target.send(&r, template, start.elapsed().as_secs_f64() * 1000.0)?;
        sent.records += 1;
        sent.bytes += bytes as u64;
        Ok(())
    };
    if args.stdin {
        for (i, line) in std::io::stdin().lock().lines().enumerate() {
            send(i as u64, line.context("cannot read standard input")?, None)?;
        }
    } else {
        for i in 1..=args.count {
            let msg = format!("synthetic record {i} of {} from logtui emit", args.count);
            let template = (
                "synthetic record %d of %d from logtui emit".to_owned(),
                format!("({i}, {})", args.count),
            );
            send(i, msg, Some(template))?;
        }
    }
    target.finish()?;
    let line = target.summary(&sent, start.elapsed());
    if let Target::Udp(_, addr, refused @ 1..) = &target {
        bail!(
            "nothing listens on udp {addr}: {refused} of {} datagrams were refused (port unreachable)",
            sent.records
        );
    }
    eprintln!("{line}");
    Ok(())
}

/// What `emit` sent, for its closing line.
#[derive(Debug, Default)]
struct Sent {
    records: u64,
    bytes: u64,
}

/// The records in a file of SocketHandler frames (4-byte big-endian length, then the pickle);
/// `None` when the lengths do not add up to the file.
fn count_frames(mut b: &[u8]) -> Option<u64> {
    let mut n = 0;
    while !b.is_empty() {
        let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
        b = b.get(4 + len..)?;
        n += 1;
    }
    Some(n)
}

enum Target {
    /// The stream and where it goes (for the closing line).
    Tcp(Box<dyn Write>, String),
    /// The socket, where it sends, and how many datagrams the OS reported as refused.
    Udp(std::net::UdpSocket, String, u64),
    Http(HttpTarget),
}

/// Where and how HTTPHandler posts: `logtui emit --http` and the demo generator both send through it.
pub(crate) struct HttpTarget {
    hostport: String,
    path: String,
    post: bool,
    auth: Option<String>,
    /// How long to wait for the connection and the reply; `None` waits as long as HTTPHandler
    /// does (forever). The demo sets one so that stopping it never hangs on a stalled listener.
    timeout: Option<Duration>,
}

impl Target {
    fn open(a: &EmitArgs) -> Result<Target> {
        if let Some(addr) = &a.tcp {
            let w: Box<dyn Write> = match addr.strip_prefix("unix:") {
                Some(p) => Box::new(std::io::BufWriter::with_capacity(
                    1 << 16,
                    std::os::unix::net::UnixStream::connect(p)
                        .with_context(|| format!("cannot connect to unix:{p}"))?,
                )),
                None => Box::new(std::io::BufWriter::with_capacity(
                    1 << 16,
                    std::net::TcpStream::connect(addr)
                        .with_context(|| format!("cannot connect to {addr}"))?,
                )),
            };
            return Ok(Target::Tcp(w, addr.clone()));
        }
        if let Some(addr) = &a.udp {
            let s = std::net::UdpSocket::bind("127.0.0.1:0")
                .or_else(|_| std::net::UdpSocket::bind("[::1]:0"))
                .context("cannot open a UDP socket")?;
            // Connected, so a "port unreachable" answer shows up as an error on a later send.
            s.connect(addr.as_str())
                .with_context(|| format!("cannot send datagrams to {addr}"))?;
            return Ok(Target::Udp(s, addr.clone(), 0));
        }
        if let Some(addr) = &a.http {
            let (hostport, path) = match addr.find('/') {
                Some(i) => (addr[..i].to_owned(), addr[i..].to_owned()),
                None => (addr.clone(), "/log".to_owned()),
            };
            let auth = a.auth.as_ref().map(|c| {
                use base64::Engine;
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(c.as_bytes())
                )
            });
            return Ok(Target::Http(HttpTarget {
                hostport,
                path,
                post: a.method == "POST",
                auth,
                timeout: None,
            }));
        }
        bail!("say where to send: --tcp ADDR, --udp ADDR or --http ADDR")
    }

    /// Sends one record; returns the bytes it put on the wire.
    fn send(
        &mut self,
        r: &Record,
        template: Option<(String, String)>,
        rel_ms: f64,
    ) -> Result<usize> {
        match self {
            Target::Tcp(w, _) => {
                let frame = socket_frame(r, rel_ms);
                w.write_all(&frame)
                    .context("the listener closed the connection")?;
                Ok(frame.len())
            }
            Target::Udp(s, addr, refused) => {
                let frame = socket_frame(r, rel_ms);
                match s.send(&frame) {
                    Ok(n) => Ok(n),
                    // The answer to an earlier datagram: nothing listens there.
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        *refused += 1;
                        Ok(0)
                    }
                    Err(e) => Err(e).with_context(|| format!("cannot send a datagram to {addr}")),
                }
            }
            Target::Http(h) => h.send(r, template, rel_ms),
        }
    }

    fn finish(&mut self) -> Result<()> {
        match self {
            Target::Tcp(w, _) => w.flush().context("the listener closed the connection")?,
            Target::Udp(s, _, refused) => {
                // A "port unreachable" for the last datagram arrives after its send; a short
                // wait for it is the only way to hear it (and silence proves nothing).
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .context("cannot set a UDP timeout")?;
                let mut b = [0u8; 1];
                if let Err(e) = s.recv(&mut b)
                    && e.kind() == std::io::ErrorKind::ConnectionRefused
                {
                    *refused += 1;
                }
            }
            Target::Http(_) => {}
        }
        Ok(())
    }

    /// The closing line: what was sent, where, how fast, and what is known about delivery.
    fn summary(&self, sent: &Sent, took: Duration) -> String {
        let secs = took.as_secs_f64().max(1e-6);
        let (to, delivery) = match self {
            Target::Tcp(_, a) => (format!("tcp {a}"), "the listener accepted the stream"),
            Target::Udp(_, a, _) => (
                format!("udp {a}"),
                "UDP has no replies, so logtui cannot know whether anything received them",
            ),
            Target::Http(h) => (
                format!("http {}{}", h.hostport, h.path),
                "each answered 200",
            ),
        };
        format!(
            "logtui: sent {} records ({}) to {to} in {:.2} s ({:.0} records/s); {delivery}",
            sent.records,
            human_bytes(sent.bytes),
            took.as_secs_f64(),
            sent.records as f64 / secs,
        )
    }
}

/// `512 bytes`, `5.6 KiB`, `12.0 MiB`.
fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// SocketHandler's and DatagramHandler's frame for `r` (they share `makePickle`).
pub(crate) fn socket_frame(r: &Record, rel_ms: f64) -> Vec<u8> {
    encode::pickle::frame(&encode::logrecord_dict(r, rel_ms), &r.extra)
}

impl HttpTarget {
    /// HTTPHandler's default target, `POST` to `/log` on `addr`, giving up on a connection or
    /// a reply after `timeout`.
    pub(crate) fn post_to(addr: std::net::SocketAddr, timeout: Duration) -> HttpTarget {
        HttpTarget {
            hostport: addr.to_string(),
            path: "/log".to_owned(),
            post: true,
            auth: None,
            timeout: Some(timeout),
        }
    }

    /// One connection and one request per record, waiting for the reply, as HTTPHandler does.
    /// `template` is the unformatted message and the repr of its args tuple (HTTPHandler sends
    /// `record.__dict__` before formatting); `None` sends the message with empty args.
    pub(crate) fn send(
        &self,
        r: &Record,
        template: Option<(String, String)>,
        rel_ms: f64,
    ) -> Result<usize> {
        let (msg, args) = template.unwrap_or_else(|| (r.message.clone(), "()".to_owned()));
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in encode::logrecord_dict(r, rel_ms) {
            let text = match k {
                "msg" => msg.clone(),
                "args" => args.clone(),
                _ => crate::python::py_str(&v),
            };
            pairs.push((k.to_owned(), text));
        }
        // `extra=` keys are attributes of the record, so `__dict__` carries them after the rest.
        for (k, v) in &r.extra {
            pairs.push((k.clone(), crate::python::py_str(v)));
        }
        let data = form::urlencode(&pairs);
        let mut req = if self.post {
            format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: identity\r\nContent-type: application/x-www-form-urlencoded\r\nContent-length: {}\r\n",
                self.path,
                self.hostport,
                data.len()
            )
        } else {
            let sep = if self.path.contains('?') { '&' } else { '?' };
            format!(
                "GET {}{sep}{data} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: identity\r\n",
                self.path, self.hostport
            )
        };
        if let Some(a) = &self.auth {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        req.push_str("\r\n");
        if self.post {
            req.push_str(&data);
        }
        let mut s = match self.timeout {
            None => std::net::TcpStream::connect(&self.hostport),
            Some(t) => self
                .hostport
                .parse()
                .map_err(std::io::Error::other)
                .and_then(|a: std::net::SocketAddr| std::net::TcpStream::connect_timeout(&a, t)),
        }
        .with_context(|| format!("cannot connect to {}", self.hostport))?;
        s.set_read_timeout(self.timeout)?;
        s.set_write_timeout(self.timeout)?;
        s.write_all(req.as_bytes())?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 1024];
        // Read the status line and headers; the body is empty. A reply head past 16 KiB is not
        // one logtui's listener writes: stop reading and judge the status line.
        while !reply.windows(4).any(|w| w == b"\r\n\r\n") && reply.len() < 16 * 1024 {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
        }
        let status = String::from_utf8_lossy(reply.split(|b| *b == b'\r').next().unwrap_or(b""))
            .into_owned();
        if !status.contains(" 200") {
            bail!("the listener answered '{}'", escape_controls(&status));
        }
        Ok(req.len())
    }
}
