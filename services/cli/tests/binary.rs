//! The `shangji` binary against in-process gRPC stand-ins for intake, assignment and
//! pipeline: what it prints on stdout and stderr, its exit codes, and the metadata it
//! sends. The stand-ins implement just enough of each contract to answer; the real
//! services are exercised end to end by the workspace's tests/.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Output;
use std::sync::{Arc, Mutex};

use shangji_contracts::assignment::assignment_service_server::{
    AssignmentService, AssignmentServiceServer,
};
use shangji_contracts::assignment::{
    GetAssignmentRequest, GetAssignmentResponse, ListRepsRequest, ListRepsResponse,
    UpsertRepRequest, UpsertRepResponse,
};
use shangji_contracts::intake::import_leads_request::Part;
use shangji_contracts::intake::intake_service_server::{IntakeService, IntakeServiceServer};
use shangji_contracts::intake::{
    GetFieldSchemaRequest, GetFieldSchemaResponse, GetImportReportRequest, GetLeadRequest,
    GetLeadResponse, ImportLeadsRequest, ImportProgress, ImportReport, ImportState, LeadSource,
    LeadStatus, LeadSubmission, ListMappingPresetsRequest, ListMappingPresetsResponse, RowProblem,
    SubmitLeadRequest, SubmitLeadResponse, SubmitLeadsResponse, UpsertFieldSchemaRequest,
    UpsertFieldSchemaResponse, UpsertMappingPresetRequest, UpsertMappingPresetResponse,
};
use shangji_contracts::pipeline::pipeline_service_server::{
    PipelineService, PipelineServiceServer,
};
use shangji_contracts::pipeline::{
    AdvanceStageRequest, AdvanceStageResponse, CloseOpportunityRequest, CloseOpportunityResponse,
    GetOpportunityRequest, GetOpportunityResponse, GetPipelineRequest, GetPipelineResponse,
    ListOpportunitiesRequest, ListOpportunitiesResponse, LogActivityRequest, LogActivityResponse,
};
use shangji_contracts::{assignment, pipeline};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// What the stand-ins saw, shared by all three.
#[derive(Default)]
struct Seen {
    /// (tenant, idempotency key) -> lead id
    leads: HashMap<(String, String), String>,
    /// (tenant, user) of every call.
    callers: Vec<(String, String)>,
    /// Names of submitted contacts, in arrival order.
    contact_names: Vec<String>,
    reps: Vec<(String, String)>,
    get_lead_calls: u32,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Seen>>);

impl Fake {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.0.lock().unwrap()
    }

    /// Records the caller and returns its tenant.
    fn caller<T>(&self, request: &Request<T>) -> Result<String, Status> {
        let get = |name: &str| {
            request
                .metadata()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let tenant = get("x-tenant-id").ok_or_else(|| Status::unauthenticated("no tenant"))?;
        let user = get("x-user-id").unwrap_or_default();
        self.seen().callers.push((tenant.clone(), user));
        Ok(tenant)
    }
}

#[tonic::async_trait]
impl IntakeService for Fake {
    async fn submit_lead(
        &self,
        request: Request<SubmitLeadRequest>,
    ) -> Result<Response<SubmitLeadResponse>, Status> {
        let tenant = self.caller(&request)?;
        let request = request.into_inner();
        let lead = request.lead.unwrap_or_default();
        if lead.phone == "bad" {
            return Err(Status::with_error_details(
                Code::InvalidArgument,
                "invalid request: lead.phone: must contain 7 to 15 digits",
                ErrorDetails::with_bad_request(vec![FieldViolation::new(
                    "lead.phone",
                    "must contain 7 to 15 digits",
                )]),
            ));
        }
        let mut seen = self.seen();
        let next_id = format!("lead-{}", seen.leads.len() + 1);
        let key = (tenant, request.idempotency_key);
        if let Some(existing) = seen.leads.get(&key) {
            return Ok(Response::new(SubmitLeadResponse {
                lead_id: existing.clone(),
                replayed: true,
                ..Default::default()
            }));
        }
        seen.leads.insert(key, next_id.clone());
        seen.contact_names.push(lead.contact_name);
        Ok(Response::new(SubmitLeadResponse {
            lead_id: next_id,
            replayed: false,
            ..Default::default()
        }))
    }

