//! Timestamps: the stores keep UTC milliseconds since the epoch; the contracts use
//! `google.protobuf.Timestamp`. These are the only conversions between the two.

use prost_types::Timestamp;

/// UTC milliseconds since the Unix epoch for a protobuf timestamp.
pub fn to_millis(ts: &Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(ts.nanos) / 1_000_000)
}

/// Protobuf timestamp for UTC milliseconds since the Unix epoch.
pub fn from_millis(millis: i64) -> Timestamp {
    Timestamp {
        seconds: millis.div_euclid(1000),
        // rem_euclid(1000) is in 0..1000, so the product fits in i32.
        nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Current time as UTC milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_including_before_epoch() {
        for millis in [0, 1, 999, 1_000, 1_700_000_000_123, -1, -1_001] {
            assert_eq!(to_millis(&from_millis(millis)), millis);
        }
    }
}
