//! One byte budget shared by every listener for the frames and bodies they hold unfinished,
//! so many connections at `max_frame` each wait their turn instead of exhausting memory.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Budget granularity; also what a frame of up to a read chunk costs (it needs no reservation).
const UNIT: usize = 64 * 1024;

/// How long a connection may hold part of the budget: one that has not finished its frame
/// or body by then is cut off, so a trickling sender cannot keep the budget from the rest.
pub const HOLD_LIMIT: Duration = Duration::from_secs(60);

/// A process-wide budget of buffered bytes. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ByteBudget {
    units: Arc<Semaphore>,
    total: u32,
}

/// Bytes held against the budget; dropping it gives them back.
#[derive(Debug)]
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
    /// When the holder must be done: granted plus [`HOLD_LIMIT`].
    pub deadline: Instant,
}

impl ByteBudget {
    /// A budget of `bytes` (at least one frame's worth of units is always grantable).
    pub fn new(bytes: usize) -> ByteBudget {
        let total = u32::try_from(bytes.div_ceil(UNIT).max(1)).unwrap_or(u32::MAX >> 4);
        ByteBudget {
            units: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// Waits until `bytes` can be held, then holds them. A request larger than the whole
    /// budget is granted the whole budget, so it waits for everyone else but never forever.
    /// None only if the budget were closed, which it never is.
    pub async fn reserve(&self, bytes: usize) -> Option<Reservation> {
        let want = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total);
        let permit = self.units.clone().acquire_many_owned(want).await.ok()?;
        Some(Reservation {
            _permit: permit,
            deadline: Instant::now() + HOLD_LIMIT,
        })
    }

    /// Bytes not held by anyone, for tests and stats.
    pub fn available(&self) -> usize {
        self.units.available_permits() * UNIT
    }

    /// Bytes held now, in the budget's own units (what the stats line shows).
    pub fn held(&self) -> usize {
        (self.total as usize).saturating_sub(self.units.available_permits()) * UNIT
    }

    /// Whether a frame of `bytes` needs a reservation: small ones live in the read chunk
    /// every connection already has.
    pub fn needs_reservation(bytes: usize) -> bool {
        bytes > UNIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holders_wait_their_turn_and_give_back_on_drop() {
        let b = ByteBudget::new(4 * UNIT);
        let a = b.reserve(3 * UNIT).await.unwrap();
        assert_eq!(b.available(), UNIT);
        assert_eq!(b.held(), 3 * UNIT);
        let waiting = {
            let b = b.clone();
            tokio::spawn(async move { b.reserve(2 * UNIT).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(a);
        let r = waiting.await.unwrap();
        assert_eq!(b.available(), 2 * UNIT);
        drop(r);
        // Larger than the whole budget: granted all of it, not refused forever.
        let all = b.reserve(100 * UNIT).await.unwrap();
        assert_eq!(b.available(), 0);
        drop(all);
        assert_eq!(b.available(), 4 * UNIT);
        assert_eq!(b.held(), 0);
    }
}