    /// `lead-slow` gets its opportunity on the third call; `lead-stuck` never does.
    async fn get_lead(
        &self,
        request: Request<GetLeadRequest>,
    ) -> Result<Response<GetLeadResponse>, Status> {
        self.caller(&request)?;
        let lead_id = request.into_inner().lead_id;
        let calls = {
            let mut seen = self.seen();
            seen.get_lead_calls += 1;
            seen.get_lead_calls
        };
        let opportunity_id = match lead_id.as_str() {
            "lead-slow" if calls >= 3 => "opp-7".to_owned(),
            "lead-slow" | "lead-stuck" => String::new(),
            _ => return Err(Status::not_found(format!("no lead {lead_id}"))),
        };
        let status = if opportunity_id.is_empty() {
            LeadStatus::Qualified
        } else {
            LeadStatus::OpportunityCreated
        };
        Ok(Response::new(GetLeadResponse {
            lead_id,
            status: status as i32,
            opportunity_id,
            ..Default::default()
        }))
    }

    /// A UTF-8 CSV stand-in for intake's importer: a row with a cell `bad` is rejected
    /// (the cell's column named), the others are leads keyed by import key and row.
    async fn import_leads(
        &self,
        request: Request<tonic::Streaming<ImportLeadsRequest>>,
    ) -> Result<Response<Self::ImportLeadsStream>, Status> {
        let tenant = self.caller(&request)?;
        let mut upload = request.into_inner();
        let mut import_key = String::new();
        let mut bytes = Vec::new();
        while let Some(message) = upload.message().await? {
            match message.part {
                Some(Part::Metadata(m)) => import_key = m.import_key,
                Some(Part::Chunk(c)) => bytes.extend_from_slice(&c),
                None => {}
            }
        }
        let text = String::from_utf8(bytes).map_err(|_| Status::invalid_argument("utf-8"))?;
        let mut lines = text.trim_start_matches('\u{feff}').lines();
        let headers: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let mut done = ImportProgress {
            import_id: "imp-1".into(),
            state: ImportState::Done as i32,
            encoding: "UTF-8 with BOM".into(),
            ..Default::default()
        };
        for (i, line) in lines.enumerate() {
            let row = i as i64 + 2;
            let cells: Vec<&str> = line.split(',').collect();
            done.rows_read += 1;
            if let Some(bad) = cells.iter().position(|c| *c == "bad") {
                done.rejected += 1;
                done.problems.push(RowProblem {
                    row,
                    field: "lead.phone".into(),
                    column: headers[bad].into(),
                    message: "must contain 7 to 15 digits".into(),
                });
                continue;
            }
            let mut seen = self.seen();
            let key = (tenant.clone(), format!("{import_key}:{row}"));
            if seen.leads.contains_key(&key) {
                done.replayed += 1;
            } else {
                let id = format!("lead-{}", seen.leads.len() + 1);
                seen.leads.insert(key, id);
                seen.contact_names.push(cells[0].to_owned());
                done.accepted += 1;
            }
        }
        let messages = vec![Ok(done)];
        Ok(Response::new(Box::pin(futures::stream::iter(messages))))
    }

    type ImportLeadsStream = std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<ImportProgress, Status>> + Send + 'static>,
    >;

    async fn get_lead_source(
        &self,
        _: Request<GetLeadRequest>,
    ) -> Result<Response<LeadSource>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn submit_leads(
        &self,
        _: Request<tonic::Streaming<LeadSubmission>>,
    ) -> Result<Response<SubmitLeadsResponse>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn get_field_schema(
        &self,
        _: Request<GetFieldSchemaRequest>,
    ) -> Result<Response<GetFieldSchemaResponse>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn upsert_field_schema(
        &self,
        _: Request<UpsertFieldSchemaRequest>,
    ) -> Result<Response<UpsertFieldSchemaResponse>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn get_import_report(
        &self,
        _: Request<GetImportReportRequest>,
    ) -> Result<Response<ImportReport>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn upsert_mapping_preset(
        &self,
        _: Request<UpsertMappingPresetRequest>,
    ) -> Result<Response<UpsertMappingPresetResponse>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn list_mapping_presets(
        &self,
        _: Request<ListMappingPresetsRequest>,
    ) -> Result<Response<ListMappingPresetsResponse>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn list_flagged_leads(
        &self,
        _: Request<shangji_contracts::intake::ListFlaggedLeadsRequest>,
    ) -> Result<Response<shangji_contracts::intake::ListFlaggedLeadsResponse>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn release_flagged_lead(
        &self,
        _: Request<shangji_contracts::intake::ReleaseFlaggedLeadRequest>,
    ) -> Result<Response<shangji_contracts::intake::FlaggedLeadDecision>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn discard_flagged_lead(
        &self,
        _: Request<shangji_contracts::intake::DiscardFlaggedLeadRequest>,
    ) -> Result<Response<shangji_contracts::intake::FlaggedLeadDecision>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn upsert_web_form(
        &self,
        _: Request<shangji_contracts::intake::UpsertWebFormRequest>,
    ) -> Result<Response<shangji_contracts::intake::UpsertWebFormResponse>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn list_web_forms(
        &self,
        _: Request<shangji_contracts::intake::ListWebFormsRequest>,
    ) -> Result<Response<shangji_contracts::intake::ListWebFormsResponse>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn upsert_connector(
        &self,
        _: Request<shangji_contracts::intake::UpsertConnectorRequest>,
    ) -> Result<Response<shangji_contracts::intake::UpsertConnectorResponse>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }

    async fn list_connectors(
        &self,
        _: Request<shangji_contracts::intake::ListConnectorsRequest>,
    ) -> Result<Response<shangji_contracts::intake::ListConnectorsResponse>, Status> {
        Err(Status::unimplemented("not used by the cli"))
    }
}

