//! Group commit: submissions that arrive together share one transaction.
//!
//! SQLite takes one writer at a time, and every statement is a round trip to the
//! connection's thread. Stored alone, a submission kept intake's one writer for about
//! six statements (flood counters, lead, trail step, idempotency key, outbox, commit);
//! under load the submissions queued for it, and that queue was the acknowledgement
//! latency. Committed as a group, the idempotency check, the flood counters, the leads,
//! steps, idempotency keys and events each take one multi-row statement per group (each
//! submission still sees the flood count as it was right after it was added).
//!
//! Nothing waits to fill a group: the committer takes whatever is queued when it becomes
//! free, so a lone submission commits at once and a burst shares commits. If a group's
//! transaction fails (a concurrent retry with the same idempotency key, say), each of its
//! submissions is committed alone, so one cannot fail the others. A submission's answer
//! is sent only after its transaction committed.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::FutureExt as _;
use shangji_contracts::common::{Attribution, Lead};
use shangji_contracts::intake::{ScreeningCode, SubmitLeadResponse};
use shangji_contracts::time::now_millis;
use shangji_platform::db::Backend;
use shangji_platform::grpc::RequestContext;
use shangji_platform::idempotency::{self, Earlier, Remembered};
use shangji_platform::{Db, Tx};
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::Instrument as _;

use super::SUBMIT_LEAD;
use super::screened::{ScreenedLead, store_screened};
use crate::domain::screening::flood::{self, FloodLimits, Subject};
use crate::domain::screening::{self, Flag};
use crate::store;
use crate::store::flags::Tally;

/// Most submissions in one transaction.
const MAX_GROUP: usize = 128;
/// Submissions waiting for a committer before callers wait to queue.
const QUEUE: usize = 1024;
/// Committers on PostgreSQL, where several transactions can commit at once; SQLite
/// has one writer, so one committer.
const POSTGRES_COMMITTERS: usize = 4;
/// Stale flood counters are pruned once every this many counted submissions.
const PRUNE_EVERY: u64 = 1024;

/// What became of a submission.
pub enum Stored {
    /// Stored now, with this answer.
    Now(SubmitLeadResponse),
    /// Its idempotency key was used before: what that call stored (the same answer for
    /// a retry; a different request's for a reused key, which the caller refuses).
    Before(Earlier),
}

/// A checked submission on its way to the database.
pub struct Submitted {
    pub ctx: RequestContext,
    pub lead_id: String,
    pub lead: Lead,
    pub attribution: Attribution,
    pub schema_version: i64,
    /// The idempotency key (trimmed) and the request's fingerprint.
    pub key: String,
    pub hash: String,
    /// The sender's address, for channels where it is the person's (web forms).
    pub client_address: Option<String>,
}

struct Pending {
    submitted: Submitted,
    /// The request's span: the lead's event carries its trace.
    span: tracing::Span,
    reply: oneshot::Sender<Result<Stored, sqlx::Error>>,
}

/// Hands submissions to the committers.
pub struct GroupCommit {
    queue: mpsc::Sender<Pending>,
}

/// What the committers share.
struct Committer {
    db: Db,
    /// From the service's settings: how many submissions per contact or client address
    /// within the window before a lead is flagged as a flood.
    flood_limits: FloodLimits,
    /// Submissions counted for floods since start, to prune stale counters now and then.
    counted: AtomicU64,
    /// `counted / PRUNE_EVERY` when counters were last pruned.
    pruned_round: AtomicU64,
}

impl GroupCommit {
    /// Starts the committers; they stop when this is dropped and the queue is empty.
    pub fn start(db: Db, flood_limits: FloodLimits) -> GroupCommit {
        let (queue, received) = mpsc::channel(QUEUE);
        let received = Arc::new(Mutex::new(received));
        let committers = match db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_COMMITTERS,
        };
        let committer = Arc::new(Committer {
            db,
            flood_limits,
            counted: AtomicU64::new(0),
            pruned_round: AtomicU64::new(0),
        });
        for _ in 0..committers {
            tokio::spawn(run(committer.clone(), received.clone()));
        }
        GroupCommit { queue }
    }

    /// Stores the submission (screened, flood-counted, announced or flagged) with its
    /// idempotency key and returns the answer once that is committed, or what an earlier
    /// call with the key stored. A unique violation means a concurrent call with the
    /// same key committed first.
    pub async fn commit(&self, submitted: Submitted) -> Result<Stored, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            submitted,
            span: tracing::Span::current(),
            reply,
        };
        // Fails only when the service is stopping and its committers are gone.
        self.queue
            .send(pending)
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| {
            sqlx::Error::Protocol(
                "storing the submission did not finish (see the service log)".into(),
            )
        })?
    }
}

async fn run(committer: Arc<Committer>, received: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    loop {
        let group = {
            let mut received = received.lock().await;
            let Some(first) = received.recv().await else {
                return;
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match received.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            group
        };
        // A panic must not take the committer with it (on SQLite there is only one):
        // the group's callers get an error (their answers are dropped) and the next
        // group is committed as usual.
        if AssertUnwindSafe(committer.commit_group(group))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!("committing a group of submissions panicked; its callers got an error");
        }
    }
}

