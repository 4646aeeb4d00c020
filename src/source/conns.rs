//! Each stream listener's table of open connections: who is connected, from which peer, and when
//! each last finished a frame or request. When the listener is full, the longest-idle one gives way.

use crate::record::SourceKind;
use crate::source::{Phase, Shutdown};
use crate::stats::Stats;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Most connections taken from the accept queue once draining starts: the kernel's backlog
/// (tokio asks for 1024) cannot hold more, so this only bounds a loop that should end sooner.
const MAX_BACKLOG: usize = 4096;

/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How a listener shares its connection slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Most connections served at once.
    pub max: usize,
    /// Most of them one peer may hold once the listener is full: below the limit anyone may
    /// connect, so a single host (every sender on 127.0.0.1, say) can still use every slot;
    /// when others need room, a peer past its share gives way first.
    pub per_peer: usize,
    /// A connection that has finished no frame (or request) for this long may be shed when the
    /// listener or its peer is full.
    pub idle_after: Duration,
}

/// Who a connection counts against for the per-peer cap. IPv4 addresses count one by one; IPv6
/// by /64, the block one host is usually given (counting single v6 addresses would let one host
/// take every slot from its own /64). Unix-socket clients are all on this machine: one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKey {
    V4([u8; 4]),
    V6Net([u8; 8]),
    Local,
}

