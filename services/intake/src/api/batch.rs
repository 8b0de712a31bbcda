//! SubmitLeads: a client stream of leads, one result per lead. Each lead goes through
//! the same capture as SubmitLead (own transaction, own idempotency key), so a bad lead
//! is rejected alone and a retried batch replays what was already stored.

use futures::{Stream, StreamExt as _};
use shangji_contracts::intake::{
    FieldViolation as ViolationMessage, LeadSubmission, SubmissionOutcome, SubmissionResult,
    SubmitLeadsResponse,
};
use shangji_platform::grpc::{ApiError, RequestContext};
use tonic::Status;

use crate::capture::{Capture, Submission};

/// Leads per batch at most: the response lists each, so it must stay a sane size.
pub const MAX_BATCH: usize = 10_000;
pub const BATCH_CHANNEL: &str = "batch";

pub async fn submit_leads(
    capture: &Capture,
    ctx: &RequestContext,
    mut items: impl Stream<Item = Result<LeadSubmission, Status>> + Unpin,
) -> Result<SubmitLeadsResponse, Status> {
    let mut response = SubmitLeadsResponse::default();
    let mut index = 0_i64;
    while let Some(item) = items.next().await {
        let item = item?;
        if response.results.len() >= MAX_BATCH {
            return Err(ApiError::invalid_field(
                "stream",
                format!("a batch holds at most {MAX_BATCH} leads; send the rest in another batch"),
            )
            .into());
        }
        let key = item.idempotency_key.clone();
        let submission = Submission {
            idempotency_key: item.idempotency_key,
            lead: item.lead,
            attribution: item.attribution,
            channel: BATCH_CHANNEL.to_owned(),
            channel_id: String::new(),
        };
        let mut result = SubmissionResult {
            index,
            idempotency_key: key,
            ..Default::default()
        };
        match capture.accept(ctx, submission).await {
            Ok(done) if done.replayed => {
                result.outcome = SubmissionOutcome::Replayed as i32;
                result.lead_id = done.lead_id;
                response.replayed += 1;
            }
            Ok(done) => {
                result.outcome = SubmissionOutcome::Accepted as i32;
                result.lead_id = done.lead_id;
                response.accepted += 1;
            }
            Err(ApiError::InvalidArgument { violations, .. }) => {
                result.outcome = SubmissionOutcome::Rejected as i32;
                result.violations = violations
                    .into_iter()
                    .map(|v| ViolationMessage {
                        field: v.field,
                        description: v.description,
                    })
                    .collect();
                response.rejected += 1;
            }
            // Trouble that is not the lead's fault (database down) fails the batch; a
            // retry with the same keys replays what was stored.
            Err(other) => return Err(other.into()),
        }
        response.results.push(result);
        index += 1;
    }
    Ok(response)
}
