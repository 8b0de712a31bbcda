//! Finding or creating the customer of a lead, correct with several replicas at once.
//!
//! Match keys are unique per tenant in the database, so two transactions can never both
//! give one key to two customers. A transaction that finds no owner creates a customer
//! and claims the lead's keys with `INSERT … ON CONFLICT DO NOTHING`. If a claim did
//! nothing, someone else holds the key now (on PostgreSQL READ COMMITTED the insert
//! waited for the other transaction to commit), so the new customer is rolled back to a
//! savepoint and the lead is matched again, finding that owner: two replicas end with
//! one customer. The savepoint also keeps the consumer's batch transaction intact.
//!
//! Without an exact key in common, the lead is compared with the customers sharing one
//! of its blocking keys ([`crate::domain::matching::decision`]). Those fuzzy decisions
//! are serialised per partition of the blocking-key space: the lead first upserts the
//! rows of its partitions (in ascending order), so a concurrent lead that could be its
//! candidate waits for it to commit and then sees the customer it created.
//!
//! SQLite has a single writer, which serialises all of that already: there a lead is
//! matched without savepoint or partitions.

use sqlx::{AnyConnection, Connection as _};

use shangji_platform::db::Together;

use super::{accounts, blocking, customers};
use crate::domain::matching::{
    Decision, MatchProfile, MatchThresholds, MatchVerdict, ParsedProfile, attach_reasons,
    blocking_keys, created_reasons, decide, partitions, rank_candidates, unowned_keys,
};
use crate::domain::normalize::clean_text;
use crate::domain::{KeyKind, MatchKey, lead_keys};
use shangji_contracts::common::Lead;

/// Possible matches reported per lead at most (the best ones).
pub const MAX_POSSIBLE: usize = 3;

/// Matching again after losing a key race finds the winner at once; a third loss in a
/// row means something keeps changing the keys, and the event is better retried later.
const MAX_ATTEMPTS: usize = 3;

/// What the lead brings to matching.
#[derive(Clone, Debug)]
pub struct LeadIdentity {
    pub lead_id: String,
    /// Its match keys in claiming order (see [`crate::domain::KeyKind`]).
    pub keys: Vec<MatchKey>,
    /// Cleaned contact name and company, for a customer created from this lead.
    pub name: String,
    pub company: String,
}

impl LeadIdentity {
    /// The identity of a lead as a channel delivered it.
    pub fn from_lead(lead_id: &str, lead: &Lead) -> LeadIdentity {
        LeadIdentity {
            lead_id: lead_id.to_owned(),
            keys: lead_keys(lead),
            name: clean_text(&lead.contact_name),
            company: clean_text(&lead.company),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A customer was created for the lead.
    Created {
        customer_id: String,
        reasons: Vec<String>,
    },
    /// The lead was attached to a customer already known.
    Attached {
        customer_id: String,
        reasons: Vec<String>,
    },
    /// The lead had been attached before (the same lead delivered again): nothing changed.
    AlreadyAttached { customer_id: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("lead {lead_id}: its match keys kept changing hands over {MAX_ATTEMPTS} attempts")]
    Contended { lead_id: String },
}

/// Where the lead went, and what matching found on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedLead {
    pub resolution: Resolution,
    /// The account (organisation) of the customer, '' when no lead of it named a company.
    pub account_id: String,
    /// The lead matched no known contact, but its company is an account the tenant knew
    /// already: a new contact at a known organisation.
    pub account_match_only: bool,
    /// Known customers the lead may be, best first (at most [`MAX_POSSIBLE`]): a
    /// person should look. The lead went on with a customer of its own meanwhile.
    pub possible: Vec<MatchVerdict>,
    /// Customers the blocking keys brought up for comparison.
    pub candidates_examined: usize,
}

impl ResolvedLead {
    pub fn customer_id(&self) -> &str {
        match &self.resolution {
            Resolution::Created { customer_id, .. }
            | Resolution::Attached { customer_id, .. }
            | Resolution::AlreadyAttached { customer_id } => customer_id,
        }
    }
}

/// Attaches the lead to its customer, creating the customer when none holds its keys
/// or is like it. Matches on the lead's name, company and keys with the default
/// thresholds; [`resolve_lead`] takes a full profile and the tenant's thresholds.
pub async fn resolve_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead: &LeadIdentity,
    now: i64,
) -> Result<Resolution, ResolveError> {
    let mut profile = MatchProfile::default();
    for (values, text) in [
        (&mut profile.names, &lead.name),
        (&mut profile.companies, &lead.company),
    ] {
        if !text.is_empty() {
            values.push(text.clone());
        }
    }
    for key in &lead.keys {
        match key.kind {
            KeyKind::Phone => profile.phones.push(key.value.clone()),
            KeyKind::Email => profile.emails.push(key.value.clone()),
        }
    }
    let resolved = resolve_lead(
        conn,
        tenant_id,
        lead,
        &profile,
        &MatchThresholds::default(),
        now,
    )
    .await?;
    Ok(resolved.resolution)
}

