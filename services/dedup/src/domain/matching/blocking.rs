//! Blocking keys: the coarse keys under which a customer is filed so that a lead is
//! compared with the few hundred customers sharing one of its keys, never with all.
//!
//! Several keys per record keep recall high when one field is missing or mistyped:
//! exact phone and e-mail, the mailbox name, every spelling of the full name (so 王伟
//! and "Wei Wang" share `nm:wangwei`), surname with the account key, birth date,
//! national id, and surname or given-name prefixes with postcode. Keys are plain strings
//! with a short kind prefix; their meaning never depends on the database.

use super::profile::ParsedProfile;

/// Mailbox names that many people share (`info@`, `sales@`) say nothing about a person.
const SHARED_MAILBOXES: &[&str] = &[
    "info", "sales", "admin", "contact", "service", "support", "office", "hr", "hello", "mail",
];

/// A record's blocking keys, sorted and without repeats.
pub fn blocking_keys(profile: &ParsedProfile) -> Vec<String> {
    let mut keys = Vec::new();
    for phone in &profile.phones {
        keys.push(format!("ph:{phone}"));
    }
    for email in &profile.emails {
        keys.push(format!("em:{email}"));
        if let Some((local, _)) = email.split_once('@')
            && local.chars().count() >= 4
            && !SHARED_MAILBOXES.contains(&local)
        {
            keys.push(format!("el:{local}"));
        }
    }
    let accounts: Vec<&str> = profile.companies.iter().map(|c| c.key.as_str()).collect();
    for name in &profile.names {
        if !name.surname_only {
            for spelling in &name.spellings {
                keys.push(format!("nm:{spelling}"));
            }
        }
        for surname in &name.surnames {
            for account in &accounts {
                keys.push(format!("sa:{surname}|{account}"));
            }
            for postcode in &profile.postcodes {
                keys.push(format!("sp:{surname}|{postcode}"));
            }
        }
        // Given-name prefix with postcode: finds a surname mistyped or changed.
        if name.surname_only {
            continue;
        }
        for postcode in &profile.postcodes {
            for token in &name.tokens {
                if !name.surnames.contains(token) {
                    let prefix: String = token.chars().take(3).collect();
                    keys.push(format!("gp:{prefix}|{postcode}"));
                }
            }
        }
    }
    for date in &profile.birth_dates {
        keys.push(format!("bd:{date}"));
    }
    for id in &profile.national_ids {
        keys.push(format!("id:{id}"));
    }
    keys.sort();
    keys.dedup();
    keys
}

/// How many partitions fuzzy decisions are serialised over per tenant: enough that
/// unrelated leads rarely wait on each other, few enough that the lock table stays small.
pub const PARTITIONS: u64 = 4096;

/// The partitions a lead's matching must hold, ascending (every replica takes them in
/// one order, so two leads can wait on each other but never deadlock). Two leads that
/// could be each other's candidates share a blocking key, hence a partition.
pub fn partitions(keys: &[String]) -> Vec<i64> {
    let mut partitions: Vec<i64> = keys
        .iter()
        .map(|key| (fnv1a(key.as_bytes()) % PARTITIONS) as i64)
        .collect();
    partitions.sort_unstable();
    partitions.dedup();
    partitions
}

