//! The Redis pub/sub source: subscribes through redis-rs's `ConnectionManager` (RESP3 pushes)
//! and feeds the intake; survives Redis going away with confirmed resubscription and gap records.
//!
//! Two tasks. The *link* owns the connection: it subscribes (PSUBSCRIBE for patterns, SUBSCRIBE
//! for channels, SSUBSCRIBE for a cluster's sharded channels, each on its slot's owner), PINGs
//! every [`PING_EVERY`] to find a half-open link, waits for the server to confirm every
//! subscription after the manager reconnects by itself (a cluster's connection is rebuilt
//! instead), and otherwise rebuilds the connection with capped, jittered back-off, forever. The
//! connection's push sender never blocks: it puts each message into a bounded queue
//! ([`QUEUE_MESSAGES`], [`QUEUE_BYTES`]), so a slow disk never leaves Redis holding our output
//! buffer until it disconnects us; a full queue drops the message and counts it. The *reader*
//! empties that queue: decode ([`crate::decode::redis`]), undo Smarter's double publish
//! ([`Pairer`]), batch, submit. Every lost link becomes a WARNING "gap" record once the link is
//! back; every run of drops becomes a WARNING record too. Gaps are then closed from Smarter's
//! streams ([`crate::source::redis_backfill`]): on one server bounded by marks and compared
//! with what was heard; on a cluster over the loss and the resubscription, 5 s
//! wider either side, compared with the store once the reader's records are committed.

use crate::decode::redis::decode_message;
use crate::intake::{Batcher, Intake};
use crate::limits::DecodeLimits;
use crate::record::{Record, SourceKind, WARNING};
use crate::source::redis_backfill::{
    BackfillLimits, Heard, Read, Window, list_streams, read_streams, read_window, reconcile,
};
use crate::source::redis_dedupe::{Message, PairLimits, Pairer, can_carry_jobs, is_pattern};
use crate::source::redis_history;
use crate::source::{Phase, Shutdown};
use crate::stats::{RedisState, Stats};
use crate::value::Value;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the link PINGs the server: a link that died without a FIN (a cable, a NAT, a
/// suspended VM) is otherwise silent, and pub/sub has no traffic of its own to notice it by.
pub const PING_EVERY: Duration = Duration::from_secs(5);
/// How long a PING may take before the link is taken for dead and rebuilt.
pub const PING_DEADLINE: Duration = Duration::from_secs(3);
/// How long the server has to confirm every subscription after a reconnect, before the
/// connection is rebuilt from scratch (a manager that reconnected but did not resubscribe
/// would otherwise look healthy and deliver nothing).
pub const RESUBSCRIBE_DEADLINE: Duration = Duration::from_secs(5);
/// Each connection attempt's limit (TCP, TLS, HELLO, AUTH, SELECT).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The back-off between connection attempts: from this…
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// …doubling up to this, forever.
pub const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Most messages waiting between the connection and the reader.
pub const QUEUE_MESSAGES: usize = 65_536;
/// Most payload bytes waiting between the connection and the reader.
pub const QUEUE_BYTES: usize = 64 << 20;
/// Logger of the source's own records (gaps, drops).
pub const LOGGER: &str = "logtui.redis";
/// TCP keepalive: idle time before the first probe, and between probes.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// TCP_USER_TIMEOUT: unacknowledged data older than this closes the socket (Linux).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(20);
/// Most link events (confirmations, disconnects) waiting for the link: a few per reconnect
/// are expected; a server that sends more than this is not worth remembering them for.
const CONTROL_QUEUE: usize = 1024;
/// How often the reader reports drops (one record per burst, not one per message).
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);

/// What the source reads: a URL and the channels or patterns to subscribe to.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub names: Vec<String>,
    /// Sharded channels (SSUBSCRIBE; a cluster only, exact names): kept apart from `names`,
    /// which [`classify`] splits, because each is subscribed on the node owning its slot.
    pub shards: Vec<String>,
    /// Channels logtui's own routes publish to (`sink::forwarded_channels`): never read back,
    /// or each record would be stored and forwarded again, forever.
    pub skip: Vec<String>,
    /// The store, where the last mark of an earlier run is kept (`source_state`), so a gap
    /// while logtui was stopped is closed too.
    pub db: std::path::PathBuf,
}

impl Settings {
    /// Every name subscribed to, plain and sharded, as logtui names them in what it prints
    /// and in gap records.
    pub fn all_names(&self) -> Vec<String> {
        self.names.iter().chain(&self.shards).cloned().collect()
    }
}

/// The names split by command: (SUBSCRIBE channels, PSUBSCRIBE patterns), duplicates removed.
pub fn classify(names: &[String]) -> (Vec<String>, Vec<String>) {
    let mut seen = HashSet::new();
    let (mut channels, mut patterns) = (Vec::new(), Vec::new());
    for n in names.iter().filter(|n| seen.insert(n.as_str())) {
        match is_pattern(n) {
            true => patterns.push(n.clone()),
            false => channels.push(n.clone()),
        }
    }
    (channels, patterns)
}

/// The wait before connection attempt `attempt` (0 for the first retry): [`BACKOFF_MIN`]
/// doubled per attempt, capped at [`BACKOFF_MAX`], of which a random half (`jitter` in 0..1)
/// is taken off, so many logtuis that lost one Redis do not all come back at the same instant.
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let cap = BACKOFF_MIN
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_MAX);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    cap.mul_f64(1.0 - jitter / 2.0).max(BACKOFF_MIN)
}

