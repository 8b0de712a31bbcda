//! The time assignment decides by: the system clock, or in tests a clock they move
//! (recycling after N days must be testable without waiting N days).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use shangji_contracts::time::now_millis;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// None: the system clock. Some: a time in UTC ms that only the test moves.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock standing at `start` (UTC ms) until moved.
    pub fn manual(start: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(start))),
        }
    }

    pub fn now(&self) -> i64 {
        match &self.manual {
            Some(at) => at.load(Ordering::SeqCst),
            None => now_millis(),
        }
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, millis: i64) {
        if let Some(at) = &self.manual {
            at.fetch_add(millis, Ordering::SeqCst);
        }
    }
}
