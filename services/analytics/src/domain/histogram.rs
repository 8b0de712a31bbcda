//! A compact duration sketch: log-scaled buckets, each 10% wider than the last, so a
//! slice keeps a few dozen counters instead of every value, and a quantile read from
//! them is within about 5% of the true one. Buckets add, so slices merge by summing.

/// Bucket growth factor: the relative width of a bucket.
const GROWTH: f64 = 1.1;
/// Durations are measured in hours; below one hour everything shares bucket 0.
const MILLIS_PER_HOUR: f64 = 3_600_000.0;
const HOURS_PER_DAY: f64 = 24.0;

/// The bucket of a duration in milliseconds (negative durations count as zero).
pub fn bucket_of(millis: i64) -> i64 {
    let hours = millis.max(0) as f64 / MILLIS_PER_HOUR;
    if hours < 1.0 {
        0
    } else {
        (hours.ln() / GROWTH.ln()).floor() as i64 + 1
    }
}

/// A representative duration of a bucket, in days: the geometric middle of its range.
pub fn bucket_days(bucket: i64) -> f64 {
    if bucket <= 0 {
        return 0.5 / HOURS_PER_DAY;
    }
    let low = GROWTH.powf((bucket - 1) as f64);
    low * GROWTH.sqrt() / HOURS_PER_DAY
}

/// The `q` quantile (0..=1) in days of a histogram given as (bucket, count) pairs in
/// any order; `None` when it is empty.
pub fn quantile_days(buckets: &[(i64, u64)], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let mut sorted = buckets.to_vec();
    sorted.sort_unstable();
    // The smallest value with at least q of the values at or below it.
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (bucket, n) in sorted {
        seen += n;
        if seen >= rank {
            return Some(bucket_days(bucket));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn quantiles_are_within_five_percent() {
        // 1..=100 days, one value each.
        let mut counts = std::collections::BTreeMap::new();
        for d in 1..=100 {
            *counts.entry(bucket_of(d * DAY)).or_insert(0u64) += 1;
        }
        let buckets: Vec<_> = counts.into_iter().collect();
        assert!(buckets.len() < 40, "compact: {} buckets", buckets.len());
        let median = quantile_days(&buckets, 0.5).expect("median");
        let p90 = quantile_days(&buckets, 0.9).expect("p90");
        assert!((median - 50.0).abs() / 50.0 < 0.06, "median {median}");
        assert!((p90 - 90.0).abs() / 90.0 < 0.06, "p90 {p90}");
    }

    #[test]
    fn short_negative_and_empty() {
        assert_eq!(bucket_of(-5), 0);
        assert_eq!(bucket_of(59 * 60_000), 0);
        assert_eq!(bucket_of(3_600_000), 1);
        assert_eq!(quantile_days(&[], 0.5), None);
        assert_eq!(quantile_days(&[(0, 0)], 0.5), None);
        let single = quantile_days(&[(bucket_of(10 * DAY), 1)], 0.9).expect("one value");
        assert!((single - 10.0).abs() < 0.5, "{single}");
    }
}
