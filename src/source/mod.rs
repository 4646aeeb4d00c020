//! Listeners: sockets in, decoded records out to the intake queue. All socket I/O lives here.
//! Each listener binds to loopback by default and costs a bad sender only its own connection or datagram.

pub mod budget;
pub mod conns;
pub mod http;
pub mod pool;
pub mod redis;
pub mod redis_backfill;
pub mod redis_dedupe;
pub mod redis_history;
pub mod redis_list;
pub mod redis_topology;
pub mod shutdown;
pub mod tcp;
pub mod udp;

pub use shutdown::{Phase, Shutdown, ShutdownController};

/// What every listener shares: one byte budget for big unfinished frames and bodies, and one
/// pool of decoder threads for big payloads. Cheap to clone.
#[derive(Clone)]
pub struct Shared {
    pub budget: budget::ByteBudget,
    pub pool: pool::DecodePool,
}

impl Shared {
    /// A budget of `max_buffered` bytes and a decoder thread per core.
    pub fn new(max_buffered: usize) -> Shared {
        Shared {
            budget: budget::ByteBudget::new(max_buffered),
            pool: pool::DecodePool::per_core(),
        }
    }
}
