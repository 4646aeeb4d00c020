//! Redis lists as a source (Logbook's `RedisHandler`): each value moved atomically into a
//! processing list of this store's own, and removed from there only once its record is committed.
//!
//! Exactly once, across a SIGKILL at any point: every value taken from `KEY` lands in
//! `logtui:processing:{KEY}:{store id}` in the same Redis command (`BLMOVE`, or a script that
//! moves many at once). Values are numbered by their position in that processing list since it
//! was made: `logtui:trimmed:{KEY}:{store id}` counts those removed from its head, and the store
//! keeps, in `source_state` and in the transaction that commits their records, the position
//! after the last committed one (`redis_list:{KEY}`). Removing the committed head and raising
//! the counter is one script, so on any (re)connect the consumer knows exactly which values of
//! the processing list are stored (removes them) and which are not (stores them first).

use crate::decode::redis::decode_payload;
use crate::intake::{Batch, Intake};
use crate::limits::DecodeLimits;
use crate::record::{Record, SourceKind};
use crate::source::{Phase, Shutdown};
use crate::stats::ListStats;
use crate::store::{StoreError, state};
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::watch;

/// Most values moved and submitted as one batch: the intake's batch size twice over, so one
/// Redis round trip feeds the store a good share of a flush.
pub const MOVE_BATCH: usize = 2000;
/// Most bytes (as kept, after the cut to `max_frame`) one move takes, at least one value.
const MOVE_BYTES: usize = crate::intake::MAX_BATCH_BYTES;
/// How long one `BLMOVE` waits for a value: also how soon a drain is noticed while idle.
const BLOCK: Duration = Duration::from_secs(1);
/// A reply must come this long after the request (past the block), or the connection is
/// taken for dead and made again.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// First and longest wait between reconnects.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The `source_state` key holding a list's committed position.
pub const STATE_PREFIX: &str = "redis_list:";

