//! Storing one chunk of checked import rows on the chunk's transaction, with the same
//! outcome per row as `capture::store_screened` gives one lead: screened by content
//! (imports count no floods: a file is one deliberate upload), stored once per
//! submission key, then announced (lead.received) with a trail step, or held back as
//! FLAGGED with its reasons. Leads and trail steps go in multi-row INSERTs; the outbox
//! buffers the events and writes them at commit in one statement as well.

use prost::Message as _;
use shangji_contracts::common::{Attribution, Lead};
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::intake::LeadStatus;
use shangji_contracts::time::from_millis;
use shangji_platform::bus::{self, EventContext};
use shangji_platform::grpc::RequestContext;
use shangji_platform::{Tx, ids};

use crate::capture::{FLAGGED_STEP, SERVICE, received_detail};
use crate::domain::screening::{self, Flag};
use crate::store::lead_batch::{self, NewStep};
use crate::store::{self, NewLead};

/// A row that passed the checks, keyed so a re-upload finds it.
pub struct GoodRow {
    pub key: String,
    pub lead: Lead,
}

/// What became of a chunk's rows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Stored now (announced or flagged).
    pub created: i64,
    /// Their key was already used: stored by an earlier upload.
    pub existing: i64,
}

/// A row about to be stored: its id, encoded lead and screening verdict.
struct Screened {
    lead_id: String,
    key: String,
    lead: Lead,
    encoded: Vec<u8>,
    flags: Vec<Flag>,
}

/// Screens and stores `rows` on `tx`; they all come from one file (`attribution`).
pub async fn store_rows(
    tx: &mut Tx,
    ctx: &RequestContext,
    attribution: &Attribution,
    schema_version: i64,
    rows: Vec<GoodRow>,
    now: i64,
) -> Result<Stored, sqlx::Error> {
    let screened: Vec<Screened> = rows
        .into_iter()
        .map(|row| Screened {
            lead_id: ids::new_id("lead"),
            flags: screening::screen(&row.lead),
            encoded: row.lead.encode_to_vec(),
            key: row.key,
            lead: row.lead,
        })
        .collect();
    let channel = attribution.channel.as_str();
    let encoded_attribution = attribution.encode_to_vec();
    let new_leads: Vec<NewLead<'_>> = screened
        .iter()
        .map(|row| NewLead {
            tenant_id: &ctx.tenant_id,
            lead_id: &row.lead_id,
            channel,
            lead: &row.encoded,
            attribution: &encoded_attribution,
            schema_version,
            submission_key: Some(&row.key),
            status: if row.flags.is_empty() {
                LeadStatus::Received as i32
            } else {
                LeadStatus::Flagged as i32
            },
            now,
        })
        .collect();
    let created = lead_batch::insert_leads(tx, &new_leads).await?;
    drop(new_leads);

    let detail = received_detail(attribution);
    let mut steps = Vec::with_capacity(created.len());
    let total = screened.len() as i64;
    for row in screened {
        if !created.contains(&row.lead_id) {
            continue;
        }
        if row.flags.is_empty() {
            let event = LeadReceived {
                lead_id: row.lead_id.clone(),
                lead: Some(row.lead),
                channel: channel.to_owned(),
                received_at: Some(from_millis(now)),
            };
            let event_id =
                bus::enqueue(tx, &EventContext::from_request(ctx, &row.lead_id), &event).await?;
            steps.push(NewStep {
                lead_id: row.lead_id,
                event_id,
                status: LeadStatus::Received as i32,
                detail: detail.clone(),
            });
            continue;
        }
        // Flagged rows are few: one statement each for the flag.
        let messages: Vec<_> = row.flags.iter().map(Flag::to_message).collect();
        store::flags::insert_flag(
            tx,
            &ctx.tenant_id,
            &row.lead_id,
            &store::flags::encode_flags(&messages),
            screening::code_bits(row.flags.iter().map(|f| f.code)),
            now,
        )
        .await?;
        steps.push(NewStep {
            lead_id: row.lead_id,
            event_id: FLAGGED_STEP.to_owned(),
            status: LeadStatus::Flagged as i32,
            detail: format!("{detail}; {}", screening::summary(&row.flags)),
        });
    }
    lead_batch::insert_steps(tx, &ctx.tenant_id, SERVICE, now, &steps).await?;
    let created = created.len() as i64;
    Ok(Stored {
        created,
        existing: total - created,
    })
}
