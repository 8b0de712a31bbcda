//! Storing one chunk of checked import rows on the chunk's transaction, as every
//! channel's leads are stored (`capture::store_screened`): screened by content (imports
//! count no floods: a file is one deliberate upload), stored once per submission key,
//! then announced (lead.received) with a trail step, or held back as FLAGGED with its
//! reasons, the whole chunk in a few multi-row statements.

use shangji_contracts::common::{Attribution, Lead};
use shangji_platform::grpc::RequestContext;
use shangji_platform::{Tx, ids};

use crate::capture::{ScreenedLead, store_screened};
use crate::domain::screening;

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

/// Screens and stores `rows` on `tx`; they all come from one file (`attribution`).
pub async fn store_rows(
    tx: &mut Tx,
    ctx: &RequestContext,
    attribution: &Attribution,
    schema_version: i64,
    rows: Vec<GoodRow>,
    now: i64,
) -> Result<Stored, sqlx::Error> {
    let total = rows.len() as i64;
    let (keys, leads): (Vec<String>, Vec<Lead>) =
        rows.into_iter().map(|row| (row.key, row.lead)).unzip();
    let leads: Vec<ScreenedLead<'_>> = keys
        .iter()
        .zip(leads)
        .map(|(key, lead)| ScreenedLead {
            ctx,
            lead_id: ids::new_id("lead"),
            flags: screening::screen(&lead),
            lead,
            attribution,
            schema_version,
            submission_key: Some(key),
            span: tracing::Span::current(),
        })
        .collect();
    let created = store_screened(tx, leads, now).await?.len() as i64;
    Ok(Stored {
        created,
        existing: total - created,
    })
}
