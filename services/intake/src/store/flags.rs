//! Screening's SQL: flagged leads with their reasons and a person's decision, and the
//! flood counters.

use std::collections::HashMap;

use prost::Message as _;
use sha2::{Digest as _, Sha256};
use shangji_contracts::intake::ScreeningFlag;
use shangji_platform::{Db, Tx};
use sqlx::AnyConnection;

use crate::domain::screening::flood::Subject;

/// `FlagState` values as stored.
pub const PENDING: i32 = 1;

/// A flagged lead with what the review queue shows of it.
#[derive(Debug, sqlx::FromRow)]
pub struct FlagRow {
    pub lead_id: String,
    /// The `ScreeningFlag` messages, each length-delimited.
    pub flags: Vec<u8>,
    pub state: i32,
    pub flagged_at: i64,
    pub decided_by: String,
    pub decided_at: i64,
    pub note: String,
    pub lead: Vec<u8>,
    pub attribution: Option<Vec<u8>>,
    pub channel: String,
    pub received_at: i64,
}

const FLAG_COLUMNS: &str = "f.lead_id, f.flags, f.state, f.flagged_at, f.decided_by, f.decided_at,
     f.note, l.lead, l.attribution, l.channel, l.received_at
     FROM lead_flags f JOIN leads l ON l.tenant_id = f.tenant_id AND l.lead_id = f.lead_id";

/// The flags as stored: each message length-delimited, one after the other.
pub fn encode_flags(flags: &[ScreeningFlag]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for flag in flags {
        // Encoding only fails for lack of room, and a Vec grows as needed.
        flag.encode_length_delimited(&mut bytes)
            .expect("a Vec has room for any message");
    }
    bytes
}

pub fn decode_flags(mut bytes: &[u8]) -> Result<Vec<ScreeningFlag>, prost::DecodeError> {
    let mut flags = Vec::new();
    while !bytes.is_empty() {
        flags.push(ScreeningFlag::decode_length_delimited(&mut bytes)?);
    }
    Ok(flags)
}

/// Records why a just-stored lead was held back.
pub async fn insert_flag(
    tx: &mut Tx,
    tenant_id: &str,
    lead_id: &str,
    flags: &[u8],
    codes: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO lead_flags (tenant_id, lead_id, flags, codes, state, flagged_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .bind(flags)
    .bind(codes)
    .bind(PENDING)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A person's decision on a pending flag. Returns false (changing nothing) when the flag
/// is not pending (any more): on PostgreSQL a concurrent decision holds the row until it
/// commits, and this one then finds it decided.
pub async fn decide(
    tx: &mut Tx,
    tenant_id: &str,
    lead_id: &str,
    state: i32,
    decided_by: &str,
    note: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE lead_flags SET state = $3, decided_by = $4, decided_at = $5, note = $6
         WHERE tenant_id = $1 AND lead_id = $2 AND state = $7",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .bind(state)
    .bind(decided_by)
    .bind(now)
    .bind(note)
    .bind(PENDING)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The lead's status in the leads table (released: received; discarded).
pub async fn set_lead_status(
    tx: &mut Tx,
    tenant_id: &str,
    lead_id: &str,
    status: i32,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE leads SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND lead_id = $2",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .bind(status)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn load_flag(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Option<FlagRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FLAG_COLUMNS} WHERE f.tenant_id = $1 AND f.lead_id = $2"
    )))
    .bind(tenant_id)
    .bind(lead_id)
    .fetch_optional(conn)
    .await
}

/// One page of flagged leads in `state`, in arrival order after `after_lead_id`; only
/// those with one of the reasons in `code_bits` unless it is 0.
pub async fn list_flags(
    db: &Db,
    tenant_id: &str,
    state: i32,
    code_bits: i64,
    after_lead_id: &str,
    limit: i64,
) -> Result<Vec<FlagRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FLAG_COLUMNS}
         WHERE f.tenant_id = $1 AND f.state = $2 AND f.lead_id > $3
           AND ($4 = 0 OR (f.codes & $4) <> 0)
         ORDER BY f.lead_id LIMIT $5"
    )))
    .bind(tenant_id)
    .bind(state)
    .bind(after_lead_id)
    .bind(code_bits)
    .bind(limit)
    .fetch_all(db.reader())
    .await
}