/// Why a group's transaction failed.
enum GroupError {
    /// Before the commit: nothing was stored, so each submission can be tried alone.
    Store(sqlx::Error),
    /// The commit itself: the group may or may not be stored (PostgreSQL can lose the
    /// connection after committing), so trying again could store a keyless lead twice.
    Commit(sqlx::Error),
}

impl GroupError {
    fn into_inner(self) -> sqlx::Error {
        match self {
            GroupError::Store(err) | GroupError::Commit(err) => err,
        }
    }
}

impl Committer {
    async fn commit_group(&self, group: Vec<Pending>) {
        metrics::histogram!("shangji_intake_group_commit_size").record(group.len() as f64);
        let mut answered = Vec::with_capacity(group.len());
        if group.len() > 1 {
            let span = tracing::info_span!("intake.group_commit", leads = group.len());
            match self.store_group(&group).instrument(span).await {
                Ok(responses) => {
                    for (pending, response) in group.into_iter().zip(responses) {
                        answered.push(answer(pending, Ok(response)));
                    }
                    self.after_commit(&answered).await;
                    return;
                }
                Err(GroupError::Commit(err)) => {
                    tracing::warn!(error = %err, leads = group.len(), "group commit failed at the commit; its callers get the error");
                    let reason = err.to_string();
                    let mut first = Some(err);
                    for pending in group {
                        let err = first.take().unwrap_or_else(|| {
                            sqlx::Error::Protocol(format!("committing the group failed: {reason}"))
                        });
                        answer(pending, Err(err));
                    }
                    return;
                }
                Err(GroupError::Store(err)) => {
                    tracing::debug!(error = %err, leads = group.len(), "group commit failed; committing one by one");
                }
            }
        }
        for pending in group {
            let result = self
                .store_group(std::slice::from_ref(&pending))
                .instrument(pending.span.clone())
                .await
                .map_err(GroupError::into_inner)
                .and_then(|mut responses| responses.pop().ok_or(sqlx::Error::RowNotFound));
            answered.push(answer(pending, result));
        }
        self.after_commit(&answered).await;
    }

    /// Stores every submission of the group in one transaction; any failure fails all.
    async fn store_group(&self, group: &[Pending]) -> Result<Vec<Stored>, GroupError> {
        let now = now_millis();
        let mut tx = self.db.begin().await.map_err(GroupError::Store)?;
        let answers = self
            .store_in(&mut tx, group, now)
            .await
            .map_err(GroupError::Store)?;
        tx.commit().await.map_err(GroupError::Commit)?;
        Ok(answers)
    }

    async fn store_in(
        &self,
        tx: &mut Tx,
        group: &[Pending],
        now: i64,
    ) -> Result<Vec<Stored>, sqlx::Error> {
        // Retries of calls stored before are answered with what was stored, and neither
        // stored nor counted again. Checked here, in the group's transaction, rather than
        // before queueing: one statement per group instead of one per submission.
        let keys: Vec<(&str, &str)> = group
            .iter()
            .map(|p| (p.submitted.ctx.tenant_id.as_str(), p.submitted.key.as_str()))
            .collect();
        let mut earlier = idempotency::earlier_calls(tx, SUBMIT_LEAD, &keys).await?;
        let mut answers: Vec<Option<Stored>> = keys
            .iter()
            .map(|&(tenant_id, key)| {
                earlier
                    .remove(&(tenant_id.to_owned(), key.to_owned()))
                    .map(Stored::Before)
            })
            .collect();
        let fresh: Vec<&Pending> = group
            .iter()
            .zip(&answers)
            .filter(|(_, answer)| answer.is_none())
            .map(|(pending, _)| pending)
            .collect();
        let floods = self.count_floods(tx, &fresh, now).await?;
        let mut leads = Vec::with_capacity(fresh.len());
        let mut responses = Vec::with_capacity(fresh.len());
        for (pending, flood_flags) in fresh.iter().zip(floods) {
            let s = &pending.submitted;
            let mut flags = screening::screen(&s.lead);
            flags.extend(flood_flags);
            responses.push(SubmitLeadResponse {
                lead_id: s.lead_id.clone(),
                replayed: false,
                flagged: !flags.is_empty(),
                flags: flags.iter().map(Flag::to_message).collect(),
            });
            leads.push(ScreenedLead {
                ctx: &s.ctx,
                lead_id: s.lead_id.clone(),
                lead: s.lead.clone(),
                attribution: &s.attribution,
                schema_version: s.schema_version,
                // Retries are caught by the idempotency key.
                submission_key: None,
                flags,
                span: pending.span.clone(),
            });
        }
        store_screened(tx, leads, now).await?;
        let remembered: Vec<Remembered<'_, SubmitLeadResponse>> = fresh
            .iter()
            .zip(&responses)
            .map(|(pending, response)| Remembered {
                tenant_id: &pending.submitted.ctx.tenant_id,
                key: &pending.submitted.key,
                request_hash: &pending.submitted.hash,
                response,
            })
            .collect();
        idempotency::remember_all(tx, SUBMIT_LEAD, &remembered).await?;
        drop(remembered);
        let mut responses = responses.into_iter();
        Ok(answers
            .iter_mut()
            .map(|answer| match answer.take() {
                Some(before) => before,
                None => Stored::Now(responses.next().unwrap_or_default()),
            })
            .collect())
    }