#[tonic::async_trait]
impl AssignmentService for Fake {
    async fn upsert_rep(
        &self,
        request: Request<UpsertRepRequest>,
    ) -> Result<Response<UpsertRepResponse>, Status> {
        let tenant = self.caller(&request)?;
        let rep = request.into_inner().rep.unwrap_or_default();
        self.seen().reps.push((tenant, rep.team.clone()));
        Ok(Response::new(UpsertRepResponse {
            rep: Some(rep),
            created: true,
        }))
    }

    async fn list_reps(
        &self,
        _: Request<ListRepsRequest>,
    ) -> Result<Response<ListRepsResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn get_assignment(
        &self,
        _: Request<GetAssignmentRequest>,
    ) -> Result<Response<GetAssignmentResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn upsert_team(
        &self,
        _: Request<assignment::UpsertTeamRequest>,
    ) -> Result<Response<assignment::UpsertTeamResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn list_teams(
        &self,
        _: Request<assignment::ListTeamsRequest>,
    ) -> Result<Response<assignment::ListTeamsResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn upsert_rep_profile(
        &self,
        _: Request<assignment::UpsertRepProfileRequest>,
    ) -> Result<Response<assignment::UpsertRepProfileResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn list_rep_profiles(
        &self,
        _: Request<assignment::ListRepProfilesRequest>,
    ) -> Result<Response<assignment::ListRepProfilesResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn upsert_rule(
        &self,
        _: Request<assignment::UpsertRuleRequest>,
    ) -> Result<Response<assignment::UpsertRuleResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn list_rules(
        &self,
        _: Request<assignment::ListRulesRequest>,
    ) -> Result<Response<assignment::ListRulesResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn delete_rule(
        &self,
        _: Request<assignment::DeleteRuleRequest>,
    ) -> Result<Response<assignment::DeleteRuleResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn reorder_rules(
        &self,
        _: Request<assignment::ReorderRulesRequest>,
    ) -> Result<Response<assignment::ReorderRulesResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn list_pool(
        &self,
        _: Request<assignment::ListPoolRequest>,
    ) -> Result<Response<assignment::ListPoolResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn claim_from_pool(
        &self,
        _: Request<assignment::ClaimFromPoolRequest>,
    ) -> Result<Response<assignment::ClaimFromPoolResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn explain_assignment(
        &self,
        _: Request<assignment::ExplainAssignmentRequest>,
    ) -> Result<Response<assignment::ExplainAssignmentResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn list_transfers(
        &self,
        _: Request<assignment::ListTransfersRequest>,
    ) -> Result<Response<assignment::ListTransfersResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn upsert_recycling_policy(
        &self,
        _: Request<assignment::UpsertRecyclingPolicyRequest>,
    ) -> Result<Response<assignment::UpsertRecyclingPolicyResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn depart_rep(
        &self,
        _: Request<assignment::DepartRepRequest>,
    ) -> Result<Response<assignment::DepartRepResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }
}

#[tonic::async_trait]
impl PipelineService for Fake {
    /// Every lead of the tenant has its opportunity at once.
    async fn list_opportunities(
        &self,
        request: Request<ListOpportunitiesRequest>,
    ) -> Result<Response<ListOpportunitiesResponse>, Status> {
        let tenant = self.caller(&request)?;
        let total = self
            .seen()
            .leads
            .keys()
            .filter(|(t, _)| *t == tenant)
            .count();
        Ok(Response::new(ListOpportunitiesResponse {
            opportunities: Vec::new(),
            next_page_token: String::new(),
            total_count: total as u64,
            ..Default::default()
        }))
    }