/// Attaches the lead to the customer holding its exact keys, else to the customer it
/// is judged the same as, else creates a customer for it. Runs inside the caller's
/// transaction; everything it wrote is visible to the caller.
pub async fn resolve_lead(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead: &LeadIdentity,
    profile: &MatchProfile,
    thresholds: &MatchThresholds,
    now: i64,
) -> Result<ResolvedLead, ResolveError> {
    let parsed = ParsedProfile::from(profile);
    let keys = blocking_keys(&parsed);
    // SQLite has one writer: between matching's reads and its writes nothing else
    // writes, so an attempt never loses a key, never needs undoing and needs no
    // partition held. The savepoint and partitions (three more round trips per lead)
    // are for PostgreSQL, where replicas race.
    let one_writer = conn.backend_name() == "SQLite";
    let matching = Matching {
        tenant_id,
        lead,
        profile,
        parsed: &parsed,
        keys: &keys,
        thresholds,
        one_writer,
        now,
    };
    if one_writer {
        // Should an attempt report a lost race all the same, the error rolls back the
        // caller's whole transaction and the event is retried.
        return match matching.attempt(conn).await? {
            Some(resolved) => Ok(resolved),
            None => Err(ResolveError::Contended {
                lead_id: lead.lead_id.clone(),
            }),
        };
    }
    for attempt in 1..=MAX_ATTEMPTS {
        let mut savepoint = conn.begin().await?;
        match matching.attempt(&mut savepoint).await? {
            Some(
                resolved @ ResolvedLead {
                    resolution: Resolution::AlreadyAttached { .. },
                    ..
                },
            ) => {
                savepoint.rollback().await?;
                return Ok(resolved);
            }
            Some(resolved) => {
                savepoint.commit().await?;
                return Ok(resolved);
            }
            None => {
                savepoint.rollback().await?;
                tracing::debug!(lead_id = %lead.lead_id, attempt, "lost a match key to a concurrent lead; matching again");
                metrics::counter!("shangji_dedup_key_races_total").increment(1);
            }
        }
    }
    Err(ResolveError::Contended {
        lead_id: lead.lead_id.clone(),
    })
}

/// What attaching a lead learned about its company's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AccountOutcome {
    /// The lead named no company.
    NoCompany,
    /// The tenant knew the account before this lead.
    Known,
    /// This lead's company made a new account.
    Created,
}

/// One lead being matched.
struct Matching<'a> {
    tenant_id: &'a str,
    lead: &'a LeadIdentity,
    profile: &'a MatchProfile,
    parsed: &'a ParsedProfile,
    /// The lead's blocking keys.
    keys: &'a [String],
    thresholds: &'a MatchThresholds,
    /// The database has a single writer (SQLite): no concurrent lead to wait for.
    one_writer: bool,
    now: i64,
}

