//! Readiness by polling: tests never sleep a fixed time hoping something is up.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use anyhow::bail;
use tokio::time::Instant;

/// Calls `probe` every `interval` until it returns `Ok`, or fails after `timeout` naming
/// `what` was awaited and the last `Err` the probe gave (say there why it is not ready yet).
/// Use it in tests for "eventually" assertions too.
pub async fn poll_until<T, E, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut probe: F,
) -> anyhow::Result<T>
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe().await {
            Ok(value) => return Ok(value),
            Err(reason) => reason,
        };
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}; last: {last}");
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_value_produced() {
        let mut calls = 0;
        let value = poll_until("third call", Duration::from_secs(5), Duration::ZERO, || {
            calls += 1;
            let seen = calls;
            async move {
                if seen == 3 {
                    Ok(seen)
                } else {
                    Err(format!("only {seen} calls"))
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn times_out_naming_what_it_waited_for_and_why() {
        let err = poll_until::<(), _, _, _>(
            "godot",
            Duration::from_millis(20),
            Duration::from_millis(5),
            || async { Err("not here yet") },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("godot"), "{err}");
        assert!(err.contains("not here yet"), "{err}");
    }
}
