//! Storing screened leads on a transaction, one or many at a time: each lead with its
//! first trail step, announced (lead.received) when screening found nothing, held back
//! as FLAGGED with its reasons when it did. Leads and steps go in multi-row INSERTs and
//! the outbox writes the events at commit in one statement, so a group of submissions
//! or an import chunk costs a few statements, not a few per lead.

use std::collections::HashSet;

use prost::Message as _;
use shangji_contracts::common::{Attribution, Lead};
use shangji_contracts::intake::LeadStatus;
use shangji_platform::Tx;
use shangji_platform::grpc::RequestContext;
use tracing::Instrument as _;

use super::{Announced, FLAGGED_STEP, SERVICE, enqueue_received, received_detail};
use crate::domain::screening::{self, Flag};
use crate::store::lead_batch::{self, TrailStep};
use crate::store::{self, NewLead};

/// A checked and screened lead, ready to store.
pub struct ScreenedLead<'a> {
    pub ctx: &'a RequestContext,
    pub lead_id: String,
    pub lead: Lead,
    pub attribution: &'a Attribution,
    pub schema_version: i64,
    /// Set by channels that key leads themselves (import rows): a lead whose key was
    /// already used is not stored again.
    pub submission_key: Option<&'a str>,
    /// What screening found; empty for a lead to announce.
    pub flags: Vec<Flag>,
    /// The span whose trace the lead's event carries downstream.
    pub span: tracing::Span,
}

/// A trail step to record, owning its text until the one INSERT.
struct FirstStep<'a> {
    tenant_id: &'a str,
    lead_id: String,
    event_id: String,
    status: LeadStatus,
    detail: String,
}

/// Stores `leads` (any tenants) on `tx`; returns the ids of those stored now (a lead
/// whose submission key was used before is not).
pub async fn store_screened(
    tx: &mut Tx,
    leads: Vec<ScreenedLead<'_>>,
    now: i64,
) -> Result<HashSet<String>, sqlx::Error> {
    let encoded: Vec<(Vec<u8>, Vec<u8>)> = leads
        .iter()
        .map(|l| (l.lead.encode_to_vec(), l.attribution.encode_to_vec()))
        .collect();
    let new_leads: Vec<NewLead<'_>> = leads
        .iter()
        .zip(&encoded)
        .map(|(l, (lead, attribution))| NewLead {
            tenant_id: &l.ctx.tenant_id,
            lead_id: &l.lead_id,
            channel: &l.attribution.channel,
            lead,
            attribution,
            schema_version: l.schema_version,
            submission_key: l.submission_key,
            status: if l.flags.is_empty() {
                LeadStatus::Received as i32
            } else {
                LeadStatus::Flagged as i32
            },
            now,
        })
        .collect();
    let created = lead_batch::insert_leads(tx, &new_leads).await?;
    drop(new_leads);
    drop(encoded);

    let mut steps = Vec::with_capacity(created.len());
    for l in leads {
        if !created.contains(&l.lead_id) {
            continue;
        }
        let detail = received_detail(l.attribution);
        let tenant_id = l.ctx.tenant_id.as_str();
        if l.flags.is_empty() {
            let announced = Announced {
                lead_id: &l.lead_id,
                lead: l.lead,
                channel: &l.attribution.channel,
                received_at: now,
            };
            let event_id = enqueue_received(tx, l.ctx, announced)
                .instrument(l.span)
                .await?;
            steps.push(FirstStep {
                tenant_id,
                lead_id: l.lead_id,
                event_id,
                status: LeadStatus::Received,
                detail,
            });
            continue;
        }
        // Flagged leads are few: one statement each for the flag.
        let messages: Vec<_> = l.flags.iter().map(Flag::to_message).collect();
        store::flags::insert_flag(
            tx,
            tenant_id,
            &l.lead_id,
            &store::flags::encode_flags(&messages),
            screening::code_bits(l.flags.iter().map(|f| f.code)),
            now,
        )
        .await?;
        steps.push(FirstStep {
            tenant_id,
            lead_id: l.lead_id,
            event_id: FLAGGED_STEP.to_owned(),
            status: LeadStatus::Flagged,
            detail: format!("{detail}; {}", screening::summary(&l.flags)),
        });
    }
    let rows: Vec<TrailStep<'_>> = steps
        .iter()
        .map(|s| TrailStep {
            tenant_id: s.tenant_id,
            lead_id: &s.lead_id,
            event_id: &s.event_id,
            status: s.status as i32,
            detail: &s.detail,
            service: SERVICE,
            at: now,
        })
        .collect();
    lead_batch::record_steps(tx, &rows).await?;
    Ok(created)
}
