//! Field comparators: how alike two normalised values are, from 0 (nothing alike) to 1
//! (equal). Each is symmetric and total.

use std::collections::BTreeSet;

/// Jaro-Winkler: forgiving of typos near the end, suited to names.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    strsim::jaro_winkler(a, b)
}

/// 1 - edit distance / length of the longer, on characters (hanzi count as one each).
pub fn edit_similarity(a: &str, b: &str) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    strsim::normalized_damerau_levenshtein(a, b)
}

/// Edits (insert, delete, substitute, swap neighbours) between two short values.
pub fn edits(a: &str, b: &str) -> usize {
    strsim::damerau_levenshtein(a, b)
}

/// Share of distinct words the two have in common (Jaccard), order ignored.
pub fn token_similarity<S: AsRef<str>>(a: &[S], b: &[S]) -> f64 {
    let a: BTreeSet<&str> = a.iter().map(AsRef::as_ref).collect();
    let b: BTreeSet<&str> = b.iter().map(AsRef::as_ref).collect();
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / a.union(&b).count() as f64
}

/// Dice coefficient over character bigrams: robust to words moved around and to
/// insertions in the middle, suited to addresses.
pub fn qgram_similarity(a: &str, b: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    if a == b {
        return 1.0;
    }
    strsim::sorensen_dice(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparators_are_one_for_equal_values_and_symmetric() {
        let pairs = [
            ("wangwei", "wangwie"),
            ("王伟", "王炜"),
            ("12 main street", "main st 12"),
            ("", "x"),
        ];
        for (a, b) in pairs {
            for f in [jaro_winkler, edit_similarity, qgram_similarity] {
                assert!((f(a, b) - f(b, a)).abs() < 1e-12, "{a} {b}");
                assert!((0.0..=1.0).contains(&f(a, b)));
            }
        }
        assert_eq!(jaro_winkler("wangwei", "wangwei"), 1.0);
        assert!(jaro_winkler("wangwei", "wangwie") > 0.9);
        assert!(jaro_winkler("smith", "oconnor") < 0.5);
        assert_eq!(edit_similarity("王伟", "王炜"), 0.5);
        assert_eq!(edits("19800101", "19800110"), 1);
        assert_eq!(token_similarity(&["wang", "wei"], &["wei", "wang"]), 1.0);
        assert_eq!(token_similarity::<&str>(&[], &["wei"]), 0.0);
        assert!(qgram_similarity("12 main street", "main street 12") > 0.7);
    }
}