/// A number in 0..1 that differs from call to call, for [`backoff`]'s jitter.
fn jitter() -> f64 {
    use std::hash::BuildHasher;
    let h = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The record that says messages may have been missed between `start` and `end` (epoch
/// seconds): pub/sub keeps no history, so this is all logtui can say about them.
pub fn gap_record(start: f64, end: f64, names: &[String], cause: &str) -> Record {
    let mut r = Record::internal(
        WARNING,
        LOGGER,
        format!(
            "Redis pub/sub gap: messages published on {} between {} and {} ({:.3} s) were not received: {cause}",
            names.join(", "),
            crate::timefmt::rfc3339_micros(start),
            crate::timefmt::rfc3339_micros(end),
            (end - start).max(0.0)
        ),
    );
    r.extra = vec![
        ("gap_start".to_owned(), Value::Float(start)),
        ("gap_end".to_owned(), Value::Float(end)),
        ("channels".to_owned(), Value::Str(names.join(","))),
        ("cause".to_owned(), Value::Str(cause.to_owned())),
    ];
    r
}

/// The record that says `n` messages were dropped because the queue in front of the reader
/// was full.
pub fn drop_record(n: u64) -> Record {
    let mut r = Record::internal(
        WARNING,
        LOGGER,
        format!(
            "{n} Redis messages were dropped: logtui's queue of unread messages was full ({QUEUE_MESSAGES} messages or {} MiB); the store is slower than the publishers",
            QUEUE_BYTES >> 20
        ),
    );
    r.extra = vec![("dropped".to_owned(), Value::count(n))];
    r
}

/// `url` with its password replaced by `***`, for what logtui prints.
pub fn redact(url: &str) -> String {
    if let Some(seed) = cluster_seed(url) {
        let shown = redact(&seed);
        let (cluster, plain) = CLUSTER_SCHEMES
            .iter()
            .find(|(_, p)| shown.starts_with(p))
            .copied()
            .unwrap_or(("redis+cluster://", "redis://"));
        return format!("{cluster}{}", &shown[plain.len()..]);
    }
    match redis::parse_redis_url(url) {
        Some(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Some(u) => u.to_string().trim_end_matches('/').to_owned(),
        // Never echoed: an unreadable URL may still hold a password.
        None => "(an unreadable Redis URL)".to_owned(),
    }
}

/// The client for `url`: RESP3 forced (pushes need it), TCP keepalive and TCP_USER_TIMEOUT on,
/// so the kernel also notices a dead peer.
fn client(url: &str) -> redis::RedisResult<redis::Client> {
    use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};
    let info = url.into_connection_info()?;
    let redis_settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    let tcp = TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(keepalive);
    #[cfg(target_os = "linux")]
    let tcp = tcp.set_user_timeout(TCP_USER_TIMEOUT);
    let info = info
        .set_redis_settings(redis_settings)
        .set_tcp_settings(tcp);
    redis::Client::open(info)
}

/// The scheme that names a Redis Cluster: `redis+cluster://HOST:PORT` (or `rediss+cluster://`)
/// is a seed node; the cluster tells the rest.
pub const CLUSTER_SCHEMES: [(&str, &str); 2] = [
    ("redis+cluster://", "redis://"),
    ("rediss+cluster://", "rediss://"),
];

/// The seed node's plain URL when `url` names a cluster, `None` for a single server.
pub fn cluster_seed(url: &str) -> Option<String> {
    CLUSTER_SCHEMES
        .iter()
        .find_map(|(c, plain)| url.strip_prefix(c).map(|rest| format!("{plain}{rest}")))
}

/// One server through a `ConnectionManager` (the subscriber), one server through a plain
/// multiplexed connection (commands: stream reads), or a cluster through its own connection,
/// which routes commands to the slot's owner and keeps a subscription on every node it needs.
pub enum Conn {
    Single(ConnectionManager),
    Plain(redis::aio::MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Plain(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Plain(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Plain(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Conn {
    async fn subscribe(&mut self, channels: &[String]) -> redis::RedisResult<()> {
        match self {
            Conn::Single(c) => c.subscribe(channels).await,
            Conn::Plain(c) => c.subscribe(channels).await,
            Conn::Cluster(c) => c.subscribe(channels).await,
        }
    }

    async fn psubscribe(&mut self, patterns: &[String]) -> redis::RedisResult<()> {
        match self {
            Conn::Single(c) => c.psubscribe(patterns).await,
            Conn::Plain(c) => c.psubscribe(patterns).await,
            Conn::Cluster(c) => c.psubscribe(patterns).await,
        }
    }

    async fn unsubscribe(&mut self, channels: &[String]) -> redis::RedisResult<()> {
        match self {
            Conn::Single(c) => c.unsubscribe(channels).await,
            Conn::Plain(c) => c.unsubscribe(channels).await,
            Conn::Cluster(c) => c.unsubscribe(channels).await,
        }
    }

    async fn punsubscribe(&mut self, patterns: &[String]) -> redis::RedisResult<()> {
        match self {
            Conn::Single(c) => c.punsubscribe(patterns).await,
            Conn::Plain(c) => c.punsubscribe(patterns).await,
            Conn::Cluster(c) => c.punsubscribe(patterns).await,
        }
    }

    /// SSUBSCRIBE, one channel per command: each goes to its own slot's owner, and one
    /// command naming channels of two slots is refused (CROSSSLOT).
    async fn ssubscribe(&mut self, channels: &[String]) -> redis::RedisResult<()> {
        for c in channels {
            match self {
                Conn::Single(_) | Conn::Plain(_) => return Err(no_shards_on_a_single_server()),
                Conn::Cluster(conn) => conn.ssubscribe(c).await?,
            }
        }
        Ok(())
    }

    async fn sunsubscribe(&mut self, channels: &[String]) -> redis::RedisResult<()> {
        for c in channels {
            match self {
                Conn::Single(_) | Conn::Plain(_) => return Err(no_shards_on_a_single_server()),
                Conn::Cluster(conn) => conn.sunsubscribe(c).await?,
            }
        }
        Ok(())
    }

    fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    /// Whether marks bound what was delivered: on a cluster, messages published on other
    /// nodes reach this subscriber over the cluster bus, in no order relative to a mark (a
    /// cluster's gap is compared with the store instead: `Backfill::start_cluster_gap`).
    fn marks_are_exact(&self) -> bool {
        !self.is_cluster()
    }
}

/// The configuration check refuses sharded channels on a single server; this is what the link
/// says should one get this far anyway.
fn no_shards_on_a_single_server() -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "sharded channels are read from a Redis Cluster only",
    ))
}

/// Installs rustls's ring provider for `rediss://`, once per process (a second install is a
/// harmless no-op error).
fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One pub/sub message as the push sender queues it.
struct Queued {
    channel: String,
    payload: Vec<u8>,
    full_len: usize,
    /// A mark passing through in message order (server ms), instead of a message.
    mark: Option<u64>,
    /// A commit barrier, instead of a message: answered once everything queued before it has
    /// left the pairing and been handed to the intake ([`Backfill::settled`]).
    barrier: Option<tokio::sync::oneshot::Sender<()>>,
}

/// What the push sender tells the link (never dropped for lack of room in the data queue).
enum Control {
    /// A mark closed the uncertain window: the streams may hold what pub/sub did not bring
    /// (`Err` when it opened before the first mark, so there is nothing to compare with).
    Window(Result<Box<Window>, ()>),
    /// This run's first mark (server ms): where a gap left by an earlier run ends.
    FirstMark(u64),
    Confirmed(String),
    /// The server confirmed an UNSUBSCRIBE, PUNSUBSCRIBE or SUNSUBSCRIBE of this name (or, for
    /// a sharded channel, dropped it itself: its slot moved to another node).
    Left(String),
    Disconnected,
}

/// The push sender's side of the two queues.
struct Pusher {
    data: mpsc::Sender<Queued>,
    control: mpsc::Sender<Control>,
    bytes: Arc<AtomicUsize>,
    stats: Arc<Stats>,
    max_frame: usize,
    skip: HashSet<Vec<u8>>,
    /// The private channel marks come on, and what was heard between them.
    mark: Vec<u8>,
    heard: std::sync::Mutex<Heard>,
    first_mark: std::sync::atomic::AtomicBool,
}

impl Pusher {
    /// Called by the connection for each push; must not block (it reads the socket).
    fn push(&self, info: PushInfo) {
        let PushInfo { kind, data } = info;
        match kind {
            PushKind::Message | PushKind::PMessage | PushKind::SMessage => {
                // message and smessage: [channel, payload]; pmessage: [pattern, channel, payload].
                let mut it = data.into_iter().rev();
                let (Some(payload), Some(channel)) = (it.next(), it.next()) else {
                    return;
                };
                let (Some(mut payload), Some(channel)) = (bytes_of(payload), bytes_of(channel))
                else {
                    return;
                };
                if channel == self.mark {
                    self.take_mark(&payload);
                    return;
                }
                self.stats.redis.messages.fetch_add(1, Relaxed);
                if !self.skip.is_empty() && self.skip.contains(&channel) {
                    self.stats.add_ignored(SourceKind::Redis, 1);
                    return;
                }
                let full_len = payload.len();
                // An oversized message is kept only in part: the decoder stores it as
                // undecodable, and the queue's byte bound counts only what is kept.
                payload.truncate(self.max_frame.saturating_add(1));
                payload.shrink_to_fit();
                let channel = String::from_utf8(channel)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                let size = payload.len() + channel.len();
                if self.bytes.fetch_add(size, Relaxed) + size > QUEUE_BYTES {
                    self.bytes.fetch_sub(size, Relaxed);
                    self.dropped();
                    return;
                }
                // Noted before it is queued: a mark read after this push counts it as heard.
                let noted = self.heard().note(&channel, &payload);
                let q = Queued {
                    channel,
                    payload,
                    full_len,
                    mark: None,
                    barrier: None,
                };
                if self.data.try_send(q).is_err() {
                    self.bytes.fetch_sub(size, Relaxed);
                    if noted {
                        // Nothing was noted since: pushes come one at a time.
                        self.heard().unnote_last();
                    }
                    self.dropped();
                }
            }
            PushKind::Subscribe | PushKind::PSubscribe | PushKind::SSubscribe => {
                if let Some(name) = data.into_iter().next().and_then(bytes_of) {
                    let name = String::from_utf8_lossy(&name).into_owned();
                    let _ = self.control.try_send(Control::Confirmed(name));
                }
            }
            PushKind::Unsubscribe | PushKind::PUnsubscribe | PushKind::SUnsubscribe => {
                if let Some(name) = data.into_iter().next().and_then(bytes_of) {
                    let name = String::from_utf8_lossy(&name).into_owned();
                    let _ = self.control.try_send(Control::Left(name));
                }
            }
            PushKind::Disconnection => {
                self.heard().lost(true);
                let _ = self.control.try_send(Control::Disconnected);
            }
            _ => {}
        }
    }

    fn heard(&self) -> std::sync::MutexGuard<'_, Heard> {
        // A panic while holding it leaves only fingerprints behind: still usable.
        self.heard.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn dropped(&self) {
        self.stats.redis.dropped.fetch_add(1, Relaxed);
        self.heard().lost(false);
    }

    /// A mark: the server time (ms) read just before it was published.
    fn take_mark(&self, payload: &[u8]) {
        let Some(ms) = std::str::from_utf8(payload)
            .ok()
            .and_then(|s| s.parse().ok())
        else {
            return;
        };
        let closed = self.heard().mark(ms);
        if let Some(w) = closed {
            let _ = self.control.try_send(Control::Window(w.map(Box::new)));
        }
        if !self.first_mark.swap(true, Relaxed) {
            let _ = self.control.try_send(Control::FirstMark(ms));
        }
        // In the data queue too, so the reader keeps it with the records that came before it.
        let _ = self.data.try_send(Queued {
            channel: String::new(),
            payload: Vec::new(),
            full_len: 0,
            mark: Some(ms),
            barrier: None,
        });
    }
}

/// How often the link publishes a mark on its private channel while subscribed: the uncertain
/// window after a failure starts at most this long before it.
pub const MARK_EVERY: Duration = Duration::from_millis(250);

/// Most messages remembered over two mark periods (16 bytes each, 4 MiB in all): 2.7 times
/// what 190,000 messages a second bring in that time.
const HEARD_LIMIT: usize = 1 << 18;

/// A channel of this process's own for marks: a name nobody else publishes on.
fn mark_channel() -> String {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    format!("logtui:mark:{r:016x}")
}

/// Reads `TIME` and publishes it on the mark channel. Messages published before `TIME` ran
/// reach the subscriber before the mark (Redis writes a client's pushes in order).
async fn publish_mark(manager: &mut Conn, channel: &str) -> redis::RedisResult<()> {
    let ms = server_ms(manager).await?;
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(ms.to_string())
        .query_async::<i64>(manager)
        .await
        .map(drop)
}

/// The server's clock (`TIME`), in ms.
async fn server_ms<C: ConnectionLike + Send>(con: &mut C) -> redis::RedisResult<u64> {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(con).await?;
    Ok(secs.saturating_mul(1000).saturating_add(micros / 1000))
}

fn bytes_of(v: redis::Value) -> Option<Vec<u8>> {
    match v {
        redis::Value::BulkString(b) => Some(b),
        redis::Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    }
}

/// Starts the source's two tasks. The state shows `connecting` at once; logtui never waits for
/// Redis to start.
pub fn spawn(
    settings: Settings,
    limits: DecodeLimits,
    intake: Intake,
    link_shutdown: Shutdown,
    reader_shutdown: Shutdown,
) {
    install_crypto();
    let stats = intake.stats.clone();
    stats.redis.set_state(RedisState::Connecting);
    let mark = mark_channel();
    let (data_tx, data_rx) = mpsc::channel(QUEUE_MESSAGES);
    let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
    let bytes = Arc::new(AtomicUsize::new(0));
    let pusher = Arc::new(Pusher {
        data: data_tx,
        control: control_tx,
        bytes: bytes.clone(),
        stats: stats.clone(),
        max_frame: limits.max_frame,
        skip: settings
            .skip
            .iter()
            .map(|c| c.as_bytes().to_vec())
            .collect(),
        mark: mark.as_bytes().to_vec(),
        heard: std::sync::Mutex::new(Heard::new(HEARD_LIMIT)),
        first_mark: std::sync::atomic::AtomicBool::new(false),
    });
    let backfill = Backfill {
        url: settings.url.clone(),
        // Sharded channels' streams too (a cluster's gap reads them; a single server has none).
        names: settings.all_names(),
        skip: settings.skip.clone(),
        intake: intake.clone(),
        limits,
        one_at_a_time: Arc::new(tokio::sync::Semaphore::new(1)),
        db: settings.db.clone(),
        data: pusher.data.downgrade(),
    };
    let hold = can_carry_jobs(&settings.all_names());
    let reader = Reader {
        intake: intake.clone(),
        bytes,
        pairer: Pairer::new(PairLimits::default(), hold),
        out: Decoded {
            limits,
            stats: intake.stats.clone(),
            batch: Batcher::default(),
            pending: Vec::new(),
        },
        reported_drops: 0,
        mark_key: mark_key(&settings.url),
        mark: None,
        barriers: std::collections::VecDeque::new(),
    };
    // The link drops this when it ends: the reader's sign that nothing more will come.
    let (link_done, link_ended) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(reader.run(data_rx, link_ended, reader_shutdown));
    tokio::spawn(async move {
        let subs: Vec<String> = settings
            .names
            .iter()
            .cloned()
            .chain([mark.clone()])
            .collect();
        let (db, url) = (settings.db.clone(), settings.url.clone());
        let kept = tokio::task::spawn_blocking(move || kept_mark(&db, &url))
            .await
            .ok()
            .flatten();
        let mut seen = HashSet::new();
        let shards: Vec<String> = settings
            .shards
            .iter()
            .filter(|s| seen.insert(s.as_str()))
            .cloned()
            .collect();
        let link = Link {
            settings,
            subs,
            shards,
            mark,
            backfill,
            kept,
        };
        link.run(pusher, control_rx, intake, link_shutdown).await;
        drop(link_done);
    });
}

/// Why a link ended.
enum Lost {
    Shutdown,
    /// The link is gone since the time given (epoch seconds); the cause, in a few words.
    Cause(f64, String),
}

/// What the link keeps: the user's settings, everything it subscribes to (their names and the
/// mark channel), and the backfill it starts when a window closes.
struct Link {
    settings: Settings,
    subs: Vec<String>,
    /// The sharded channels, duplicates removed.
    shards: Vec<String>,
    mark: String,
    backfill: Backfill,
    /// The mark an earlier run kept: where the gap it left begins.
    kept: Option<u64>,
}

impl Link {
    /// Keeps a subscribed connection, forever or until shutdown.
    async fn run(
        self,
        pusher: Arc<Pusher>,
        mut control: mpsc::Receiver<Control>,
        intake: Intake,
        mut shutdown: Shutdown,
    ) {
        let settings = &self.settings;
        let stats = intake.stats.clone();
        let shown = redact(&settings.url);
        // When the messages stopped arriving, and why, while the link is down.
        let mut gap: Option<(f64, String)> = None;
        let mut attempt = 0u32;
        loop {
            let connected = tokio::select! {
                r = connect(settings, &self.subs, &self.shards, &pusher) => r,
                _ = shutdown.reached(Phase::Draining) => return,
            };
            let mut manager = match connected {
                Ok(m) => m,
                Err(e) => {
                    if attempt == 0 || attempt.is_multiple_of(10) {
                        tracing::warn!("redis {shown}: cannot subscribe: {e}; retrying");
                    }
                    stats.redis.set_state(RedisState::Reconnecting);
                    let wait = backoff(attempt, jitter());
                    attempt = attempt.saturating_add(1);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => continue,
                        _ = shutdown.reached(Phase::Draining) => return,
                    }
                }
            };
            // Confirmations of this connection's subscriptions came as replies; forget their
            // pushes so they are not taken for a later resubscription's.
            while let Ok(c) = control.try_recv() {
                if let Control::Window(w) = c {
                    self.backfill.start(w);
                }
            }
            // Everything is subscribed again: the next quiet mark closes the window.
            pusher.heard().resumed();
            attempt = 0;
            stats.redis.set_state(RedisState::Subscribed);
            let all = settings.all_names();
            tracing::info!("redis {shown}: subscribed to {}", all.join(", "));
            if let Some((start, cause)) = gap.take() {
                store_gap(&intake, start, &all, &cause).await;
                // On a cluster no mark bounds the window (see `marks_are_exact`): the span
                // from the loss to now is compared with the store instead.
                if manager.is_cluster() {
                    self.backfill
                        .start_cluster_gap(start, crate::record::now_epoch());
                }
            }
            match self
                .serve(&pusher, &mut manager, &mut control, &intake, &mut shutdown)
                .await
            {
                Lost::Shutdown => return,
                Lost::Cause(start, cause) => {
                    pusher.heard().lost(true);
                    tracing::warn!("redis {shown}: {cause}; rebuilding the connection");
                    stats.redis.set_state(RedisState::Reconnecting);
                    gap = Some((start, cause));
                }
            }
        }
    }
}

/// A new manager, subscribed and confirmed (each subscribe returns once the server replied).
async fn connect(
    settings: &Settings,
    subs: &[String],
    shards: &[String],
    pusher: &Arc<Pusher>,
) -> Result<Conn, String> {
    if let Some(seed) = cluster_seed(&settings.url) {
        return connect_cluster(&seed, subs, shards, pusher).await;
    }
    if !shards.is_empty() {
        return Err(no_shards_on_a_single_server().to_string());
    }
    let client = client(&settings.url).map_err(|e| e.to_string())?;
    let p = pusher.clone();
    let config = ConnectionManagerConfig::new()
        .set_push_sender(move |info: PushInfo| {
            p.push(info);
            Ok::<(), std::convert::Infallible>(())
        })
        .set_automatic_resubscription()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        // Longer than the PING deadline, so a silent server is found by that deadline (and
        // named so), not by the crate's timeout.
        .set_response_timeout(Some(PING_DEADLINE * 2))
        // The manager's own reconnect (after a disconnect) tries a few times, quickly; if
        // that does not bring the subscriptions back, the link rebuilds with its back-off.
        .set_number_of_retries(3)
        .set_min_delay(BACKOFF_MIN)
        .set_max_delay(Duration::from_secs(1));
    let attempt = async {
        let mut m = ConnectionManager::new_with_config(client, config).await?;
        let (channels, patterns) = classify(subs);
        if !channels.is_empty() {
            m.subscribe(&channels).await?;
        }
        if !patterns.is_empty() {
            m.psubscribe(&patterns).await?;
        }
        Ok::<_, redis::RedisError>(Conn::Single(m))
    };
    match tokio::time::timeout(CONNECT_TIMEOUT + PING_DEADLINE, attempt).await {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(e)) => Err(describe(&e)),
        // A plain-text server reads a TLS ClientHello as the start of a command and waits
        // for its end: the handshake gets no answer at all, so say what that usually means.
        Err(_) if settings.url.starts_with("rediss:") => Err(format!(
            "no answer to the TLS handshake within {} s (is the server speaking TLS? rediss:// needs it; use redis:// for a plain-text server)",
            (CONNECT_TIMEOUT + PING_DEADLINE).as_secs()
        )),
        Err(_) => Err("no answer while connecting and subscribing".to_owned()),
    }
}

/// A cluster connection from one seed, subscribed (RESP3 pushes; the crate resubscribes on
/// the nodes it reconnects to).
async fn connect_cluster(
    seed: &str,
    subs: &[String],
    shards: &[String],
    pusher: &Arc<Pusher>,
) -> Result<Conn, String> {
    let client = cluster_client(seed, Some(pusher.clone())).map_err(|e| describe(&e))?;
    let attempt = async {
        let mut c = Conn::Cluster(client.get_async_connection().await?);
        let (channels, patterns) = classify(subs);
        if !channels.is_empty() {
            c.subscribe(&channels).await?;
        }
        if !patterns.is_empty() {
            c.psubscribe(&patterns).await?;
        }
        c.ssubscribe(shards).await?;
        Ok::<_, redis::RedisError>(c)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT + PING_DEADLINE, attempt).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err("no answer from the cluster while connecting and subscribing".to_owned()),
    }
}

/// The cluster client from one seed, RESP3 (pushes need it), with the source's timeouts; its
/// pushes go to `pusher`, when given (a command connection has none).
fn cluster_client(
    seed: &str,
    pusher: Option<Arc<Pusher>>,
) -> redis::RedisResult<redis::cluster::ClusterClient> {
    let b = redis::cluster::ClusterClientBuilder::new(vec![seed])
        .use_protocol(ProtocolVersion::RESP3)
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(PING_DEADLINE * 2);
    match pusher {
        Some(p) => b
            .push_sender(move |info: PushInfo| {
                p.push(info);
                Ok::<(), std::convert::Infallible>(())
            })
            .build(),
        None => b.build(),
    }
}

/// One sentence for a connection error.
fn describe(e: &redis::RedisError) -> String {
    let s = e.to_string();
    if s.contains("InvalidContentType") || s.contains("CorruptMessage") {
        format!("TLS handshake failed (is the server speaking TLS? rediss:// needs it): {s}")
    } else {
        s
    }
}

impl Link {
    /// Watches one connected manager: PINGs, marks, disconnects, confirmations, closed windows.
    /// Returns when the link is lost for good (the caller rebuilds) or on shutdown.
    async fn serve(
        &self,
        pusher: &Pusher,
        manager: &mut Conn,
        control: &mut mpsc::Receiver<Control>,
        intake: &Intake,
        shutdown: &mut Shutdown,
    ) -> Lost {
        let settings = &self.settings;
        let stats = intake.stats.clone();
        // Every name whose confirmation a resubscription waits for, sharded ones included.
        let names: HashSet<&str> = self
            .subs
            .iter()
            .chain(&self.shards)
            .map(String::as_str)
            .collect();
        let shards: HashSet<&str> = self.shards.iter().map(String::as_str).collect();
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let mut marks = tokio::time::interval(MARK_EVERY);
        marks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut mark_failed = false;
        // Set while the manager reconnects by itself: since when, why, what it confirmed so far,
        // and by when it must have confirmed everything.
        let mut resub: Option<(f64, Instant, HashSet<String>)> = None;
        loop {
            let deadline = resub.as_ref().map(|(_, d, _)| *d);
            tokio::select! {
                _ = shutdown.reached(Phase::Draining) => {
                    unsubscribe(&self.subs, &self.shards, manager, control).await;
                    return Lost::Shutdown;
                }
                c = control.recv() => match c {
                    None => return Lost::Cause(
                        crate::record::now_epoch(),
                        "the connection's push channel closed".to_owned(),
                    ),
                    // A cluster connection resubscribes only what the lost node held, and
                    // which names those were is the crate's to know: waiting for all of them
                    // would only wait out the deadline. A fresh connection subscribes all.
                    Some(Control::Disconnected) if manager.is_cluster() => {
                        return Lost::Cause(
                            crate::record::now_epoch(),
                            "the connection to a cluster node was lost".to_owned(),
                        );
                    }
                    Some(Control::Disconnected) => {
                        if resub.is_none() {
                            stats.redis.set_state(RedisState::Reconnecting);
                            resub = Some((
                                crate::record::now_epoch(),
                                Instant::now() + RESUBSCRIBE_DEADLINE,
                                HashSet::new(),
                            ));
                        }
                    }
                    // Nothing is unsubscribed while serving: a sharded channel left is one the
                    // server dropped because its slot moved, and the crate forgets it too. A new
                    // connection subscribes it on its new owner.
                    Some(Control::Left(name)) if shards.contains(name.as_str()) => {
                        return Lost::Cause(crate::record::now_epoch(), format!(
                            "the cluster dropped the subscription to sharded channel {name} (its slot moved to another node)"
                        ));
                    }
                    Some(Control::Left(_)) => {}
                    Some(Control::Window(w)) => self.backfill.start(w),
                Some(Control::FirstMark(ms)) => {
                    if let Some(from) = self.kept.filter(|&f| f < ms) {
                        self.backfill.start_restart(from, ms);
                    }
                }
                    Some(Control::Confirmed(name)) => {
                        if let Some((start, _, confirmed)) = &mut resub {
                            if names.contains(name.as_str()) {
                                confirmed.insert(name);
                            }
                            if confirmed.len() == names.len() {
                                let start = *start;
                                resub = None;
                                pusher.heard().resumed();
                                stats.redis.set_state(RedisState::Subscribed);
                                store_gap(intake, start, &settings.all_names(), "the connection to Redis was lost").await;
                            }
                        }
                    }
                },
                _ = sleep_until_opt(deadline) => {
                    // The manager reconnected without resubscribing, or never reconnected.
                    let start = resub.take().map_or_else(crate::record::now_epoch, |(s, ..)| s);
                    return Lost::Cause(start, format!(
                        "the connection to Redis was lost and the subscriptions were not confirmed within {} s",
                        RESUBSCRIBE_DEADLINE.as_secs()
                    ));
                }
                _ = marks.tick(), if resub.is_none() && manager.marks_are_exact() => {
                    match tokio::time::timeout(PING_DEADLINE, publish_mark(manager, &self.mark)).await {
                        Ok(Ok(())) => mark_failed = false,
                        // Without marks a gap cannot be closed from the streams; the PING below
                        // finds a dead link, so this only says why once.
                        Ok(Err(e)) if !mark_failed => {
                            mark_failed = true;
                            tracing::warn!("redis: cannot mark the stream position (TIME, PUBLISH): {e}; gaps will not be closed from streams");
                        }
                        _ => {}
                    }
                }
                _ = ping.tick(), if resub.is_none() => {
                    let cmd = redis::cmd("PING");
                    let pong = tokio::time::timeout(PING_DEADLINE, cmd.query_async::<redis::Value>(manager));
                    match pong.await {
                        Ok(Ok(_)) => {}
                        // Whatever failed (the link dropped, the server answers nothing useful),
                        // a fresh connection is the one way back that is sure to resubscribe.
                        Ok(Err(e)) => {
                            return Lost::Cause(crate::record::now_epoch(), format!("PING failed: {e}"));
                        }
                        Err(_) => {
                            return Lost::Cause(crate::record::now_epoch(), format!(
                                "no answer to PING within {} s (the link is half-open)",
                                PING_DEADLINE.as_secs()
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// Unsubscribes everything, waiting (briefly) for Redis to confirm. The confirmations come
/// after every message Redis sent before them, and reach the push sender in that order (the
/// command's own reply may come sooner: the manager forwards pushes through a task of its
/// own), so once the push sender has seen each one, those messages are all in the queue.
async fn unsubscribe(
    subs: &[String],
    shards: &[String],
    manager: &mut Conn,
    control: &mut mpsc::Receiver<Control>,
) {
    let (channels, patterns) = classify(subs);
    let done = async {
        if !channels.is_empty() {
            manager.unsubscribe(&channels).await?;
        }
        if !patterns.is_empty() {
            manager.punsubscribe(&patterns).await?;
        }
        manager.sunsubscribe(shards).await?;
        let mut left = HashSet::new();
        while left.len() < channels.len() + patterns.len() + shards.len() {
            match control.recv().await {
                Some(Control::Left(name)) => {
                    left.insert(name);
                }
                Some(_) => {}
                None => break,
            }
        }
        Ok::<_, redis::RedisError>(())
    };
    match tokio::time::timeout(PING_DEADLINE, done).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("redis: unsubscribing at shutdown failed: {e}"),
        Err(_) => tracing::debug!("redis: no answer to UNSUBSCRIBE at shutdown"),
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Closes windows from the streams: reads them on a connection of its own, stores what pub/sub
/// did not deliver, and says what it recovered and what it could not.
struct Backfill {
    url: String,
    names: Vec<String>,
    skip: Vec<String>,
    intake: Intake,
    limits: DecodeLimits,
    /// Windows are closed one after another, so two never read the same entries at once.
    one_at_a_time: Arc<tokio::sync::Semaphore>,
    db: std::path::PathBuf,
    /// The reader's queue, for commit barriers ([`Backfill::settled`]); weak, so it does not
    /// keep the reader waiting for more once the link has gone.
    data: mpsc::WeakSender<Queued>,
}

impl Backfill {
    /// Closes a window this run listened to: what it heard tells what pub/sub delivered.
    fn start(&self, w: Result<Box<Window>, ()>) {
        let Ok(w) = w else {
            tracing::debug!(
                "redis: a gap opened before the first mark; it cannot be closed from streams"
            );
            return;
        };
        self.spawn(*w, None, None, "");
    }

    /// Closes the span from an earlier run's last kept mark to this run's first: nobody heard
    /// it, so its entries are compared with the store (as a job's history is). What this run
    /// heard before its first mark is in the reader's queue ahead of the barrier the
    /// comparison waits for (`settled`), so it is committed before the store is read.
    fn start_restart(&self, from: u64, to: u64) {
        let w = Window::unheard(from, to);
        self.spawn(
            w,
            Some(self.db.clone()),
            None,
            " (while logtui was stopped)",
        );
    }

    /// Closes a gap on a cluster, from the loss (`start`) to the resubscription (`end`), both
    /// local epoch seconds: nothing marks it exactly, so its entries are compared with the
    /// store, over [`CLUSTER_GAP_MARGIN_MS`] more either side for the nodes' clocks.
    fn start_cluster_gap(&self, start: f64, end: f64) {
        let ms = |t: f64| (t.max(0.0) * 1000.0) as u64;
        let from = ms(start).saturating_sub(CLUSTER_GAP_MARGIN_MS);
        let to = ms(end).saturating_add(CLUSTER_GAP_MARGIN_MS);
        // Why nothing is stored twice: an entry of the window (id < `to`) was published when
        // its node's clock read less than `to`. The read waits until every primary's `TIME`
        // is `CLUSTER_SETTLE_MS` past `to`, so each such entry's pub/sub copy, if this
        // subscriber got it, has crossed the bus and is in the reader's queue; the comparison
        // then waits for a barrier through that queue and a flush (`settled`), so those
        // copies are committed before the store is read. Records delivered in the pairing's
        // hold or the persister's buffer (up to a flush interval) are therefore found.
        let settle = to.saturating_add(CLUSTER_SETTLE_MS);
        self.spawn(
            Window::unheard(from, to),
            Some(self.db.clone()),
            Some(settle),
            " (a cluster gap, compared with the store)",
        );
    }

    /// Waits until every record the reader was handed before this call is committed: a
    /// barrier through the reader's own queue comes out behind every message queued before it,
    /// and is answered only once those messages have left the pairing (its hold, 100 ms) and
    /// been submitted; the flush asked for then commits them (the intake is one ordered queue,
    /// and the persister commits its whole buffer). `Err` when logtui is stopping or the store
    /// cannot commit.
    async fn settled(data: &mpsc::WeakSender<Queued>, intake: &Intake) -> Result<(), String> {
        let stopping = || "logtui is stopping".to_owned();
        let tx = data.upgrade().ok_or_else(stopping)?;
        let (barrier, passed) = tokio::sync::oneshot::channel();
        let q = Queued {
            channel: String::new(),
            payload: Vec::new(),
            full_len: 0,
            mark: None,
            barrier: Some(barrier),
        };
        tx.send(q).await.map_err(|_| stopping())?;
        drop(tx);
        passed.await.map_err(|_| stopping())?;
        match intake.flush().await {
            true => Ok(()),
            false => Err("the store did not commit what pub/sub had delivered".to_owned()),
        }
    }

    /// Reads `w` back, keeps what is missing (from what was heard, and from the store at
    /// `against` when given), stores it and the record saying how it went. `settle`: read only
    /// once every node's clock is past this (server ms).
    fn spawn(
        &self,
        w: Window,
        against: Option<std::path::PathBuf>,
        settle: Option<u64>,
        said: &'static str,
    ) {
        let (url, names, skip) = (self.url.clone(), self.names.clone(), self.skip.clone());
        let (intake, limits, gate) = (self.intake.clone(), self.limits, self.one_at_a_time.clone());
        let data = self.data.clone();
        tokio::spawn(async move {
            let _turn = gate.acquire_owned().await;
            let (records, mut note) = match close_window(&url, &names, &skip, &w, settle).await {
                Ok((messages, read)) => {
                    let records: Vec<Record> = messages
                        .iter()
                        .map(|m| decode_message(&m.channel, &m.payload, m.full_len, &limits).record)
                        .collect();
                    let kept = match against {
                        None => Ok(records),
                        Some(db) => compare_with_store(db, records, &w, &data, &intake).await,
                    };
                    match kept {
                        Ok(r) => {
                            let note = backfill_record(&w, r.len(), &read, None);
                            (r, note)
                        }
                        Err(e) => (Vec::new(), backfill_record(&w, 0, &read, Some(&e))),
                    }
                }
                Err(e) => (
                    Vec::new(),
                    backfill_record(&w, 0, &Read::default(), Some(&e)),
                ),
            };
            note.message.push_str(said);
            tracing::info!("{}", note.message);
            redis_history::store_recovered(&intake, records, Some(note)).await;
        });
    }
}

/// The `source_state` key of the last mark whose messages are committed, per server (the
/// password left out).
fn mark_key(url: &str) -> String {
    format!("redis:mark:{}", redact(url))
}

/// How much earlier than a mark the kept one is: a global copy may still wait in the pairing
/// (100 ms) when its mark's batch commits; an earlier start costs only a longer read.
const MARK_MARGIN_MS: u64 = 5_000;

/// The mark an earlier run kept in the store, if any.
fn kept_mark(db: &std::path::Path, url: &str) -> Option<u64> {
    let conn = crate::store::open_read_only(db).ok()?;
    crate::store::state::get(&conn, &mark_key(url))
        .ok()??
        .parse()
        .ok()
}

/// A plain (not subscribed) connection for reading streams, with the source's own client
/// settings; `CONNECT_TIMEOUT` to answer. On a cluster URL, a cluster connection: each key's
/// commands (a job stream's XREVRANGE) go to the node that owns its slot.
pub async fn command_connection(url: &str) -> Result<Conn, String> {
    match cluster_seed(url) {
        Some(seed) => within_connect_timeout(url, async {
            cluster_client(&seed, None)?.get_async_connection().await
        })
        .await
        .map(Conn::Cluster),
        None => plain_connection(url).await.map(Conn::Plain),
    }
}

/// `connecting` to `url`, given `CONNECT_TIMEOUT` to answer; its error as one sentence.
async fn within_connect_timeout<T>(
    url: &str,
    connecting: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err(format!(
            "no answer from {} within {} s",
            redact(url),
            CONNECT_TIMEOUT.as_secs()
        )),
    }
}

/// How far a cluster gap's window reaches beyond the loss and the resubscription (local
/// clock) on either side: the nodes' clocks, which stamp the entries, are not logtui's.
const CLUSTER_GAP_MARGIN_MS: u64 = MARK_MARGIN_MS;
/// How long after a cluster gap's window every primary's clock must be before it is read:
/// the pub/sub copy of its last entry crosses the cluster bus and reaches the reader's queue
/// well within this.
const CLUSTER_SETTLE_MS: u64 = 1_000;
/// Most a cluster gap waits for a node's clock to pass its window (a node this far behind
/// logtui's clock would otherwise hold the backfill forever).
const CLUSTER_SETTLE_MAX: Duration = Duration::from_secs(30);

/// The records of `records` the store at `db` does not hold, once what pub/sub delivered
/// before now is committed ([`Backfill::settled`]): without that wait, a record of the window
/// that came by pub/sub but still sat in the pairing or the persister's buffer would be
/// stored again.
async fn compare_with_store(
    db: std::path::PathBuf,
    records: Vec<Record>,
    w: &Window,
    data: &mpsc::WeakSender<Queued>,
    intake: &Intake,
) -> Result<Vec<Record>, String> {
    Backfill::settled(data, intake).await?;
    // A second either side, and no less than the records' own times: the senders' clocks
    // are not the server's, and a record's stored copy has its sender's time.
    let t = |ms: u64| ms as f64 / 1000.0;
    let lo = records
        .iter()
        .map(|r| r.created)
        .fold(t(w.from) - 1.0, f64::min);
    let hi = records
        .iter()
        .map(|r| r.created)
        .fold(t(w.to) + 1.0, f64::max);
    redis_history::not_stored(db, None, records, lo, hi).await
}

/// A plain multiplexed connection to one server, with the source's client settings, within
/// `CONNECT_TIMEOUT`.
async fn plain_connection(url: &str) -> Result<redis::aio::MultiplexedConnection, String> {
    within_connect_timeout(url, async {
        client(url)?.get_multiplexed_async_connection().await
    })
    .await
}

/// Reads `w`'s entries on a cluster: `SCAN` lists one node's keys, so the streams are listed
/// on each primary `CLUSTER NODES` names (on a connection of its own), and read through the
/// cluster connection, which sends each `XRANGE` to its key's owner. With `settle`, waits
/// first until every primary's clock is past it (server ms).
async fn read_cluster_window(
    con: &mut Conn,
    url: &str,
    names: &[String],
    skip: &[String],
    w: &Window,
    settle: Option<u64>,
    limits: BackfillLimits,
) -> Result<Read, String> {
    let seed = cluster_seed(url).ok_or_else(|| format!("{} is not a cluster", redact(url)))?;
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(con)
        .await
        .map_err(|e| describe(&e))?;
    let urls =
        crate::source::redis_topology::primary_urls(&seed, &nodes).map_err(|e| describe(&e))?;
    let mut primaries = Vec::with_capacity(urls.len());
    for u in &urls {
        primaries.push(plain_connection(u).await?);
    }
    if let Some(settle) = settle {
        wait_for_clocks(&mut primaries, settle).await?;
    }
    let mut keys = Vec::new();
    for p in &mut primaries {
        keys.extend(
            list_streams(p, names, limits)
                .await
                .map_err(|e| describe(&e))?,
        );
    }
    read_streams(con, keys, skip, w.from, w.to, limits)
        .await
        .map_err(|e| describe(&e))
}

/// Waits until every node's `TIME` is at least `ms`, polling; at most [`CLUSTER_SETTLE_MAX`]
/// beyond when logtui's own clock passes it.
async fn wait_for_clocks(
    nodes: &mut [redis::aio::MultiplexedConnection],
    ms: u64,
) -> Result<(), String> {
    let ahead =
        Duration::from_millis(ms.saturating_sub((crate::record::now_epoch() * 1000.0) as u64));
    let deadline = Instant::now() + ahead + CLUSTER_SETTLE_MAX;
    loop {
        let mut behind = 0u64;
        for n in nodes.iter_mut() {
            let now = server_ms(n).await.map_err(|e| describe(&e))?;
            behind = behind.max(ms.saturating_sub(now));
        }
        if behind == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "a node's clock stayed {behind} ms behind the end of the window; it was not read"
            ));
        }
        tokio::time::sleep(Duration::from_millis(behind.clamp(10, 250))).await;
    }
}

/// Reads `w`'s entries and keeps those pub/sub did not deliver (`settle`: see
/// [`read_cluster_window`]).
async fn close_window(
    url: &str,
    names: &[String],
    skip: &[String],
    w: &Window,
    settle: Option<u64>,
) -> Result<(Vec<Message>, Read), String> {
    let mut con = command_connection(url).await?;
    let limits = BackfillLimits::default();
    let mut read = match con.is_cluster() {
        true => read_cluster_window(&mut con, url, names, skip, w, settle, limits).await?,
        false => read_window(&mut con, names, skip, w.from, w.to, limits)
            .await
            .map_err(|e| describe(&e))?,
    };
    if w.overflowed {
        return Ok((Vec::new(), read));
    }
    let entries = std::mem::take(&mut read.entries);
    Ok((reconcile(w, entries), read))
}

/// The record that says how a window was closed: what came back from the streams, and what
/// could not (trimmed entries, limits reached, an error).
pub fn backfill_record(w: &Window, recovered: usize, read: &Read, error: Option<&str>) -> Record {
    let t = |ms: u64| ms as f64 / 1000.0;
    let mut problems: Vec<String> = read
        .trimmed
        .iter()
        .map(|x| match x.first_kept {
            Some(k) => format!(
                "{} lost up to {} entries to trimming before {k}",
                x.stream, x.at_most
            ),
            None => format!("{} lost up to {} entries to trimming", x.stream, x.at_most),
        })
        .collect();
    problems.extend(read.cut_short.iter().cloned());
    if w.overflowed {
        problems.push("too many messages arrived while the gap was open to tell which were missed; nothing was stored from the streams".into());
    }
    if let Some(e) = error {
        problems.push(format!("the streams could not be read: {e}"));
    }
    let span = format!(
        "{} to {}",
        crate::timefmt::rfc3339_micros(t(w.from)),
        crate::timefmt::rfc3339_micros(t(w.to))
    );
    let (level, message) = match problems.is_empty() {
        true => (
            crate::record::INFO,
            format!(
                "Redis gap closed from streams: {recovered} records pub/sub had not delivered were recovered from {} streams ({span})",
                read.streams
            ),
        ),
        false => (
            WARNING,
            format!(
                "Redis gap only partly closed from streams: {recovered} records recovered from {} streams ({span}); {}",
                read.streams,
                problems.join("; ")
            ),
        ),
    };
    let mut r = Record::internal(level, LOGGER, message);
    r.extra = vec![
        ("window_start".to_owned(), Value::Float(t(w.from))),
        ("window_end".to_owned(), Value::Float(t(w.to))),
        ("recovered".to_owned(), Value::count(recovered)),
        ("streams_read".to_owned(), Value::count(read.streams)),
        (
            "unrecovered".to_owned(),
            Value::List(problems.into_iter().map(Value::Str).collect()),
        ),
    ];
    r
}

/// Stores a gap record once the link is back, and counts the reconnect and the gap.
async fn store_gap(intake: &Intake, start: f64, names: &[String], cause: &str) {
    let end = crate::record::now_epoch();
    let r = gap_record(start, end, names, cause);
    tracing::warn!("{}", r.message);
    intake.stats.redis.reconnects.fetch_add(1, Relaxed);
    intake.stats.redis.gaps.fetch_add(1, Relaxed);
    intake.stats.add_received(SourceKind::Internal, 1);
    intake.submit(vec![r]).await;
}

/// The reader's state: decoder limits, the pairing, the batch in the making.
struct Reader {
    intake: Intake,
    bytes: Arc<AtomicUsize>,
    pairer: Pairer,
    out: Decoded,
    reported_drops: u64,
    mark_key: String,
    /// The newest mark read since the last submit.
    mark: Option<u64>,
    /// Commit barriers taken, oldest first, each with when every message taken before it has
    /// left the pairing (taken + the hold).
    barriers: std::collections::VecDeque<(Instant, tokio::sync::oneshot::Sender<()>)>,
}

/// The reader's decoded records, apart from its pairing so the pairing can hand it messages
/// by reference (a copy per message was a tenth of the reader's time).
struct Decoded {
    limits: DecodeLimits,
    stats: Arc<Stats>,
    batch: Batcher,
    /// Full batches made while taking a burst, submitted (in order) before the rest.
    pending: Vec<Vec<Record>>,
}

impl Decoded {
    /// Decodes one message into the batch.
    fn store(&mut self, m: &Message) {
        self.stats.add_received(SourceKind::Redis, 1);
        let d = decode_message(&m.channel, &m.payload, m.full_len, &self.limits);
        if let Some(full) = self.batch.push(d.record) {
            // A full batch mid-burst: hand it over without waiting here; the next submit
            // waits for room. Kept in order by submitting it first.
            self.pending.push(full);
        }
    }
}

impl Reader {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Queued>,
        link_ended: tokio::sync::oneshot::Receiver<()>,
        mut shutdown: Shutdown,
    ) {
        let mut report = tokio::time::interval(DROP_REPORT_EVERY);
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let due = match (self.pairer.next_due(), self.barriers.front()) {
                (Some(a), Some((b, _))) => Some(a.min(*b)),
                (a, b) => a.or(b.map(|(t, _)| *t)),
            };
            tokio::select! {
                m = rx.recv() => {
                    let Some(m) = m else { break };
                    self.take(m);
                    // Whatever else is already queued goes in the same batch.
                    for _ in 1..crate::intake::MAX_BATCH_RECORDS {
                        match rx.try_recv() {
                            Ok(m) => self.take(m),
                            Err(_) => break,
                        }
                    }
                    self.submit().await;
                    self.pass_barriers().await;
                }
                _ = sleep_until_opt(due) => {
                    self.pairer.expire(Instant::now(), &mut |m: &Message| self.out.store(m));
                    self.submit().await;
                    self.pass_barriers().await;
                }
                _ = report.tick() => self.report_drops().await,
                _ = shutdown.reached(Phase::Draining) => break,
            }
        }
        // The link unsubscribes first: once Redis confirmed, every message published before
        // is in the queue. Wait for that (keeping the queue moving), not past Stop.
        tokio::pin!(link_ended);
        loop {
            tokio::select! {
                _ = &mut link_ended => break,
                m = rx.recv() => match m {
                    Some(m) => {
                        self.take(m);
                        if !self.out.pending.is_empty() {
                            self.submit().await;
                        }
                    }
                    None => break,
                },
                _ = shutdown.reached(Phase::Stop) => break,
            }
        }
        // What is queued now was published before the drain: keep it. Only that much (the
        // queue's capacity): the connection is closed and adds nothing more.
        for _ in 0..QUEUE_MESSAGES {
            match rx.try_recv() {
                Ok(m) => self.take(m),
                Err(_) => break,
            }
            if !self.out.pending.is_empty() {
                self.submit().await;
            }
        }
        self.pairer
            .release_all(&mut |m: &Message| self.out.store(m));
        self.submit().await;
        // Everything is submitted: a barrier still waiting is passed (its flush says whether
        // the store is still there to commit).
        for (_, b) in self.barriers.drain(..) {
            let _ = b.send(());
        }
        self.report_drops().await;
    }

    /// Answers the barriers whose messages have all left the pairing, once those are
    /// submitted.
    async fn pass_barriers(&mut self) {
        let now = Instant::now();
        if self.barriers.front().is_none_or(|(t, _)| *t > now) {
            return;
        }
        self.pairer
            .expire(now, &mut |m: &Message| self.out.store(m));
        self.submit().await;
        while self.barriers.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, b)) = self.barriers.pop_front() {
                let _ = b.send(());
            }
        }
    }

    /// One queued message into the pairing (and, through it, the batch).
    fn take(&mut self, q: Queued) {
        if let Some(ms) = q.mark {
            self.mark = Some(ms);
            return;
        }
        if let Some(b) = q.barrier {
            self.barriers
                .push_back((Instant::now() + self.pairer.hold_for(), b));
            return;
        }
        self.bytes
            .fetch_sub(q.payload.len() + q.channel.len(), Relaxed);
        let msg = Message {
            channel: q.channel,
            payload: q.payload,
            full_len: q.full_len,
        };
        self.pairer
            .push(msg, Instant::now(), &mut |m: &Message| self.out.store(m));
    }

    async fn submit(&mut self) {
        for b in std::mem::take(&mut self.out.pending) {
            self.intake.submit(b).await;
        }
        let records = self.out.batch.take();
        // The newest mark travels with the records read before it, committed together.
        let state = self
            .mark
            .take()
            .map(|ms| {
                vec![(
                    self.mark_key.clone(),
                    ms.saturating_sub(MARK_MARGIN_MS).to_string(),
                )]
            })
            .unwrap_or_default();
        self.intake
            .submit(crate::intake::Batch {
                records,
                state,
                committed: None,
            })
            .await;
    }

    /// Stores one WARNING for the drops since the last report, if any.
    async fn report_drops(&mut self) {
        let now = self.intake.stats.redis.dropped.load(Relaxed);
        let n = now.saturating_sub(self.reported_drops);
        if n == 0 {
            return;
        }
        self.reported_drops = now;
        let r = drop_record(n);
        tracing::warn!("{}", r.message);
        self.intake.stats.add_received(SourceKind::Internal, 1);
        self.intake.submit(vec![r]).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn patterns_go_to_psubscribe_and_channels_to_subscribe() {
        let (c, p) = classify(&names(&[
            "logs:*",
            "logs:global",
            "app?",
            "x[ab]",
            "plain",
            "logs:global",
        ]));
        assert_eq!(c, names(&["logs:global", "plain"]));
        assert_eq!(p, names(&["logs:*", "app?", "x[ab]"]));
    }

    #[test]
    fn backoff_doubles_from_100ms_to_10s_with_at_most_half_taken_off() {
        assert_eq!(backoff(0, 0.0), Duration::from_millis(100));
        assert_eq!(backoff(1, 0.0), Duration::from_millis(200));
        assert_eq!(backoff(3, 0.0), Duration::from_millis(800));
        assert_eq!(backoff(7, 0.0), Duration::from_secs(10));
        assert_eq!(backoff(u32::MAX, 0.0), Duration::from_secs(10));
        assert_eq!(backoff(10, 1.0), Duration::from_secs(5));
        assert_eq!(backoff(0, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(2, f64::NAN), Duration::from_millis(400));
        for a in 0..40 {
            let d = backoff(a, jitter());
            assert!(d >= BACKOFF_MIN && d <= BACKOFF_MAX, "{a}: {d:?}");
        }
    }

    #[test]
    fn a_gap_record_names_its_span_channels_and_cause() {
        let r = gap_record(
            1795565018.25,
            1795565020.5,
            &names(&["logs:*", "app"]),
            "killed",
        );
        assert_eq!((r.level, r.logger.as_str()), (WARNING, LOGGER));
        assert_eq!(r.source, SourceKind::Internal);
        assert!(
            r.message.contains("2026-11-25T00:03:38.250000Z"),
            "{}",
            r.message
        );
        assert!(r.message.contains("2.250 s"), "{}", r.message);
        let get = |k: &str| r.extra.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("gap_start"), Some(Value::Float(1795565018.25)));
        assert_eq!(get("gap_end"), Some(Value::Float(1795565020.5)));
        assert_eq!(get("channels"), Some(Value::Str("logs:*,app".into())));
        assert_eq!(get("cause"), Some(Value::Str("killed".into())));
    }

    fn queued(channel: &str, payload: &str) -> Queued {
        Queued {
            channel: channel.into(),
            payload: payload.as_bytes().to_vec(),
            full_len: payload.len(),
            mark: None,
            barrier: None,
        }
    }

    #[tokio::test]
    async fn a_barrier_is_answered_only_once_what_came_before_it_was_submitted() {
        let stats = Arc::new(Stats::default());
        let (intake, mut outlet) = Intake::new(16, stats.clone());
        let reader = Reader {
            intake,
            bytes: Arc::new(AtomicUsize::new(1 << 20)),
            pairer: Pairer::new(PairLimits::default(), true),
            out: Decoded {
                limits: DecodeLimits::default(),
                stats,
                batch: Batcher::default(),
                pending: Vec::new(),
            },
            reported_drops: 0,
            mark_key: "redis:mark:test".into(),
            mark: None,
            barriers: std::collections::VecDeque::new(),
        };
        let (tx, rx) = mpsc::channel(16);
        let shutdown = crate::source::ShutdownController::new();
        let (_link, link_ended) = tokio::sync::oneshot::channel();
        tokio::spawn(reader.run(rx, link_ended, shutdown.handle()));
        // A global copy is held for its job twin (100 ms) before it is submitted; a job copy
        // goes at once.
        tx.send(queued("logs:job_1", r#"{"message": "at once"}"#))
            .await
            .unwrap();
        tx.send(queued("logs:global", r#"{"message": "held"}"#))
            .await
            .unwrap();
        let (barrier, passed) = tokio::sync::oneshot::channel();
        let mut b = queued("", "");
        b.barrier = Some(barrier);
        tx.send(b).await.unwrap();
        tx.send(queued("logs:job_2", r#"{"message": "after"}"#))
            .await
            .unwrap();
        passed.await.expect("the barrier is answered");
        let mut got = Vec::new();
        while let Ok(env) = outlet.try_recv() {
            if let crate::intake::Envelope::Records(b) = env {
                got.extend(b.records.into_iter().map(|r| r.message));
            }
        }
        // Both of those before it, the held one included, were in the intake by then.
        assert!(got.starts_with(&["at once".to_owned()]), "{got:?}");
        assert!(got.contains(&"held".to_owned()), "{got:?}");
    }

    #[test]
    fn a_drop_record_counts_the_drops() {
        let r = drop_record(7);
        assert_eq!(r.level, WARNING);
        assert_eq!(r.extra, vec![("dropped".to_owned(), Value::count(7u64))]);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("redis://user:secret@127.0.0.1:6379/1"),
            "redis://user:***@127.0.0.1:6379/1"
        );
        assert_eq!(redact("rediss://:secret@h:6380"), "rediss://:***@h:6380");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redact("redis+cluster://:pw@127.0.0.1:7000"),
            "redis+cluster://:***@127.0.0.1:7000"
        );
        assert_eq!(
            cluster_seed("rediss+cluster://h:7000").as_deref(),
            Some("rediss://h:7000")
        );
        assert_eq!(cluster_seed("redis://h:7000"), None);
    }
}
