//! Stage gates at the gRPC edge: gather what the gates on the way need, and refuse a
//! blocked move with FAILED_PRECONDITION and one PreconditionFailure violation per
//! missing item (type FIELD, ACTIVITY or APPROVAL; subject the field key, activity kind or
//! approval type; the
//! description in Chinese and English).

use shangji_platform::Tx;
use shangji_platform::grpc::ApiError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, PreconditionViolation, StatusExt as _};

use crate::domain::{MissingItem, Opportunity, Pipeline, Stage};
use crate::store::{activities, approvals};

/// What `opp` lacks to move to `target` (with the amount the move sets, if any).
pub async fn missing(
    tx: &mut Tx,
    pipeline: &Pipeline,
    opp: &Opportunity,
    target: &Stage,
    amount: Option<f64>,
) -> Result<Vec<MissingItem>, ApiError> {
    let gated = pipeline.gates_on_the_way(&opp.stage, target);
    if gated.is_empty() {
        return Ok(Vec::new());
    }
    let counts = activities::count_by_kind(tx, &opp.tenant_id, &opp.opportunity_id).await?;
    let approved = approvals::latest_by_type(tx, &opp.tenant_id, &opp.opportunity_id).await?;
    // The amount set by this very move counts (a quote given on entering "proposal").
    let mut candidate = opp.clone();
    if let Some(amount) = amount {
        candidate.amount = amount;
    }
    Ok(gated
        .iter()
        .flat_map(|stage| {
            stage
                .gate
                .missing(&stage.name, &candidate, &counts, &approved)
        })
        .collect())
}

/// The refusal of a move the gates block.
pub fn blocked(from: &str, target: &Stage, missing: &[MissingItem]) -> Status {
    let list: Vec<&str> = missing.iter().map(|m| m.description.as_str()).collect();
    let message = format!(
        "cannot move from {from} to {}: {} item(s) missing / 尚缺 {} 项: {}",
        target.name,
        missing.len(),
        missing.len(),
        list.join("; ")
    );
    let details = ErrorDetails::with_precondition_failure(
        missing
            .iter()
            .map(|m| PreconditionViolation::new(m.kind.as_str(), &m.subject, &m.description))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::FailedPrecondition, message, details)
}