/// Moves up to ARGV[1] values from KEYS[1] into KEYS[2] (RPUSH, oldest first), taking from the
/// right when ARGV[2] is `1` (an LPUSH producer), stopping once ARGV[4] bytes are taken. Returns
/// the values cut to ARGV[3] bytes, and their full lengths.
const MOVE_SCRIPT: &str = r"
local n, right, cut, maxb = tonumber(ARGV[1]), ARGV[2] == '1', tonumber(ARGV[3]), tonumber(ARGV[4])
local vs
if right then vs = redis.call('LRANGE', KEYS[1], -n, -1) else vs = redis.call('LRANGE', KEYS[1], 0, n - 1) end
local k = #vs
if k == 0 then return {{}, {}} end
if right then
  local r = {}
  for i = k, 1, -1 do r[#r + 1] = vs[i] end
  vs = r
end
local take, total = 0, 0
for i = 1, k do
  take = i
  total = total + math.min(#vs[i], cut)
  if total >= maxb then break end
end
if right then redis.call('LTRIM', KEYS[1], 0, -take - 1) else redis.call('LTRIM', KEYS[1], take, -1) end
local out, lens = {}, {}
for i = 1, take, 500 do
  redis.call('RPUSH', KEYS[2], unpack(vs, i, math.min(i + 499, take)))
end
for i = 1, take do
  local v = vs[i]
  if #v > cut then out[i] = string.sub(v, 1, cut) else out[i] = v end
  lens[i] = #v
end
return {out, lens}
";

/// Reads up to ARGV[2] values of the processing list KEYS[1] from index ARGV[1], as
/// [`MOVE_SCRIPT`] returns them (cut to ARGV[3], at most ARGV[4] bytes).
const READ_SCRIPT: &str = r"
local from, n, cut, maxb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local vs = redis.call('LRANGE', KEYS[1], from, from + n - 1)
local out, lens, total = {}, {}, 0
for i = 1, #vs do
  out[i] = string.sub(vs[i], 1, cut)
  lens[i] = #vs[i]
  total = total + #out[i]
  if total >= maxb then break end
end
return {out, lens}
";

/// Removes from the head of the processing list KEYS[1] the values below the committed position
/// ARGV[1], and sets the trimmed counter KEYS[2] to it; a missing counter (a new processing
/// list, or a Redis that lost its data) starts at the committed position, so whatever the list
/// holds then is not yet stored. Returns the counter and the list's length after.
const TRIM_SCRIPT: &str = r"
local c = tonumber(ARGV[1])
local t = redis.call('GET', KEYS[2])
if not t then
  redis.call('SET', KEYS[2], ARGV[1])
  t = c
else
  t = tonumber(t)
end
local len = redis.call('LLEN', KEYS[1])
if c <= t then return {t, len} end
local drop = math.min(c - t, len)
redis.call('LTRIM', KEYS[1], drop, -1)
redis.call('SET', KEYS[2], ARGV[1])
return {c, len - drop}
";

/// One `--list-key`: the list and the side its producer pushes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKey {
    pub key: String,
    /// The producer uses LPUSH, so the oldest value is on the right.
    pub lpush: bool,
}

impl ListKey {
    /// `KEY`, `KEY:rpush` or `KEY:lpush` (as `Config::validate` checked it); RPUSH by default,
    /// as Logbook's `RedisHandler` pushes.
    pub fn parse(s: &str) -> ListKey {
        match s.rsplit_once(':') {
            Some((k, side)) if side.eq_ignore_ascii_case("lpush") => ListKey {
                key: k.to_owned(),
                lpush: true,
            },
            Some((k, side)) if side.eq_ignore_ascii_case("rpush") => ListKey {
                key: k.to_owned(),
                lpush: false,
            },
            _ => ListKey {
                key: s.to_owned(),
                lpush: false,
            },
        }
    }

    /// The processing list of the store `store_id`. The key in braces is a hash tag: in a
    /// Redis Cluster the list, this and [`ListKey::trimmed`] share a slot, as scripts need.
    pub fn processing(&self, store_id: &str) -> String {
        format!("logtui:processing:{{{}}}:{store_id}", self.key)
    }

    /// How many values have ever been removed from the head of that processing list.
    pub fn trimmed(&self, store_id: &str) -> String {
        format!("logtui:trimmed:{{{}}}:{store_id}", self.key)
    }

    /// The `source_state` key of the committed position.
    pub fn state_key(&self) -> String {
        format!("{STATE_PREFIX}{}", self.key)
    }

    /// What the "listening on" line says.
    pub fn describe(&self) -> String {
        let side = if self.lpush { "lpush" } else { "rpush" };
        format!("redis list {} ({side})", self.key)
    }
}

/// Why a consumer cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store's position for Redis list {key:?} is {value:?}, not a count")]
    BadState { key: String, value: String },
    #[error("cannot use Redis at {url}: {source}")]
    Url {
        url: String,
        source: redis::RedisError,
    },
}

/// A consumer ready to run: its list, its store's position in it and where it reports.
pub struct Consumer {
    client: redis::Client,
    list: ListKey,
    processing: String,
    trimmed: String,
    state_key: String,
    /// Position after the last committed value, as the store says.
    committed: u64,
    intake: Intake,
    limits: DecodeLimits,
    stats: Arc<ListStats>,
    shutdown: Shutdown,
    /// The current session got its connections (so a failure later does not back off further).
    connected: bool,
}

