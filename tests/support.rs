//! Helpers shared by the end-to-end tests: typed gRPC clients for a running system,
//! each call carrying the tenant and user metadata.

use std::time::Duration;

use shangji_contracts::analytics::analytics_service_client::AnalyticsServiceClient;
use shangji_contracts::assignment::assignment_service_client::AssignmentServiceClient;
use shangji_contracts::dedup::dedup_service_client::DedupServiceClient;
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_contracts::intake::{GetLeadRequest, GetLeadResponse};
use shangji_contracts::pipeline::pipeline_service_client::PipelineServiceClient;
use shangji_contracts::reminders::reminder_service_client::ReminderServiceClient;
use shangji_testkit::{System, poll_until};
use tonic::transport::Channel;

/// Clients for the six services of one system.
#[derive(Clone)]
pub struct Clients {
    pub intake: IntakeServiceClient<Channel>,
    pub dedup: DedupServiceClient<Channel>,
    pub assignment: AssignmentServiceClient<Channel>,
    pub pipeline: PipelineServiceClient<Channel>,
    pub reminders: ReminderServiceClient<Channel>,
    pub analytics: AnalyticsServiceClient<Channel>,
}

impl Clients {
    pub async fn connect(system: &System) -> anyhow::Result<Clients> {
        let channel = |name: &str| {
            let endpoint = system.endpoint(name);
            async move {
                Channel::from_shared(endpoint)?
                    .connect()
                    .await
                    .map_err(anyhow::Error::from)
            }
        };
        Ok(Clients {
            intake: IntakeServiceClient::new(channel("intake").await?),
            dedup: DedupServiceClient::new(channel("dedup").await?),
            assignment: AssignmentServiceClient::new(channel("assignment").await?),
            pipeline: PipelineServiceClient::new(channel("pipeline").await?),
            reminders: ReminderServiceClient::new(channel("reminders").await?),
            analytics: AnalyticsServiceClient::new(channel("analytics").await?),
        })
    }

    /// Waits until the lead satisfies `done`, returning its last state.
    pub async fn lead_until(
        &self,
        tenant: &str,
        lead_id: &str,
        what: &str,
        done: impl Fn(&GetLeadResponse) -> bool,
    ) -> anyhow::Result<GetLeadResponse> {
        poll_until(
            what,
            Duration::from_secs(30),
            Duration::from_millis(50),
            || {
                let mut intake = self.intake.clone();
                let request = tenant_request(
                    tenant,
                    GetLeadRequest {
                        lead_id: lead_id.to_owned(),
                    },
                );
                let done = &done;
                async move {
                    let lead = intake
                        .get_lead(request)
                        .await
                        .map_err(|e| e.to_string())?
                        .into_inner();
                    if done(&lead) {
                        Ok(lead)
                    } else {
                        Err(format!("status {:?}, trail {:?}", lead.status, lead.trail))
                    }
                }
            },
        )
        .await
    }
}

/// A request with `x-tenant-id` and `x-user-id` metadata.
pub fn tenant_request<T>(tenant: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.parse().expect("tenant ids are ASCII"));
    request
        .metadata_mut()
        .insert("x-user-id", "e2e-tester".parse().expect("ASCII"));
    request
}