    /// Housekeeping once the callers have their answers: prunes stale flood counters
    /// now and then, for the tenant of the last submission stored.
    async fn after_commit(&self, answered: &[Option<String>]) {
        if let Some(tenant_id) = answered.iter().rev().flatten().next() {
            self.prune_now_and_then(tenant_id, now_millis()).await;
        }
    }

    /// Counts each submission against its client address, phone and e-mail (one upsert
    /// for the group) and returns, per submission, the flood flags of those over their
    /// limit. Each submission sees the count as it was after it was added, as if the
    /// group's submissions had been counted one by one in order.
    async fn count_floods(
        &self,
        tx: &mut Tx,
        group: &[&Pending],
        now: i64,
    ) -> Result<Vec<Vec<Flag>>, sqlx::Error> {
        let limits = self.flood_limits;
        let subjects: Vec<Vec<Subject>> = group
            .iter()
            .map(|p| {
                let s = &p.submitted;
                flood::subjects(&s.lead, s.client_address.as_deref(), &limits)
            })
            .collect();
        // Per submission and subject: which tally it adds to and its place in it (1-based).
        let mut tallies: Vec<Tally<'_>> = Vec::new();
        let mut tally_of: HashMap<(&str, &Subject), usize> = HashMap::new();
        let mut places: Vec<Vec<(usize, i64)>> = Vec::with_capacity(group.len());
        for (pending, subjects) in group.iter().zip(&subjects) {
            let tenant_id = pending.submitted.ctx.tenant_id.as_str();
            let mut mine = Vec::with_capacity(subjects.len());
            for subject in subjects {
                let index = *tally_of.entry((tenant_id, subject)).or_insert_with(|| {
                    tallies.push(Tally {
                        tenant_id,
                        subject,
                        added: 0,
                    });
                    tallies.len() - 1
                });
                tallies[index].added += 1;
                mine.push((index, tallies[index].added));
            }
            places.push(mine);
        }
        if tallies.is_empty() {
            return Ok(vec![Vec::new(); group.len()]);
        }
        let start = flood::window_start(now, limits.window_ms);
        let counts = store::flags::count_submissions(tx, &tallies, start, limits.window_ms).await?;
        self.counted
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        Ok(places
            .iter()
            .map(|mine| {
                mine.iter()
                    .filter_map(|&(index, place)| {
                        let tally = &tallies[index];
                        let (after_group, previous) = counts[index];
                        // What the count was right after this submission was added.
                        let current = after_group - tally.added + place;
                        let estimated =
                            flood::estimate(current, previous, start, now, limits.window_ms);
                        flood::check(tally.subject, estimated, &limits).map(|problem| {
                            Flag::new(ScreeningCode::Flood, tally.subject.kind.field(), problem)
                        })
                    })
                    .collect()
            })
            .collect())
    }

    /// Every `PRUNE_EVERY` counted submissions, drops the tenant's counters that no
    /// longer count (older than the previous window). Best effort: a failure only
    /// leaves rows for the next round.
    async fn prune_now_and_then(&self, tenant_id: &str, now: i64) {
        let round = self.counted.load(Ordering::Relaxed) / PRUNE_EVERY;
        if round == 0 || self.pruned_round.swap(round, Ordering::Relaxed) == round {
            return;
        }
        let limits = self.flood_limits;
        let before = flood::window_start(now, limits.window_ms) - limits.window_ms;
        match store::flags::prune_counters(&self.db, tenant_id, before).await {
            Ok(pruned) => tracing::debug!(tenant.id = %tenant_id, pruned, "flood counters pruned"),
            Err(e) => {
                tracing::warn!(tenant.id = %tenant_id, error = %e, "cannot prune flood counters")
            }
        }
    }
}

/// Logs the outcome in the request's span and hands it to the waiting caller (gone, if
/// the caller gave up: its retry will find the remembered answer). Returns the tenant of
/// a submission stored.
fn answer(pending: Pending, result: Result<Stored, sqlx::Error>) -> Option<String> {
    let s = &pending.submitted;
    let stored = match &result {
        Ok(Stored::Now(response)) => {
            let _in_request = pending.span.enter();
            if response.flagged {
                let codes: Vec<_> = response
                    .flags
                    .iter()
                    .map(|f| f.code().as_str_name())
                    .collect();
                tracing::info!(tenant.id = %s.ctx.tenant_id, lead.id = %s.lead_id, channel = %s.attribution.channel, flags = ?codes, "lead flagged by screening");
            } else {
                tracing::info!(tenant.id = %s.ctx.tenant_id, lead.id = %s.lead_id, channel = %s.attribution.channel, "lead received");
            }
            Some(s.ctx.tenant_id.clone())
        }
        Ok(Stored::Before(_)) | Err(_) => None,
    };
    let _ = pending.reply.send(result);
    stored
}