impl PeerKey {
    pub fn of(addr: &SocketAddr) -> PeerKey {
        match addr.ip().to_canonical() {
            IpAddr::V4(a) => PeerKey::V4(a.octets()),
            IpAddr::V6(a) => {
                let o = a.octets();
                PeerKey::V6Net([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
            }
        }
    }
}

struct Entry {
    id: u64,
    peer: PeerKey,
    /// Milliseconds since the table's epoch when the connection last finished a frame (or was accepted).
    last: AtomicU64,
    shed: AtomicBool,
    wake: Notify,
}

#[derive(Default)]
struct Inner {
    next: u64,
    conns: HashMap<u64, Arc<Entry>>,
    peers: HashMap<PeerKey, usize>,
    /// Shed connections still finishing (serving what they fully received): they hold a socket
    /// and buffers until they end, so they count against [`LINGER_SLACK`] × `max`.
    leaving: usize,
}

/// How many shed connections may still be finishing, as a multiple of the listener's limit,
/// before new ones wait in the backlog: shedding makes room at once, but a shed connection that
/// is slow to end must not let the live sockets grow with an attacker's connect rate.
const LINGER_SLACK: usize = 1;

/// How long a connection of a peer at its share must have gone without a complete frame before
/// that peer's own newcomer takes its place: long enough that a connection accepted a moment
/// ago (its first bytes still in flight) or a sender that just logged is never the one shed.
const OWN_IDLE_MIN: Duration = Duration::from_secs(1);

/// One listener's connections. Admission and shedding take a lock and, only when the listener
/// or a peer is full, scan the table once (at most `max` entries) for the longest-idle connection.
pub struct ConnTable {
    limits: ConnLimits,
    source: SourceKind,
    stats: Arc<Stats>,
    epoch: Instant,
    inner: Mutex<Inner>,
    freed: Notify,
}

/// A connection's place in the table; dropping it frees the place.
pub struct Slot {
    table: Arc<ConnTable>,
    entry: Arc<Entry>,
}

/// Resolves once the connection has been asked to give way. Cheap to clone.
#[derive(Clone)]
pub struct ShedSignal(Arc<Entry>);

impl ConnTable {
    pub fn new(limits: ConnLimits, source: SourceKind, stats: Arc<Stats>) -> Arc<ConnTable> {
        Arc::new(ConnTable {
            limits: ConnLimits {
                max: limits.max.max(1),
                per_peer: limits.per_peer.clamp(1, limits.max.max(1)),
                idle_after: limits.idle_after,
            },
            source,
            stats,
            epoch: Instant::now(),
            inner: Mutex::new(Inner::default()),
            freed: Notify::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a new connection could be served: a slot is free, a peer holds more than its
    /// share, or the longest-idle connection has been idle long enough to give way. Until then
    /// new ones wait in the backlog.
    pub async fn wait_for_room(&self) {
        loop {
            let wake_at = {
                let inner = self.lock();
                if inner.leaving >= LINGER_SLACK * self.limits.max {
                    // Wait for shed connections to end (each notifies `freed`), re-checking
                    // now and then in case the table is otherwise idle.
                    self.epoch + Duration::from_millis(self.now_ms() + 100)
                } else if inner.conns.len() < self.limits.max || self.hog(&inner).is_some() {
                    return;
                } else {
                    let idle = self.limits.idle_after.as_millis() as u64;
                    let oldest = inner.conns.values().map(|e| e.last.load(Relaxed)).min();
                    match oldest {
                        Some(t) if self.now_ms().saturating_sub(t) >= idle => return,
                        Some(t) => self.epoch + Duration::from_millis(t + idle),
                        None => return,
                    }
                }
            };
            tokio::select! {
                _ = self.freed.notified() => {}
                _ = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// The peer holding the most connections, if that is more than its share.
    fn hog(&self, inner: &Inner) -> Option<PeerKey> {
        let (peer, n) = inner.peers.iter().max_by_key(|(_, n)| **n)?;
        (*n > self.limits.per_peer).then_some(*peer)
    }

    /// The longest-idle connection (of `only` if given), if `idle_ms` or more is required of it.
    fn longest_idle(&self, inner: &Inner, only: Option<PeerKey>, idle_ms: u64) -> Option<u64> {
        let now = self.now_ms();
        inner
            .conns
            .values()
            .filter(|e| only.is_none_or(|p| e.peer == p))
            .map(|e| (e.last.load(Relaxed), e.id))
            .min()
            .filter(|(last, _)| now.saturating_sub(*last) >= idle_ms)
            .map(|(_, id)| id)
    }

    /// Gives a newly accepted connection from `peer` a slot. Below the limit everyone gets one.
    /// When full, someone gives way: a peer at its share sheds its own longest-idle connection
    /// (idle long or not);
    /// anyone else sheds the longest-idle connection of all, or failing that (nobody idle) the
    /// longest-idle one of a peer holding more than its share. When nobody has to give way, the
    /// connection is refused: its slot comes already shed, so it only finishes what it sent. `force` admits past the limits (draining: what was queued
    /// before shutdown is served whatever the count).
    pub fn admit(self: &Arc<Self>, peer: PeerKey, force: bool) -> Slot {
        let mut inner = self.lock();
        let now = self.now_ms();
        let idle = self.limits.idle_after.as_millis() as u64;
        let held = inner.peers.get(&peer).copied().unwrap_or(0);
        if !force && inner.conns.len() >= self.limits.max {
            let victim = if held >= self.limits.per_peer {
                // A peer at its share makes room among its own: its longest-idle connection
                // gives way once it has gone `OWN_IDLE_MIN` without a frame, well before
                // `idle_after`. Refusing the newcomer instead would close a connection that
                // may already hold a record its sender fully sent (unread, so lost), and on
                // loopback, where every sender is one peer, a local flood of connections that
                // never send would keep a real SocketHandler out until `idle_after`.
                let own = self.limits.idle_after.min(OWN_IDLE_MIN).as_millis() as u64;
                self.longest_idle(&inner, Some(peer), own)
            } else {
                self.longest_idle(&inner, None, idle).or_else(|| {
                    let hog = self.hog(&inner)?;
                    self.longest_idle(&inner, Some(hog), 0)
                })
            };
            let Some(victim) = victim else {
                // Refused, but served as a connection already shed rather than dropped: its
                // sender may have sent a whole record already, which it cannot know was refused,
                // so what the kernel holds for it is read and stored before it closes.
                inner.next += 1;
                inner.leaving += 1;
                let entry = Arc::new(Entry {
                    id: inner.next,
                    peer,
                    last: AtomicU64::new(now),
                    shed: AtomicBool::new(true),
                    wake: Notify::new(),
                });
                drop(inner);
                self.stats.conns(self.source).refused.fetch_add(1, Relaxed);
                return Slot {
                    table: self.clone(),
                    entry,
                };
            };
            if let Some(e) = Self::remove(&mut inner, victim) {
                inner.leaving += 1;
                e.shed.store(true, Relaxed);
                e.wake.notify_one();
                self.stats.conns(self.source).shed.fetch_add(1, Relaxed);
            }
        }
        inner.next += 1;
        let entry = Arc::new(Entry {
            id: inner.next,
            peer,
            last: AtomicU64::new(now),
            shed: AtomicBool::new(false),
            wake: Notify::new(),
        });
        inner.conns.insert(entry.id, entry.clone());
        *inner.peers.entry(peer).or_insert(0) += 1;
        self.set_open(&inner);
        Slot {
            table: self.clone(),
            entry,
        }
    }

    fn remove(inner: &mut Inner, id: u64) -> Option<Arc<Entry>> {
        let e = inner.conns.remove(&id)?;
        if let Some(n) = inner.peers.get_mut(&e.peer) {
            *n -= 1;
            if *n == 0 {
                inner.peers.remove(&e.peer);
            }
        }
        Some(e)
    }

    fn set_open(&self, inner: &Inner) {
        let open = &self.stats.conns(self.source).open;
        open.store(inner.conns.len() as u64, Relaxed);
    }
}

impl Slot {
    /// The connection finished a frame or request: it is not idle.
    pub fn progress(&self) {
        self.entry.last.store(self.table.now_ms(), Relaxed);
    }

    pub fn shed_signal(&self) -> ShedSignal {
        ShedSignal(self.entry.clone())
    }
}

impl ShedSignal {
    /// Resolves once the connection has been shed (at once if it already was).
    pub async fn shed(&self) {
        while !self.0.shed.load(Relaxed) {
            self.0.wake.notified().await;
        }
    }

    pub fn is_shed(&self) -> bool {
        self.0.shed.load(Relaxed)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.table.lock();
        // A shed connection left the table when it was shed; it stops counting as leaving now.
        if ConnTable::remove(&mut inner, self.entry.id).is_some() {
            self.table.set_open(&inner);
        } else if self.entry.shed.load(Relaxed) {
            inner.leaving = inner.leaving.saturating_sub(1);
        }
        drop(inner);
        self.table.freed.notify_one();
    }
}

/// A listener whose next connection can be polled for, with the peer it comes from.
pub trait Acceptor {
    type Conn;
    /// The connection, its peer for the per-peer cap, and the address to name in records and logs.
    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<(Self::Conn, PeerKey, String)>>;
}

/// Accepts into `table` until draining starts, then serves what the kernel had already queued
/// (senders that connected and sent before the signal lose nothing), and returns.
pub async fn accept_loop<A: Acceptor>(
    listener: &A,
    table: &Arc<ConnTable>,
    shutdown: &mut Shutdown,
    mut serve: impl FnMut(A::Conn, String, Slot),
) {
    loop {
        tokio::select! {
            biased;
            _ = shutdown.reached(Phase::Draining) => break,
            _ = table.wait_for_room() => {}
        }
        let accepted = tokio::select! {
            biased;
            _ = shutdown.reached(Phase::Draining) => break,
            a = std::future::poll_fn(|cx| listener.poll_accept(cx)) => a,
        };
        match accepted {
            // A refused connection is served as already shed: it finishes what it sent.
            Ok((conn, key, peer)) => serve(conn, peer, table.admit(key, false)),
            Err(e) => {
                // EMFILE and friends: say so, back off briefly, keep serving.
                tracing::warn!("{} accept failed: {e}", table.source.as_str());
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    // One poll with a waker that does nothing is a non-blocking accept: Pending means the
    // queue is empty.
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..MAX_BACKLOG {
        match listener.poll_accept(&mut cx) {
            Poll::Ready(Ok((conn, key, peer))) => serve(conn, peer, table.admit(key, true)),
            // A connection reset while queued, or no descriptors left: nothing more to take.
            Poll::Ready(Err(e)) => {
                tracing::debug!("{} accept while draining: {e}", table.source.as_str());
                break;
            }
            Poll::Pending => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max: usize, per_peer: usize, idle_ms: u64) -> Arc<ConnTable> {
        let limits = ConnLimits {
            max,
            per_peer,
            idle_after: Duration::from_millis(idle_ms),
        };
        ConnTable::new(limits, SourceKind::Tcp, Arc::new(Stats::default()))
    }

    const A: PeerKey = PeerKey::V4([10, 0, 0, 1]);
    const B: PeerKey = PeerKey::V4([10, 0, 0, 2]);

    #[tokio::test(start_paused = true)]
    async fn full_tables_shed_the_longest_idle_and_hogs_give_way() {
        let t = table(3, 1, 1000);
        // Below the limit one peer may take every slot.
        let a1 = t.admit(A, false);
        tokio::time::advance(Duration::from_millis(10)).await;
        let a2 = t.admit(A, false);
        tokio::time::advance(Duration::from_millis(10)).await;
        let a3 = t.admit(A, false);
        // Full, A past its share and none of A's idle for a second: A's next one is refused,
        // which means served as already shed (it only finishes what it sent).
        let refused = t.admit(A, false);
        assert!(refused.shed_signal().is_shed());
        // B is under its share: A, the hog, gives way (its longest-idle, a1) though busy.
        let b1 = t.admit(B, false);
        assert!(a1.shed_signal().is_shed());
        a1.shed_signal().shed().await;
        tokio::time::advance(Duration::from_millis(1500)).await;
        a3.progress();
        b1.progress();
        // A (at its share) sheds its own idle a2 for its new one; a3 (busy) stays.
        let a4 = t.admit(A, false);
        assert!(a2.shed_signal().is_shed());
        assert!(!a3.shed_signal().is_shed());
        let stats = t.stats.conns(SourceKind::Tcp);
        assert_eq!(stats.shed.load(Relaxed), 2);
        assert_eq!(stats.refused.load(Relaxed), 1);
        assert_eq!(stats.open.load(Relaxed), 3);
        // Shed and refused connections still finishing count until they end.
        assert_eq!(t.lock().leaving, 3);
        drop((a1, a2, a3, a4, b1, refused));
        assert_eq!(t.lock().leaving, 0);
        assert_eq!(stats.open.load(Relaxed), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_table_of_busy_fair_peers_waits() {
        let t = table(2, 1, 1000);
        let a1 = t.admit(A, false);
        let b1 = t.admit(B, false);
        // Full, nobody idle, nobody past their share: new connections wait in the backlog.
        let waiting = tokio::time::timeout(Duration::from_millis(500), t.wait_for_room()).await;
        assert!(waiting.is_err());
        drop(b1);
        t.wait_for_room().await;
        // And once someone has been idle long enough, there is room again.
        let _b2 = t.admit(B, false);
        tokio::time::timeout(Duration::from_millis(1100), t.wait_for_room())
            .await
            .expect("idle connections make room");
        drop(a1);
    }

    #[test]
    fn peers_are_v4_addresses_v6_blocks_and_one_local() {
        let k = |s: &str| PeerKey::of(&s.parse().unwrap());
        assert_eq!(k("[::ffff:10.0.0.1]:5"), A);
        assert_eq!(k("[2001:db8::1]:1"), k("[2001:db8::2]:2"));
        assert_ne!(k("[2001:db8::1]:1"), k("[2001:db8:0:1::1]:1"));
        assert_ne!(k("127.0.0.1:1"), k("127.0.0.2:1"));
    }
}