    async fn get_opportunity(
        &self,
        _: Request<GetOpportunityRequest>,
    ) -> Result<Response<GetOpportunityResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn advance_stage(
        &self,
        _: Request<AdvanceStageRequest>,
    ) -> Result<Response<AdvanceStageResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn log_activity(
        &self,
        _: Request<LogActivityRequest>,
    ) -> Result<Response<LogActivityResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn close_opportunity(
        &self,
        _: Request<CloseOpportunityRequest>,
    ) -> Result<Response<CloseOpportunityResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn get_pipeline(
        &self,
        _: Request<GetPipelineRequest>,
    ) -> Result<Response<GetPipelineResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn upsert_pipeline(
        &self,
        _: Request<pipeline::UpsertPipelineRequest>,
    ) -> Result<Response<pipeline::UpsertPipelineResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn list_pipelines(
        &self,
        _: Request<pipeline::ListPipelinesRequest>,
    ) -> Result<Response<pipeline::ListPipelinesResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn update_opportunity(
        &self,
        _: Request<pipeline::UpdateOpportunityRequest>,
    ) -> Result<Response<pipeline::UpdateOpportunityResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn get_history(
        &self,
        _: Request<pipeline::GetHistoryRequest>,
    ) -> Result<Response<pipeline::GetHistoryResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn upsert_approval_rule(
        &self,
        _: Request<pipeline::UpsertApprovalRuleRequest>,
    ) -> Result<Response<pipeline::UpsertApprovalRuleResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn list_approval_rules(
        &self,
        _: Request<pipeline::ListApprovalRulesRequest>,
    ) -> Result<Response<pipeline::ListApprovalRulesResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn request_approval(
        &self,
        _: Request<pipeline::RequestApprovalRequest>,
    ) -> Result<Response<pipeline::RequestApprovalResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn decide(
        &self,
        _: Request<pipeline::DecideRequest>,
    ) -> Result<Response<pipeline::DecideResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn add_collaborator(
        &self,
        _: Request<pipeline::AddCollaboratorRequest>,
    ) -> Result<Response<pipeline::AddCollaboratorResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn remove_collaborator(
        &self,
        _: Request<pipeline::RemoveCollaboratorRequest>,
    ) -> Result<Response<pipeline::RemoveCollaboratorResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn upsert_loss_reasons(
        &self,
        _: Request<pipeline::UpsertLossReasonsRequest>,
    ) -> Result<Response<pipeline::UpsertLossReasonsResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn list_loss_reasons(
        &self,
        _: Request<pipeline::ListLossReasonsRequest>,
    ) -> Result<Response<pipeline::ListLossReasonsResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn reopen_opportunity(
        &self,
        _: Request<pipeline::ReopenOpportunityRequest>,
    ) -> Result<Response<pipeline::ReopenOpportunityResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn add_comment(
        &self,
        _: Request<pipeline::AddCommentRequest>,
    ) -> Result<Response<pipeline::AddCommentResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn list_comments(
        &self,
        _: Request<pipeline::ListCommentsRequest>,
    ) -> Result<Response<pipeline::ListCommentsResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }
}

/// Serves the three stand-ins on one port (the listener is bound before returning, so
/// the first connection is accepted without waiting).
async fn serve(fake: Fake) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(IntakeServiceServer::new(fake.clone()))
            .add_service(AssignmentServiceServer::new(fake.clone()))
            .add_service(PipelineServiceServer::new(fake))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