impl Matching<'_> {
    /// One try; `None` when a key was lost to a concurrent transaction and the
    /// savepoint must be rolled back. Any `Some` other than `AlreadyAttached` is committed.
    async fn attempt(&self, conn: &mut AnyConnection) -> Result<Option<ResolvedLead>, sqlx::Error> {
        let (tenant_id, lead) = (self.tenant_id, self.lead);
        let (attached_to, owners) = if self.one_writer {
            // Nothing else writes between the two reads: one statement.
            customers::lead_and_key_owners(conn, tenant_id, &lead.lead_id, &lead.keys).await?
        } else {
            match customers::lead_customer(conn, tenant_id, &lead.lead_id).await? {
                Some(customer_id) => (Some(customer_id), Vec::new()),
                None => {
                    // Before reading anything a concurrent lead could be writing.
                    let held = partitions(self.keys);
                    blocking::hold_partitions(conn, tenant_id, &held, self.now).await?;
                    let owners = customers::key_owners(conn, tenant_id, &lead.keys).await?;
                    (None, owners)
                }
            }
        };
        if let Some(customer_id) = attached_to {
            return self.already_attached_to(conn, customer_id).await.map(Some);
        }

        let mut ranked = rank_candidates(&owners);
        if !ranked.is_empty() {
            let chosen = ranked.remove(0);
            let unowned = unowned_keys(&lead.keys, &owners);
            let Some(attached) = self
                .attach(conn, &chosen.customer_id, &unowned, Known)
                .await?
            else {
                return already_attached(conn, tenant_id, &lead.lead_id).await;
            };
            let reasons = attach_reasons(&chosen, &ranked);
            return Ok(Some(resolved(
                Resolution::Attached {
                    customer_id: chosen.customer_id,
                    reasons,
                },
                attached,
                Vec::new(),
                0,
            )));
        }

        let candidate_ids = blocking::candidates(conn, tenant_id, self.keys).await?;
        let examined = candidate_ids.len();
        let candidates = blocking::parsed_profiles(conn, tenant_id, &candidate_ids).await?;
        let mut verdicts = decide(self.parsed, &candidates, self.thresholds);
        verdicts.retain(|v| v.decision != Decision::Different);
        if let Some(best) = verdicts
            .first()
            .filter(|v| v.decision == Decision::Same)
            .cloned()
        {
            // No customer holds any of the lead's keys (checked above), so all go along.
            let Some(attached) = self
                .attach(conn, &best.customer_id, &lead.keys, Known)
                .await?
            else {
                return already_attached(conn, tenant_id, &lead.lead_id).await;
            };
            let resolution = Resolution::Attached {
                customer_id: best.customer_id.clone(),
                reasons: best.reasons(),
            };
            return Ok(Some(resolved(resolution, attached, Vec::new(), examined)));
        }

        let customer_id = shangji_platform::ids::new_id("cus");
        // The new customer starts with this lead counted and its account.
        let account = self.account(conn).await?;
        let attached = if self.one_writer {
            self.create_alone(conn, &customer_id, account).await?
        } else {
            customers::insert_customer(
                conn,
                tenant_id,
                &customers::NewCustomer {
                    customer_id: &customer_id,
                    name: &lead.name,
                    company: &lead.company,
                    account_id: &account.account_id,
                },
                self.now,
            )
            .await?;
            if !customers::claim_keys(conn, tenant_id, &lead.keys, &customer_id, self.now).await? {
                return Ok(None);
            }
            let Some(attached) = self.attach(conn, &customer_id, &[], New(account)).await? else {
                return already_attached(conn, tenant_id, &lead.lead_id).await;
            };
            attached
        };
        let account = attached.outcome;
        verdicts.truncate(MAX_POSSIBLE);
        let mut reasons = created_reasons(&customer_id, &lead.keys);
        for possible in &verdicts {
            reasons.push(format!(
                "possibly customer {} (score {:.2}); kept apart until a person decides",
                possible.customer_id, possible.score
            ));
        }
        let mut resolved = resolved(
            Resolution::Created {
                customer_id,
                reasons,
            },
            attached,
            verdicts,
            examined,
        );
        resolved.account_match_only = account == AccountOutcome::Known;
        Ok(Some(resolved))
    }

    /// Records the lead under the customer with the keys it hands over, and what
    /// matching learns from it: profile, blocking keys, account (and whether the tenant
    /// knew that account before). `None` when the lead is attached already (the caller
    /// must then change nothing).
    async fn attach(
        &self,
        conn: &mut AnyConnection,
        customer_id: &str,
        new_keys: &[MatchKey],
        customer: CustomerAge,
    ) -> Result<Option<Attached>, sqlx::Error> {
        let (tenant_id, lead, now) = (self.tenant_id, self.lead, self.now);
        if !customers::attach_lead(conn, tenant_id, customer_id, &lead.lead_id, now).await? {
            return Ok(None);
        }
        // Losing one of these is fine: the lead is attached either way, and the key
        // stays with whoever claimed it first.
        customers::claim_keys(conn, tenant_id, new_keys, customer_id, now).await?;
        let (attached, mut profile) = match customer {
            // Created for this lead with it counted and its account; no profile yet.
            New(account) => (account, MatchProfile::default()),
            Known => {
                let found = self.account(conn).await?;
                // The customer keeps an account it has; the one found goes to a
                // customer without.
                let account_id = customers::count_lead(
                    conn,
                    tenant_id,
                    customer_id,
                    (&lead.name, &lead.company),
                    &found.account_id,
                    now,
                )
                .await?;
                let profile = blocking::profile(conn, tenant_id, customer_id)
                    .await?
                    .unwrap_or_default();
                let attached = Attached {
                    outcome: found.outcome,
                    account_id,
                };
                (attached, profile)
            }
        };
        let before = profile.clone();
        profile.absorb(self.profile);
        if profile != before || before.is_empty() {
            blocking::save_profile(conn, tenant_id, customer_id, &profile, now).await?;
        }
        blocking::file_customer(conn, tenant_id, customer_id, self.keys).await?;
        Ok(Some(attached))
    }

    /// Creates the customer with the lead attached, its keys, profile and blocking keys
    /// in one round trip, what [`Self::attach`] does for a new customer in five. Only on
    /// a single writer (SQLite): nothing wrote since matching read that no customer
    /// holds the lead's keys and the lead is attached nowhere, so none of the inserts
    /// can find its row taken and there is no result to look at.
    async fn create_alone(
        &self,
        conn: &mut AnyConnection,
        customer_id: &str,
        account: Attached,
    ) -> Result<Attached, sqlx::Error> {
        let (tenant_id, lead, now) = (self.tenant_id, self.lead, self.now);
        let mut together = Together::new(conn);
        together.push(customers::insert_customer_statement(
            tenant_id,
            &customers::NewCustomer {
                customer_id,
                name: &lead.name,
                company: &lead.company,
                account_id: &account.account_id,
            },
            now,
        ))?;
        if let Some((claim, _)) =
            customers::claim_keys_statement(conn, tenant_id, &lead.keys, customer_id, now)
        {
            together.push(claim)?;
        }
        together.push(customers::attach_lead_statement(
            tenant_id,
            customer_id,
            &lead.lead_id,
            now,
        ))?;
        let mut profile = MatchProfile::default();
        profile.absorb(self.profile);
        together.push(blocking::save_profile_statement(
            tenant_id,
            customer_id,
            &profile,
            now,
        )?)?;
        let filed: Vec<(&str, &str)> = self
            .keys
            .iter()
            .map(|k| (customer_id, k.as_str()))
            .collect();
        for statement in blocking::file_keys_statements(conn, tenant_id, &filed) {
            together.push(statement)?;
        }
        together.execute(conn).await?;
        Ok(account)
    }

    /// The account of the lead's company (found or created), if it names one.
    async fn account(&self, conn: &mut AnyConnection) -> Result<Attached, sqlx::Error> {
        let Some(company) = self.parsed.companies.first() else {
            return Ok(Attached {
                outcome: AccountOutcome::NoCompany,
                account_id: String::new(),
            });
        };
        let found = accounts::find_or_create(conn, self.tenant_id, company, self.now).await?;
        Ok(Attached {
            outcome: if found.known {
                AccountOutcome::Known
            } else {
                AccountOutcome::Created
            },
            account_id: found.account.account_id,
        })
    }

    async fn already_attached_to(
        &self,
        conn: &mut AnyConnection,
        customer_id: String,
    ) -> Result<ResolvedLead, sqlx::Error> {
        let account_id = accounts::customer_account_id(conn, self.tenant_id, &customer_id).await?;
        Ok(ResolvedLead {
            resolution: Resolution::AlreadyAttached { customer_id },
            account_id,
            account_match_only: false,
            possible: Vec::new(),
            candidates_examined: 0,
        })
    }
}