impl Consumer {
    /// Reads the store's id and the list's committed position from `store` (the persister has
    /// already made the schema current). Nothing connects yet.
    pub fn new(
        url: &str,
        list: ListKey,
        store: &rusqlite::Connection,
        intake: Intake,
        limits: DecodeLimits,
        shutdown: Shutdown,
    ) -> Result<Consumer, StartError> {
        let client = redis::Client::open(url).map_err(|source| StartError::Url {
            url: url.to_owned(),
            source,
        })?;
        let id = state::store_id(store)?;
        let state_key = list.state_key();
        let committed = match state::get(store, &state_key)? {
            None => 0,
            Some(v) => v.parse().map_err(|_| StartError::BadState {
                key: list.key.clone(),
                value: v.clone(),
            })?,
        };
        let stats = intake.stats.add_list(&list.key);
        stats.committed.store(committed, Relaxed);
        stats.moved.store(committed, Relaxed);
        stats.set_state("connecting");
        Ok(Consumer {
            client,
            processing: list.processing(&id),
            trimmed: list.trimmed(&id),
            state_key,
            list,
            committed,
            intake,
            limits,
            stats,
            shutdown,
            connected: false,
        })
    }

    /// Consumes until the drain starts or the store goes away, reconnecting with back-off.
    /// At a drain, what was taken is committed and removed from the processing list first.
    pub async fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        let (tx, _) = watch::channel(self.committed);
        let tx = Arc::new(tx);
        let mut stop = self.shutdown.clone();
        while self.shutdown.phase() == Phase::Running {
            self.connected = false;
            // Past the drain time a session is abandoned wherever it is (a connect, a flush):
            // what it took stays in the processing list for the next start.
            let ended = tokio::select! {
                r = self.session(&tx) => r,
                () = stop.reached(Phase::Stop) => Ok(End::Drained),
            };
            if self.connected {
                backoff = BACKOFF_MIN;
            }
            match ended {
                Ok(End::Drained) => {
                    self.stats.set_state("stopped");
                    return;
                }
                Ok(End::StoreGone) => {
                    self.stats.set_state("stopped: the store has gone");
                    return;
                }
                Err(e) => {
                    let why = format!("reconnecting in {:.1}s: {e}", backoff.as_secs_f64());
                    tracing::warn!(list = %self.list.key, "Redis list: {why}");
                    self.stats.set_state(why);
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = self.shutdown.reached(Phase::Draining) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        // Drained while reconnecting: what is committed is trimmed by the next start.
        self.stats.set_state("stopped");
    }

    async fn connect(&self) -> redis::RedisResult<MultiplexedConnection> {
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        self.client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
    }

    /// One connection's life: settle what an earlier run or session left in the processing
    /// list, then move values until the drain. An error ends it, to be retried.
    async fn session(&mut self, tx: &Arc<watch::Sender<u64>>) -> redis::RedisResult<End> {
        let mut conn = self.connect().await?;
        let ctl = self.connect().await?;
        self.connected = true;
        // Whatever earlier sessions submitted is committed (or never will be) before the
        // processing list is looked at: the values it holds are then either below the
        // committed position or stored by no one.
        if !self.settle().await {
            return Ok(End::StoreGone);
        }
        // Loaded each session: a Redis that restarted has forgotten them.
        let trim = Lua::load(&mut conn, TRIM_SCRIPT).await?;
        let read = Lua::load(&mut conn, READ_SCRIPT).await?;
        let mover = Lua::load(&mut conn, MOVE_SCRIPT).await?;
        let (t, len): (u64, u64) = trim
            .call(&[&self.processing, &self.trimmed])
            .arg(self.committed)
            .query_async(&mut conn)
            .await?;
        self.stats.committed.store(self.committed, Relaxed);
        // Positions past a Redis that lost data or a store restored from backup: the values
        // in the processing list are what is not stored, whatever the numbers said before.
        let mut moved = t;
        self.stats.moved.store(moved, Relaxed);
        let trimmer = tokio::spawn(trimmer(
            ctl.clone(),
            trim.clone(),
            self.processing.clone(),
            self.trimmed.clone(),
            tx.subscribe(),
        ));
        let _abort = AbortOnDrop(trimmer);
        self.stats.set_state("consuming");

        // The values an earlier run took and did not commit, first, in order.
        let mut index = 0u64;
        while index < len {
            let (vals, lens): (Vec<Vec<u8>>, Vec<usize>) = read
                .call(&[&self.processing])
                .arg(index)
                .arg(MOVE_BATCH)
                .arg(self.limits.max_frame)
                .arg(MOVE_BYTES)
                .query_async(&mut conn)
                .await?;
            if vals.is_empty() {
                break;
            }
            index += vals.len() as u64;
            moved = t + index;
            if !self.submit(&vals, &lens, moved, tx).await {
                return Ok(End::StoreGone);
            }
        }

        let (from, to) = match self.list.lpush {
            true => ("RIGHT", "RIGHT"),
            false => ("LEFT", "RIGHT"),
        };
        let mut move_many = mover.call(&[&self.list.key, &self.processing]);
        move_many
            .arg(MOVE_BATCH)
            .arg(if self.list.lpush { "1" } else { "0" })
            .arg(self.limits.max_frame)
            .arg(MOVE_BYTES);
        // The next move, asked for while this batch decodes: Redis moves and the reply is
        // parsed while this task decodes. It runs to its end even if the session fails (a
        // move whose reply is lost leaves its values in the processing list, where the next
        // session finds them).
        let mut ahead: Option<tokio::task::JoinHandle<Moved>> = None;
        let spawn_move = |conn: &MultiplexedConnection| {
            let (cmd, mut conn) = (move_many.clone(), conn.clone());
            tokio::spawn(async move { cmd.query_async(&mut conn).await })
        };
        loop {
            // Many at once while the list has values; a blocking wait for one when it has none.
            let (mut vals, mut lens) = match ahead.take() {
                Some(h) => h.await.map_err(join_error)??,
                None if self.shutdown.phase() != Phase::Running => break,
                None => move_many.query_async(&mut conn).await?,
            };
            if !vals.is_empty() && self.shutdown.phase() == Phase::Running {
                ahead = Some(spawn_move(&conn));
            }
            if vals.is_empty() {
                if self.shutdown.phase() != Phase::Running {
                    break;
                }
                let one: Option<Vec<u8>> = redis::cmd("BLMOVE")
                    .arg(&self.list.key)
                    .arg(&self.processing)
                    .arg(from)
                    .arg(to)
                    .arg(BLOCK.as_secs_f64())
                    .query_async(&mut conn)
                    .await?;
                let Some(mut v) = one else { continue };
                lens.push(v.len());
                v.truncate(self.limits.max_frame);
                vals.push(v);
            }
            moved += vals.len() as u64;
            self.stats.moved.store(moved, Relaxed);
            if !self.submit(&vals, &lens, moved, tx).await {
                return Ok(End::StoreGone);
            }
        }

        // Draining: commit what was taken and leave the processing list empty.
        if !self.settle().await {
            return Ok(End::StoreGone);
        }
        let _: (u64, u64) = trim
            .call(&[&self.processing, &self.trimmed])
            .arg(self.committed)
            .query_async(&mut conn)
            .await?;
        Ok(End::Drained)
    }

    /// Waits until everything submitted is committed; false once the store has gone. While
    /// flushes fail (a full disk) this keeps asking, as the persister keeps retrying.
    async fn settle(&mut self) -> bool {
        let mut wait = BACKOFF_MIN;
        loop {
            if self.intake.flush().await {
                self.committed = self.stats.committed.load(Relaxed);
                return true;
            }
            if self.intake.is_closed() {
                return false;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(BACKOFF_MAX);
        }
    }

    /// Decodes `vals` (each cut from a value of `lens` bytes) and submits them with the
    /// position after the last one; false once the store has gone.
    async fn submit(
        &self,
        vals: &[Vec<u8>],
        lens: &[usize],
        moved: u64,
        tx: &Arc<watch::Sender<u64>>,
    ) -> bool {
        let origin = format!("list:{}", self.list.key);
        let records: Vec<Record> = vals
            .iter()
            .zip(lens)
            .map(|(v, full)| decode_payload(v, (*full).max(v.len()), &origin, &self.limits).record)
            .collect();
        let n = records.len() as u64;
        self.intake.stats.add_received(SourceKind::Redis, n);
        let (stats, tx) = (self.stats.clone(), tx.clone());
        let batch = Batch {
            records,
            state: vec![(self.state_key.clone(), moved.to_string())],
            committed: Some(Box::new(move || {
                stats.committed.fetch_max(moved, Relaxed);
                stats.consumed.fetch_add(n, Relaxed);
                tx.send_if_modified(|c| {
                    let newer = moved > *c;
                    if newer {
                        *c = moved;
                    }
                    newer
                });
            })),
        };
        self.intake.submit(batch).await
    }
}

/// What a move returns: the values (cut to `max_frame`) and their full lengths.
type Moved = redis::RedisResult<(Vec<Vec<u8>>, Vec<usize>)>;

fn join_error(e: tokio::task::JoinError) -> redis::RedisError {
    redis::RedisError::from(std::io::Error::other(format!("the move task failed: {e}")))
}

/// How a session ended without an error.
enum End {
    Drained,
    StoreGone,
}

/// Removes committed values from the processing list as commits are reported, on a
/// connection of its own (the consumer's may be blocked in `BLMOVE`). A failure is left to
/// the next commit, or the next session's trim.
async fn trimmer(
    mut conn: MultiplexedConnection,
    trim: Lua,
    processing: String,
    trimmed: String,
    mut rx: watch::Receiver<u64>,
) {
    while rx.changed().await.is_ok() {
        let c = *rx.borrow_and_update();
        let r: redis::RedisResult<(u64, u64)> = trim
            .call(&[&processing, &trimmed])
            .arg(c)
            .query_async(&mut conn)
            .await;
        if let Err(e) = r {
            tracing::debug!(error = %e, "Redis list: trimming the processing list failed; retried later");
        }
    }
}

/// A script loaded with `SCRIPT LOAD`, run with `EVALSHA` (its text crosses the wire once).
#[derive(Clone)]
struct Lua {
    sha: String,
}

impl Lua {
    async fn load(conn: &mut MultiplexedConnection, src: &str) -> redis::RedisResult<Lua> {
        let sha = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(src)
            .query_async(conn)
            .await?;
        Ok(Lua { sha })
    }

    /// `EVALSHA` with `keys`; add the arguments to the command returned.
    fn call(&self, keys: &[&String]) -> redis::Cmd {
        let mut c = redis::cmd("EVALSHA");
        c.arg(&self.sha).arg(keys.len()).arg(keys);
        c
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts one consumer per `--list-key` on `url`, reading their positions from the store at
/// `db`. Returns what each consumes, for the "listening on" line.
pub fn start_all(
    url: &str,
    keys: &[String],
    db: &std::path::Path,
    intake: &Intake,
    limits: DecodeLimits,
    shutdown: impl Fn() -> Shutdown,
) -> Result<Vec<String>, StartError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let store = crate::store::open_read_only(db)?;
    let mut out = Vec::new();
    let mut consumers = Vec::new();
    for k in keys {
        let list = ListKey::parse(k);
        out.push(list.describe());
        consumers.push(Consumer::new(
            url,
            list,
            &store,
            intake.clone(),
            limits,
            shutdown(),
        )?);
    }
    // All or none: a consumer left running would hold the queue open.
    for c in consumers {
        tokio::spawn(c.run());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keys_name_their_push_side() {
        assert_eq!(
            ListKey::parse("redis"),
            ListKey {
                key: "redis".into(),
                lpush: false
            }
        );
        assert!(ListKey::parse("q:LPUSH").lpush);
        let k = ListKey::parse("a:b:rpush");
        assert_eq!((k.key.as_str(), k.lpush), ("a:b", false));
        assert_eq!(
            ListKey::parse("a:b").key,
            "a:b",
            "a colon not naming a side is part of the key"
        );
        assert_eq!(k.processing("00ff"), "logtui:processing:{a:b}:00ff");
        assert_eq!(k.state_key(), "redis_list:a:b");
    }
}