/// Runs `shangji` with every service pointed at `addr` and no SHANGJI_* from outside.
async fn shangji(addr: SocketAddr, args: &[&str]) -> Output {
    let url = format!("http://{addr}");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_shangji"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SHANGJI_") {
            command.env_remove(name);
        }
    }
    for service in [
        "intake",
        "dedup",
        "assignment",
        "pipeline",
        "reminders",
        "analytics",
    ] {
        command.arg(format!("--{service}")).arg(&url);
    }
    command.args(args).output().await.unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_prints_just_the_lead_id_and_sends_tenant_and_user() {
    let fake = Fake::default();
    let addr = serve(fake.clone()).await;
    let args = [
        "--tenant",
        "acme",
        "--user",
        "wang",
        "submit",
        "--name",
        "王先生",
        "--phone",
        "13800138000",
        "--key",
        "crm-1",
    ];
    let first = shangji(addr, &args).await;
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first), "lead-1\n");
    assert_eq!(stderr(&first), "");
    assert_eq!(
        fake.seen().callers,
        vec![("acme".to_owned(), "wang".to_owned())]
    );
    assert_eq!(fake.seen().contact_names, vec!["王先生"]);

    let again = shangji(addr, &args).await;
    assert!(again.status.success());
    assert_eq!(stdout(&again), "lead-1\n");
    assert!(stderr(&again).contains("replayed"), "{}", stderr(&again));
    assert_eq!(fake.seen().contact_names.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_submit_shows_the_field_and_exits_non_zero() {
    let addr = serve(Fake::default()).await;
    let output = shangji(addr, &["submit", "--phone", "bad"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "");
    let err = stderr(&output);
    assert!(
        err.contains("SubmitLead failed (INVALID_ARGUMENT)"),
        "{err}"
    );
    assert!(
        err.contains("  lead.phone: must contain 7 to 15 digits"),
        "{err}"
    );

    let output = shangji(addr, &["--json", "submit", "--phone", "bad"]).await;
    assert_eq!(output.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(err["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(err["error"]["field_violations"][0]["field"], "lead.phone");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_reports_bad_rows_and_creates_nothing_twice() {
    let fake = Fake::default();
    let addr = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leads.csv");
    std::fs::write(
        &path,
        "\u{feff}姓名,电话,微信\n张三,13800138000,zs\n李四,bad,\n王五,13900000000,\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();

    let first = shangji(addr, &["import", path]).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let report = stdout(&first);
    assert!(
        report.contains("3 rows, 2 accepted, 0 replayed, 1 rejected (UTF-8 with BOM)"),
        "{report}"
    );
    assert!(
        report.contains("3  lead.phone  电话    must contain 7 to 15 digits"),
        "{report}"
    );

    let again = shangji(addr, &["--json", "import", path]).await;
    assert_eq!(again.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["state"], "done");
    assert_eq!(report["accepted"], 0);
    assert_eq!(report["replayed"], 2);
    assert_eq!(report["rejected"], 1);
    assert_eq!(report["errors"][0]["row"], 3);
    assert_eq!(report["errors"][0]["column"], "电话");
    let mut names = fake.seen().contact_names.clone();
    names.sort();
    assert_eq!(names, vec!["张三", "王五"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_of_an_unreadable_file_exits_with_two() {
    let addr = serve(Fake::default()).await;
    let output = shangji(addr, &["import", "/nonexistent/leads.csv"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read /nonexistent/leads.csv"));
}

#[tokio::test(flavor = "multi_thread")]
async fn lead_wait_polls_until_the_opportunity_is_known() {
    let addr = serve(Fake::default()).await;
    let output = shangji(addr, &["lead", "lead-slow", "--wait", "10"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("opportunity  opp-7"),
        "{}",
        stdout(&output)
    );

    let output = shangji(addr, &["lead", "lead-stuck", "--wait", "1"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("status       qualified"));
    assert!(stderr(&output).contains("lead-stuck has no opportunity after 1 s"));

    let output = shangji(addr, &["lead", "lead-unknown"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("GetLead failed (NOT_FOUND): no lead lead-unknown"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bench_submits_every_lead_under_a_fresh_tenant_and_reports_json() {
    let fake = Fake::default();
    let addr = serve(fake.clone()).await;
    let output = shangji(
        addr,
        &[
            "--json",
            "bench",
            "--leads",
            "300",
            "--concurrency",
            "8",
            "--reps",
            "3",
            "--timeout",
            "30",
            "--connections",
            "2",
        ],
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let tenant = report["tenant"].as_str().unwrap().to_owned();
    assert!(tenant.starts_with("bench-"), "{tenant}");
    assert_eq!(report["acked"], 300);
    assert_eq!(report["opportunities"], 300);
    assert_eq!(report["finished"], true);
    assert!(report["ack_latency_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert!(report["pipeline_lag_after_last_ack_ms"].as_f64().is_some());

    let seen = fake.seen();
    assert_eq!(seen.reps.len(), 3);
    assert!(
        seen.reps
            .iter()
            .all(|(t, team)| *t == tenant && team == "bench")
    );
    let leads: Vec<_> = seen.leads.keys().filter(|(t, _)| *t == tenant).collect();
    assert_eq!(leads.len(), 300);
    let mut distinct = seen.contact_names.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() > 100, "names should vary");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_service_exits_with_one() {
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let output = shangji(addr, &["submit", "--name", "x"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("cannot connect to intake at http://127.0.0.1:1"));
}
