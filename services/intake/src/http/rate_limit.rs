//! Posts per minute per client address and form, counted in memory per replica (a
//! limit of N per minute allows up to N per replica behind a load balancer).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked clients, expired windows are dropped.
const PRUNE_AT: usize = 50_000;

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

struct Window {
    started: Instant,
    count: u32,
}

impl RateLimiter {
    /// Counts one post for `key`; Err(wait) when it is over `limit` in the current
    /// minute, with how long until the window ends.
    pub fn check(&self, key: &str, limit: u32, now: Instant) -> Result<(), Duration> {
        // The map stays consistent whatever panicked while holding the lock.
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() >= PRUNE_AT {
            windows.retain(|_, w| now.duration_since(w.started) < WINDOW);
        }
        let window = windows.entry(key.to_owned()).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        if window.count >= limit {
            return Err(WINDOW.saturating_sub(now.duration_since(window.started)));
        }
        window.count += 1;
        Ok(())
    }
}

/// Whole seconds to wait, rounded up (Retry-After), at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_limit_waits_for_the_next_minute() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        assert!(limiter.check("acme/f/1.2.3.4", 2, t0).is_ok());
        assert!(limiter.check("acme/f/1.2.3.4", 2, t0).is_ok());
        let wait = limiter
            .check("acme/f/1.2.3.4", 2, t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(retry_after_secs(wait), 40);
        // Another client is not held back.
        assert!(limiter.check("acme/f/5.6.7.8", 2, t0).is_ok());
        // A new minute, a new allowance.
        assert!(
            limiter
                .check("acme/f/1.2.3.4", 2, t0 + Duration::from_secs(61))
                .is_ok()
        );
    }
}
