//! Pairwise quality: which record pairs the matcher put together, against the truth.
//!
//! A predicted pair is two records that ended in one cluster (the same customer, or for
//! "same+possible" customers joined through a review-queue pair), so the prediction is
//! transitively closed by construction. The true pairs are closed the same way (their
//! connected components), which changes nothing when the set lists every pair of a
//! group, as FEBRL does; the output prints both counts to show it.

use std::collections::HashMap;

/// Union-find over record indexes.
pub struct Clusters {
    parent: Vec<usize>,
}

impl Clusters {
    pub fn new(n: usize) -> Clusters {
        Clusters {
            parent: (0..n).collect(),
        }
    }

    pub fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    pub fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[a.max(b)] = a.min(b);
        }
    }

    /// Cluster label of every record.
    pub fn labels(&mut self) -> Vec<usize> {
        (0..self.parent.len()).map(|i| self.find(i)).collect()
    }
}

/// Precision, recall and F1 of pairs, with their counts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quality {
    pub predicted: u64,
    pub true_pairs: u64,
    pub correct: u64,
}

impl Quality {
    pub fn precision(&self) -> f64 {
        ratio(self.correct, self.predicted)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.correct, self.true_pairs)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Pairs of records in one predicted cluster, against pairs in one true cluster.
/// `counts(i, j)` says whether a pair is in scope (all pairs when deduplicating one
/// file; only pairs across the two files when linking).
pub fn quality(
    predicted: &[usize],
    truth: &[usize],
    counts: impl Fn(usize, usize) -> bool,
) -> Quality {
    let pairs_in = |labels: &[usize]| {
        let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
        for (record, label) in labels.iter().enumerate() {
            groups.entry(*label).or_default().push(record);
        }
        groups
    };
    let mut quality = Quality::default();
    for members in pairs_in(predicted).values() {
        for (k, &i) in members.iter().enumerate() {
            for &j in &members[k + 1..] {
                if counts(i, j) {
                    quality.predicted += 1;
                    if truth[i] == truth[j] {
                        quality.correct += 1;
                    }
                }
            }
        }
    }
    for members in pairs_in(truth).values() {
        for (k, &i) in members.iter().enumerate() {
            for &j in &members[k + 1..] {
                if counts(i, j) {
                    quality.true_pairs += 1;
                }
            }
        }
    }
    quality
}

/// Mean and 99th percentile of candidate counts.
pub fn mean_p99(values: &[usize]) -> (f64, usize) {
    if values.is_empty() {
        return (0.0, 0);
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let mean = sorted.iter().sum::<usize>() as f64 / sorted.len() as f64;
    let p99 = sorted[((sorted.len() as f64 * 0.99).ceil() as usize).clamp(1, sorted.len()) - 1];
    (mean, p99)
}