/// The key a subject is counted under: its kind and a hash of its value, so the counter
/// table holds no phone numbers, addresses or client IPs.
fn subject_key(subject: &Subject) -> String {
    let digest = Sha256::digest(subject.value.as_bytes());
    format!("{}:{}", subject.kind.as_str(), hex::encode(&digest[..16]))
}

/// A subject's counts after a group's submissions were added.
#[derive(Debug, sqlx::FromRow)]
struct CountRow {
    tenant_id: String,
    subject: String,
    submissions: i64,
    previous: i64,
}

/// One subject counted `added` times by a group of submissions.
pub struct Tally<'a> {
    pub tenant_id: &'a str,
    pub subject: &'a Subject,
    pub added: i64,
}

/// A subject's counts once its tally was added: (count in the current window, count
/// in the previous one).
pub type Counts = (i64, i64);

/// Adds each tally to its subject's counter (the subjects distinct) in one upsert and
/// returns the counts after it, in the order given. A window that has passed rolls over
/// in the same statement: the current count becomes the previous one (or 0 after a
/// quiet window) and counting starts again from the tally.
pub async fn count_submissions(
    tx: &mut Tx,
    tallies: &[Tally<'_>],
    window_start: i64,
    window_ms: i64,
) -> Result<Vec<Counts>, sqlx::Error> {
    let keys: Vec<String> = tallies.iter().map(|t| subject_key(t.subject)).collect();
    // Every replica's committers lock the counters in the same order, so two groups on
    // PostgreSQL cannot deadlock over the same subjects.
    let mut order: Vec<usize> = (0..tallies.len()).collect();
    order.sort_by(|&a, &b| (tallies[a].tenant_id, &keys[a]).cmp(&(tallies[b].tenant_id, &keys[b])));
    let mut rows = Vec::with_capacity(tallies.len());
    // Three parameters a row keeps every statement far below the bind limits.
    for chunk in order.chunks(500) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, $1, ${}, 0)", 3 * i + 3, 3 * i + 4, 3 * i + 5))
            .collect();
        // SET expressions all read the row as it was before the update.
        let sql = format!(
            "INSERT INTO screening_counters (tenant_id, subject, window_start, submissions, previous)
             VALUES {}
             ON CONFLICT (tenant_id, subject) DO UPDATE SET
               previous = CASE
                 WHEN screening_counters.window_start = excluded.window_start
                   THEN screening_counters.previous
                 WHEN screening_counters.window_start = excluded.window_start - $2
                   THEN screening_counters.submissions
                 ELSE 0 END,
               submissions = CASE
                 WHEN screening_counters.window_start = excluded.window_start
                   THEN screening_counters.submissions + excluded.submissions
                 ELSE excluded.submissions END,
               window_start = excluded.window_start
             RETURNING tenant_id, subject, submissions, previous",
            values.join(", ")
        );
        let mut query = sqlx::query_as::<_, CountRow>(sqlx::AssertSqlSafe(sql))
            .bind(window_start)
            .bind(window_ms);
        for &i in chunk {
            query = query
                .bind(tallies[i].tenant_id)
                .bind(&keys[i])
                .bind(tallies[i].added);
        }
        rows.extend(query.fetch_all(&mut **tx).await?);
    }
    let counted: HashMap<(String, String), Counts> = rows
        .into_iter()
        .map(|r| ((r.tenant_id, r.subject), (r.submissions, r.previous)))
        .collect();
    Ok(tallies
        .iter()
        .zip(keys)
        .map(|(tally, key)| {
            counted
                .get(&(tally.tenant_id.to_owned(), key))
                .copied()
                .unwrap_or((tally.added, 0))
        })
        .collect())
}

/// Drops the counters of subjects quiet since `before` (they count 0 either way).
pub async fn prune_counters(db: &Db, tenant_id: &str, before: i64) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done =
        sqlx::query("DELETE FROM screening_counters WHERE tenant_id = $1 AND window_start < $2")
            .bind(tenant_id)
            .bind(before)
            .execute(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
