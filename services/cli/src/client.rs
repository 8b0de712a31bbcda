//! Connections to the six services, each call stamped with the caller's tenant and user.

use std::time::Duration;

use shangji_contracts::analytics::analytics_service_client::AnalyticsServiceClient;
use shangji_contracts::assignment::assignment_service_client::AssignmentServiceClient;
use shangji_contracts::dedup::dedup_service_client::DedupServiceClient;
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_contracts::pipeline::pipeline_service_client::PipelineServiceClient;
use shangji_contracts::reminders::reminder_service_client::ReminderServiceClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use crate::cli::GlobalArgs;
use crate::error::CliError;

pub const TENANT_HEADER: &str = "x-tenant-id";
pub const USER_HEADER: &str = "x-user-id";

/// How long to wait for a TCP connection before calling a service unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound for one call, so a stuck service cannot hang the command.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Who is calling: added as metadata to every request.
#[derive(Debug, Clone)]
pub struct Caller {
    tenant: AsciiMetadataValue,
    user: AsciiMetadataValue,
}

impl Caller {
    pub fn new(tenant: &str, user: &str) -> Result<Caller, CliError> {
        let value = |name: &str, flag: &str, text: &str| {
            // HTTP/2 would carry other bytes too, but the services read these as ASCII.
            let ascii = Some(text).filter(|t| t.is_ascii());
            ascii.and_then(|t| MetadataValue::try_from(t).ok()).ok_or_else(|| {
                CliError::Usage(format!(
                    "--{flag} `{text}` cannot be sent as `{name}`: use ASCII letters, digits, '-', '_' or '.'"
                ))
            })
        };
        Ok(Caller {
            tenant: value(TENANT_HEADER, "tenant", tenant)?,
            user: value(USER_HEADER, "user", user)?,
        })
    }

    pub fn tenant(&self) -> &str {
        // Built from a &str in `new`, so it is valid text.
        self.tenant.to_str().unwrap_or_default()
    }
}

impl Interceptor for Caller {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let metadata = request.metadata_mut();
        metadata.insert(TENANT_HEADER, self.tenant.clone());
        metadata.insert(USER_HEADER, self.user.clone());
        Ok(request)
    }
}

type Stamped = InterceptedService<Channel, Caller>;
pub type IntakeClient = IntakeServiceClient<Stamped>;
pub type DedupClient = DedupServiceClient<Stamped>;
pub type AssignmentClient = AssignmentServiceClient<Stamped>;
pub type PipelineClient = PipelineServiceClient<Stamped>;
pub type RemindersClient = ReminderServiceClient<Stamped>;
pub type AnalyticsClient = AnalyticsServiceClient<Stamped>;

/// Where each service listens.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub intake: String,
    pub dedup: String,
    pub assignment: String,
    pub pipeline: String,
    pub reminders: String,
    pub analytics: String,
}

impl From<&GlobalArgs> for Endpoints {
    fn from(args: &GlobalArgs) -> Self {
        Endpoints {
            intake: args.intake.clone(),
            dedup: args.dedup.clone(),
            assignment: args.assignment.clone(),
            pipeline: args.pipeline.clone(),
            reminders: args.reminders.clone(),
            analytics: args.analytics.clone(),
        }
    }
}

/// Opens connections on demand: a command connects only to the services it uses.
#[derive(Debug, Clone)]
pub struct Services {
    pub endpoints: Endpoints,
    pub caller: Caller,
}

impl Services {
    pub fn new(endpoints: Endpoints, caller: Caller) -> Services {
        Services { endpoints, caller }
    }

    pub async fn intake(&self) -> Result<IntakeClient, CliError> {
        let channel = connect("intake", &self.endpoints.intake).await?;
        Ok(IntakeServiceClient::with_interceptor(
            channel,
            self.caller.clone(),
        ))
    }

    pub async fn dedup(&self) -> Result<DedupClient, CliError> {
        let channel = connect("dedup", &self.endpoints.dedup).await?;
        Ok(DedupServiceClient::with_interceptor(
            channel,
            self.caller.clone(),
        ))
    }

    pub async fn assignment(&self) -> Result<AssignmentClient, CliError> {
        let channel = connect("assignment", &self.endpoints.assignment).await?;
        Ok(AssignmentServiceClient::with_interceptor(
            channel,
            self.caller.clone(),
        ))
    }

    pub async fn pipeline(&self) -> Result<PipelineClient, CliError> {
        let channel = connect("pipeline", &self.endpoints.pipeline).await?;
        Ok(PipelineServiceClient::with_interceptor(
            channel,
            self.caller.clone(),
        ))
    }

    pub async fn reminders(&self) -> Result<RemindersClient, CliError> {
        let channel = connect("reminders", &self.endpoints.reminders).await?;
        Ok(ReminderServiceClient::with_interceptor(
            channel,
            self.caller.clone(),
        ))
    }

    pub async fn analytics(&self) -> Result<AnalyticsClient, CliError> {
        let channel = connect("analytics", &self.endpoints.analytics).await?;
        Ok(AnalyticsServiceClient::with_interceptor(
            channel,
            self.caller.clone(),
        ))
    }
}

/// `127.0.0.1:50051` is taken to mean `http://127.0.0.1:50051`.
pub fn endpoint_url(endpoint: &str) -> String {
    let endpoint = endpoint.trim();
    if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("http://{endpoint}")
    }
}

/// One HTTP/2 connection to a service; clones share it.
pub async fn connect(service: &'static str, endpoint: &str) -> Result<Channel, CliError> {
    let url = endpoint_url(endpoint);
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| CliError::Usage(format!("--{service} `{url}` is not a valid URL: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true);
    endpoint.connect().await.map_err(|e| CliError::Connect {
        service,
        endpoint: url,
        reason: error_chain(&e),
    })
}

/// "transport error: tcp connect error: Connection refused (os error 111)".
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_stamps_tenant_and_user_on_every_request() {
        let mut caller = Caller::new("acme", "wang").unwrap();
        let request = caller.call(Request::new(())).unwrap();
        assert_eq!(request.metadata().get(TENANT_HEADER).unwrap(), "acme");
        assert_eq!(request.metadata().get(USER_HEADER).unwrap(), "wang");
        assert_eq!(caller.tenant(), "acme");
    }

    #[test]
    fn tenants_that_cannot_travel_as_metadata_are_refused() {
        let err = Caller::new("销售部", "cli").unwrap_err();
        assert!(err.to_string().contains("--tenant"));
        assert_eq!(err.exit_code(), crate::error::EXIT_BAD_INPUT);
    }

    #[test]
    fn endpoints_without_scheme_mean_plain_http() {
        assert_eq!(endpoint_url("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(
            endpoint_url("https://crm.example:443"),
            "https://crm.example:443"
        );
    }

    #[tokio::test]
    async fn an_unreachable_service_is_named_in_the_error() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let err = connect("intake", "127.0.0.1:1").await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("cannot connect to intake at http://127.0.0.1:1"),
            "{text}"
        );
        assert_eq!(err.exit_code(), crate::error::EXIT_FAILURE);
    }
}