/// Whether the customer a lead is attached to was created for it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum CustomerAge {
    /// Created for this lead in this attempt, with the lead counted and this account.
    New(Attached),
    /// Known before.
    Known,
}
use CustomerAge::{Known, New};

/// What attaching a lead wrote about the customer's account (or, before a customer is
/// created, the account it will have).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Attached {
    outcome: AccountOutcome,
    /// The customer's account afterwards ('' for none).
    account_id: String,
}

fn resolved(
    resolution: Resolution,
    attached: Attached,
    possible: Vec<MatchVerdict>,
    candidates_examined: usize,
) -> ResolvedLead {
    ResolvedLead {
        resolution,
        account_id: attached.account_id,
        account_match_only: false,
        possible,
        candidates_examined,
    }
}

/// The lead turned out to be attached by a concurrent transaction: report where, or
/// (should its row be invisible, which committed rows never are) match again.
async fn already_attached(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Option<ResolvedLead>, sqlx::Error> {
    let Some(customer_id) = customers::lead_customer(conn, tenant_id, lead_id).await? else {
        return Ok(None);
    };
    let account_id = accounts::customer_account_id(conn, tenant_id, &customer_id).await?;
    Ok(Some(ResolvedLead {
        resolution: Resolution::AlreadyAttached { customer_id },
        account_id,
        account_match_only: false,
        possible: Vec::new(),
        candidates_examined: 0,
    }))
}
