//! `CheckDuplicate`: which known customers a lead could be, without changing anything.
//! Exact keys first (certainly the same), then the customers sharing a blocking key,
//! judged with the tenant's thresholds; and the account its company names.

use shangji_contracts::dedup::{
    Account, CheckDuplicateRequest, CheckDuplicateResponse, CustomerMatch, FieldEvidence,
    MatchDecision,
};
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, RequestContext};

use super::service::load_customers;
use super::validate;
use crate::domain::matching::{
    self, Decision, EXACT_MATCH_SCORE, MatchProfile, MatchThresholds, MatchVerdict, ParsedProfile,
    attach_reasons, blocking_keys, decide, exact_evidence,
};
use crate::domain::{lead_keys, rank_candidates};
use crate::store::{accounts, blocking, customers, thresholds};

/// Matches returned when the caller sets no limit.
pub const DEFAULT_MATCH_LIMIT: usize = 10;
/// Matches returned at most, whatever the caller asks.
pub const MAX_MATCH_LIMIT: usize = 100;

pub(super) async fn check_duplicate(
    db: &Db,
    ctx: &RequestContext,
    request: CheckDuplicateRequest,
    defaults: MatchThresholds,
) -> Result<CheckDuplicateResponse, ApiError> {
    let lead = validate::lead_to_check(request.lead.as_ref())?;
    let limit = match request.limit {
        0 => DEFAULT_MATCH_LIMIT,
        n => usize::try_from(n)
            .unwrap_or(MAX_MATCH_LIMIT)
            .min(MAX_MATCH_LIMIT),
    };
    let tenant_id = ctx.tenant_id.as_str();
    let keys = lead_keys(lead);
    let profile = MatchProfile::from_lead(lead);
    let parsed = ParsedProfile::from(&profile);
    let mut conn = db.reader().acquire().await?;
    let thresholds = thresholds::tenant_thresholds(&mut conn, tenant_id, defaults).await?;

    let owners = customers::key_owners(&mut conn, tenant_id, &keys).await?;
    let exact = rank_candidates(&owners);
    let mut candidate_ids =
        blocking::candidates(&mut conn, tenant_id, &blocking_keys(&parsed)).await?;
    let candidates_examined = candidate_ids.len();
    candidate_ids.retain(|id| !exact.iter().any(|c| &c.customer_id == id));
    let candidates = blocking::parsed_profiles(&mut conn, tenant_id, &candidate_ids).await?;
    // Scoring is CPU work: the connection goes back to the pool meanwhile, for a check
    // that has statements to run (the pool is far smaller than the checks in flight).
    drop(conn);
    let mut verdicts = decide(&parsed, &candidates, &thresholds)
        .into_iter()
        .take_while(|verdict| verdict.decision != Decision::Different)
        .peekable();
    let mut conn = db.reader().acquire().await?;

    // The customers shown are read together: the exact matches with the first screenful
    // of verdicts; a customer that vanished since its profile was read (rare) makes room
    // for the next verdict, read in a further page.
    let mut page: Vec<MatchVerdict> = verdicts.by_ref().take(limit).collect();
    let ids: Vec<String> = exact
        .iter()
        .map(|c| c.customer_id.clone())
        .chain(page.iter().map(|v| v.customer_id.clone()))
        .collect();
    let mut shown = load_customers(&mut conn, tenant_id, &ids).await?;
    let mut matches = Vec::new();
    for candidate in &exact {
        let Some(customer) = shown.remove(&candidate.customer_id) else {
            continue;
        };
        matches.push(CustomerMatch {
            customer_id: candidate.customer_id.clone(),
            score: EXACT_MATCH_SCORE,
            decision: MatchDecision::Same as i32,
            reasons: attach_reasons(candidate, &[]),
            evidence: exact_evidence(candidate)
                .into_iter()
                .map(evidence)
                .collect(),
            customer: Some(customer),
        });
    }
    loop {
        for verdict in page {
            if matches.len() >= limit {
                break;
            }
            let Some(customer) = shown.remove(&verdict.customer_id) else {
                continue;
            };
            matches.push(CustomerMatch {
                customer_id: verdict.customer_id.clone(),
                score: verdict.score,
                decision: match verdict.decision {
                    Decision::Same => MatchDecision::Same,
                    Decision::Possible => MatchDecision::Possible,
                    Decision::Different => MatchDecision::Different,
                } as i32,
                reasons: verdict.reasons(),
                evidence: verdict.evidence.into_iter().map(evidence).collect(),
                customer: Some(customer),
            });
        }
        if matches.len() >= limit || verdicts.peek().is_none() {
            break;
        }
        page = verdicts.by_ref().take(limit - matches.len()).collect();
        let ids: Vec<String> = page.iter().map(|v| v.customer_id.clone()).collect();
        shown = load_customers(&mut conn, tenant_id, &ids).await?;
    }
    matches.truncate(limit);

    let account = match parsed.account_key() {
        Some(key) => accounts::account_by_key(&mut conn, tenant_id, key)
            .await?
            .map(|a| Account {
                account_id: a.account_id,
                name: a.name,
                account_key: a.account_key,
            }),
        None => None,
    };
    tracing::debug!(
        tenant_id,
        keys = keys.len(),
        candidates_examined,
        matches = matches.len(),
        account = account.is_some(),
        "checked lead for duplicates"
    );
    Ok(CheckDuplicateResponse {
        matches,
        account,
        candidates_examined: u32::try_from(candidates_examined).unwrap_or(u32::MAX),
    })
}

fn evidence(e: matching::FieldEvidence) -> FieldEvidence {
    FieldEvidence {
        field: e.field.to_owned(),
        similarity: e.similarity,
        contribution: e.contribution,
        detail: e.detail,
    }
}