/// FNV-1a: stable across processes and versions, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The customers a lead is compared with, best evidence first, at most `max`.
///
/// `found` holds, per blocking key of the lead (by key number), the customers filed
/// under it. A key shared by few customers says more than one shared by dozens (a
/// common name, a big company), so each key gives each of its customers 1/n, n being
/// how many it found, and a customer's evidence is the sum over the keys that found
/// it. Comparing only the best-supported `max` keeps a check's cost flat however
/// common the lead's name is: at a million customers a lead's keys find ~40 customers
/// on average and up to ~170, and the true match is nearly always among the few with
/// the most specific shared keys. Ties keep the order found (key by key).
pub fn shortlist(found: &[(i64, String)], max: usize) -> Vec<String> {
    use std::collections::{HashMap, HashSet};
    let mut distinct: HashSet<(i64, &str)> = HashSet::with_capacity(found.len());
    let mut per_key: HashMap<i64, usize> = HashMap::new();
    for (key_no, id) in found {
        // A customer filed twice under one key (itself and one merged into it) counts once.
        if distinct.insert((*key_no, id.as_str())) {
            *per_key.entry(*key_no).or_default() += 1;
        }
    }
    let mut evidence: Vec<(&str, f64)> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    let mut counted: HashSet<(i64, &str)> = HashSet::with_capacity(found.len());
    for (key_no, id) in found {
        if !counted.insert((*key_no, id.as_str())) {
            continue;
        }
        let weight = 1.0 / per_key[key_no] as f64;
        match position.get(id.as_str()) {
            Some(&at) => evidence[at].1 += weight,
            None => {
                position.insert(id, evidence.len());
                evidence.push((id, weight));
            }
        }
    }
    evidence.sort_by(|a, b| b.1.total_cmp(&a.1));
    evidence
        .into_iter()
        .take(max)
        .map(|(id, _)| id.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::matching::profile::MatchProfile;

    fn keys(profile: MatchProfile) -> Vec<String> {
        blocking_keys(&ParsedProfile::from(&profile))
    }

    fn found(rows: &[(i64, &str)]) -> Vec<(i64, String)> {
        rows.iter().map(|(k, id)| (*k, (*id).to_owned())).collect()
    }

    #[test]
    fn specific_shared_keys_outrank_common_ones() {
        // Key 0 (a common name) finds four customers, key 1 (the company) two, key 2
        // (a mailbox name) one: c found by keys 1 and 2 leads, d (key 1) comes next,
        // then the ones only the common name found, in the order found.
        let rows = found(&[
            (0, "a"),
            (0, "b"),
            (0, "c"),
            (0, "e"),
            (1, "c"),
            (1, "d"),
            (2, "c"),
        ]);
        assert_eq!(shortlist(&rows, 10), ["c", "d", "a", "b", "e"]);
        assert_eq!(shortlist(&rows, 2), ["c", "d"], "at most max");
        assert!(shortlist(&[], 10).is_empty());
    }

    #[test]
    fn a_customer_twice_under_one_key_counts_once() {
        // "s" found under key 0 as itself and as the survivor of a merged customer.
        let rows = found(&[(0, "s"), (0, "s"), (0, "t"), (1, "t"), (1, "u")]);
        // Key 0 has two customers (s, t), key 1 two (t, u): t has 1/2 + 1/2.
        assert_eq!(shortlist(&rows, 10), ["t", "s", "u"]);
    }

    #[test]
    fn hanzi_and_latin_spellings_of_one_name_share_a_key() {
        let hanzi = keys(MatchProfile {
            names: vec!["王伟".into()],
            companies: vec!["北京华为科技有限公司".into()],
            ..MatchProfile::default()
        });
        let latin = keys(MatchProfile {
            names: vec!["Wei Wang".into()],
            companies: vec!["Huawei Technologies".into()],
            ..MatchProfile::default()
        });
        assert!(hanzi.contains(&"nm:wangwei".to_owned()), "{hanzi:?}");
        assert!(latin.contains(&"nm:wangwei".to_owned()), "{latin:?}");
        assert!(hanzi.contains(&"sa:wang|huawei".to_owned()));
        assert!(latin.contains(&"sa:wang|huawei".to_owned()));
    }

    #[test]
    fn a_surname_with_a_title_is_filed_under_surname_and_company_only() {
        let keys = keys(MatchProfile {
            names: vec!["王先生".into()],
            companies: vec!["华为".into()],
            emails: vec!["info@huawei.com".into()],
            ..MatchProfile::default()
        });
        assert_eq!(keys, ["em:info@huawei.com", "sa:wang|huawei"]);
    }

    #[test]
    fn partitions_are_stable_sorted_and_shared_by_shared_keys() {
        let a = partitions(&["nm:wangwei".into(), "ph:13800138000".into()]);
        let b = partitions(&["nm:wangwei".into(), "sa:wang|huawei".into()]);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert!(a.iter().any(|p| b.contains(p)));
        assert_eq!(
            partitions(&["nm:wangwei".into()]),
            partitions(&["nm:wangwei".into()])
        );
        assert!(a.iter().all(|p| (0..PARTITIONS as i64).contains(p)));
    }
}
