//! GetLead: the lead, where it came from, where it is now, and its trail.

use prost::Message as _;
use shangji_contracts::common::{Attribution, Lead};
use shangji_contracts::intake::{GetLeadResponse, LeadSource, StatusStep};
use shangji_contracts::time::from_millis;
use shangji_platform::Db;
use shangji_platform::grpc::ApiError;

use crate::store;

pub async fn get_lead(
    db: &Db,
    tenant_id: &str,
    lead_id: &str,
) -> Result<GetLeadResponse, ApiError> {
    if lead_id.trim().is_empty() {
        return Err(ApiError::invalid_field("lead_id", "is required"));
    }
    let (row, trail) = store::load_lead_with_trail(db, tenant_id, lead_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("lead `{lead_id}` not found")))?;
    let lead = Lead::decode(row.lead.as_slice())
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored lead")))?;
    Ok(GetLeadResponse {
        lead_id: row.lead_id,
        lead: Some(lead),
        status: row.status,
        customer_id: row.customer_id,
        owner_rep_id: row.owner_rep_id,
        opportunity_id: row.opportunity_id,
        new_customer: row.new_customer != 0,
        score: row.score,
        grade: row.grade,
        received_at: Some(from_millis(row.received_at)),
        trail: trail
            .into_iter()
            .map(|s| StatusStep {
                status: s.status,
                detail: s.detail,
                at: Some(from_millis(s.at)),
                service: s.service,
                event_id: s.event_id,
            })
            .collect(),
    })
}

pub async fn get_lead_source(
    db: &Db,
    tenant_id: &str,
    lead_id: &str,
) -> Result<LeadSource, ApiError> {
    if lead_id.trim().is_empty() {
        return Err(ApiError::invalid_field("lead_id", "is required"));
    }
    let row = store::load_lead(&mut *db.reader().acquire().await?, tenant_id, lead_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("lead `{lead_id}` not found")))?;
    // Leads stored before attribution was kept know only their channel.
    let attribution = match &row.attribution {
        Some(bytes) => Attribution::decode(bytes.as_slice())
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored attribution")))?,
        None => Attribution {
            channel: row.channel.clone(),
            ..Default::default()
        },
    };
    Ok(LeadSource {
        lead_id: row.lead_id,
        attribution: Some(attribution),
        schema_version: row.schema_version,
    })
}
