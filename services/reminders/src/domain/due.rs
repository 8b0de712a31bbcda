//! When reminders fall due, and which ones a rep asks to see.

/// Reminders returned by `ListDue` when the caller gives no limit.
pub const DEFAULT_LIST_LIMIT: u32 = 100;
/// The most reminders one `ListDue` returns.
pub const MAX_LIST_LIMIT: u32 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DueWindowError {
    #[error("must not be negative; give 0s for reminders due now, or a positive horizon")]
    Negative,
}

/// The latest due time (UTC ms) `ListDue` includes: `now` plus the horizon given as
/// seconds and nanoseconds (a `google.protobuf.Duration`; none means now).
pub fn due_horizon(now: i64, within: Option<(i64, i32)>) -> Result<i64, DueWindowError> {
    let Some((seconds, nanos)) = within else {
        return Ok(now);
    };
    if seconds < 0 || nanos < 0 {
        return Err(DueWindowError::Negative);
    }
    let millis = seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(nanos / 1_000_000));
    Ok(now.saturating_add(millis))
}

/// 0 means the default; anything above the maximum is capped to it.
pub fn list_limit(requested: u32) -> u32 {
    match requested {
        0 => DEFAULT_LIST_LIMIT,
        n => n.min(MAX_LIST_LIMIT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_adds_the_duration_to_now() {
        assert_eq!(due_horizon(10_000, None), Ok(10_000));
        assert_eq!(due_horizon(10_000, Some((0, 0))), Ok(10_000));
        assert_eq!(
            due_horizon(10_000, Some((48 * 3600, 0))),
            Ok(10_000 + 172_800_000)
        );
        assert_eq!(due_horizon(10_000, Some((1, 500_000_000))), Ok(11_500));
        assert_eq!(due_horizon(10_000, Some((i64::MAX, 0))), Ok(i64::MAX));
    }

    #[test]
    fn negative_horizons_are_refused() {
        assert_eq!(
            due_horizon(10_000, Some((-1, 0))),
            Err(DueWindowError::Negative)
        );
        assert_eq!(
            due_horizon(10_000, Some((0, -1))),
            Err(DueWindowError::Negative)
        );
    }

    #[test]
    fn limit_defaults_to_100_and_caps_at_1000() {
        assert_eq!(list_limit(0), 100);
        assert_eq!(list_limit(7), 7);
        assert_eq!(list_limit(5_000), 1000);
    }
}
