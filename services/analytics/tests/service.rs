//! The analytics service end to end: real NATS JetStream, the service in-process, events
//! published as the producing services' relays would, reports read via gRPC.

mod support;

use std::collections::HashMap;

use shangji_analytics::AnalyticsConfig;
use shangji_analytics::store::rollups;
use shangji_contracts::analytics::{
    ExportCsvRequest, ForecastResponse, FunnelRequest, FunnelResponse, FunnelStage,
    RebuildReadModelsRequest, Report, ReportFilter, ReportRequest, SliceBy,
};
use shangji_contracts::common::Lead;
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::events::opportunity::{
    OpportunityActivityLogged, OpportunityCreated, OpportunityLost, OpportunityStageChanged,
    OpportunityWon,
};
use shangji_contracts::events::org::{RepUpserted, TeamUpserted};
use shangji_contracts::events::reminder::ReminderDue;
use shangji_contracts::events::{Domain, Envelope, Event};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::Db;
use support::{Harness, as_user, request};
use tonic::Code;

const DAY: i64 = 86_400_000;
const TENANT: &str = "acme";

/// Publishes events, remembers them (to deliver them again) and the last stream
/// sequence per domain (to wait until they are consumed).
struct Published {
    events: Vec<(Envelope, String, Domain)>,
    last: HashMap<Domain, u64>,
}

impl Published {
    fn new() -> Published {
        Published {
            events: Vec::new(),
            last: HashMap::new(),
        }
    }

    async fn publish<E: Event>(&mut self, h: &Harness, tenant: &str, event: &E) {
        let (envelope, seq) = h.publish(tenant, event).await;
        self.note(E::DOMAIN, seq);
        self.events.push((envelope, E::subject(), E::DOMAIN));
    }

    fn note(&mut self, domain: Domain, seq: u64) {
        let last = self.last.entry(domain).or_default();
        *last = (*last).max(seq);
    }

    /// Every event again under a new message id, as a redelivery would bring it.
    async fn redeliver(&mut self, h: &Harness) {
        for (envelope, subject, domain) in self.events.clone() {
            let seq = h
                .publish_to(subject, &envelope, &format!("again-{}", envelope.event_id))
                .await;
            self.note(domain, seq);
        }
    }

    async fn consumed(&self, h: &Harness) {
        for (domain, seq) in &self.last {
            h.consumed(*domain, *seq).await;
        }
    }
}

/// The org: sales (root) with teams east and west; boss is admin, mgr manages east,
/// rep_a sits in east, rep_b in west.
fn org() -> (Vec<TeamUpserted>, Vec<RepUpserted>) {
    let team = |id: &str, ancestors: &[&str]| TeamUpserted {
        team_id: id.to_owned(),
        name: id.to_owned(),
        parent_team_id: ancestors
            .last()
            .map(|a| (*a).to_owned())
            .unwrap_or_default(),
        ancestor_team_ids: ancestors.iter().map(|a| (*a).to_owned()).collect(),
        version: 1,
        ..Default::default()
    };
    let rep = |id: &str, team: &str, role: &str| RepUpserted {
        rep_id: id.to_owned(),
        name: id.to_owned(),
        team_id: team.to_owned(),
        role: role.to_owned(),
        status: "active".to_owned(),
        version: 1,
        ..Default::default()
    };
    (
        vec![
            team("sales", &[]),
            team("east", &["sales"]),
            team("west", &["sales"]),
        ],
        vec![
            rep("boss", "sales", "admin"),
            rep("mgr", "east", "manager"),
            rep("rep_a", "east", "rep"),
            rep("rep_b", "west", "rep"),
        ],
    )
}

/// One small journey, a minute ago: 3 web leads; o1 and o2 (rep_a, east) and o3
/// (rep_b, west) open in `lead` at 100; o1 is followed up, qualified at 300 and won at
/// 500; o2 is lost on price; o3's reminder falls due.
async fn publish_journey(h: &Harness, tenant: &str, p: &mut Published, backwards: bool) {
    let t0 = now_millis() - 60_000;
    let at = |ms: i64| Some(from_millis(t0 + ms));
    let mut lead_events = Vec::new();
    for i in 1..=3 {
        lead_events.push(LeadReceived {
            lead_id: format!("lead_{i}"),
            lead: Some(Lead {
                contact_name: format!("王先生 {i}"),
                source: "web_form".to_owned(),
                ..Default::default()
            }),
            channel: "grpc".to_owned(),
            received_at: at(0),
        });
    }
    let created: Vec<OpportunityCreated> = [
        ("o1", "rep_a", "east"),
        ("o2", "rep_a", "east"),
        ("o3", "rep_b", "west"),
    ]
    .into_iter()
    .map(|(id, owner, team)| OpportunityCreated {
        opportunity_id: id.to_owned(),
        customer_id: format!("c_{id}"),
        owner_rep_id: owner.to_owned(),
        lead_id: format!("lead_{id}"),
        stage: "lead".to_owned(),
        stage_order: 0,
        amount: 100.0,
        source: "web_form".to_owned(),
        industry: "制造".to_owned(),
        region: "华东".to_owned(),
        team: team.to_owned(),
        created_at: at(1_000),
        expected_close_at: Some(from_millis(t0 + 30 * DAY)),
        stage_probability: 0.1,
        ..Default::default()
    })
    .collect();
    let followed_up = OpportunityActivityLogged {
        opportunity_id: "o1".to_owned(),
        owner_rep_id: "rep_a".to_owned(),
        activity_id: "act_1".to_owned(),
        kind: "call".to_owned(),
        logged_at: at(1_500),
        ..Default::default()
    };
    let qualified = OpportunityStageChanged {
        opportunity_id: "o1".to_owned(),
        owner_rep_id: "rep_a".to_owned(),
        from_stage: "lead".to_owned(),
        from_stage_order: 0,
        to_stage: "qualified".to_owned(),
        to_stage_order: 1,
        amount: 300.0,
        changed_at: at(2_000),
        to_stage_probability: 0.5,
        team: "east".to_owned(),
        ..Default::default()
    };
    let won = OpportunityWon {
        opportunity_id: "o1".to_owned(),
        owner_rep_id: "rep_a".to_owned(),
        amount: 500.0,
        from_stage: "qualified".to_owned(),
        closed_at: at(3_000),
        created_at: at(1_000),
        ..Default::default()
    };
    let lost = OpportunityLost {
        opportunity_id: "o2".to_owned(),
        owner_rep_id: "rep_a".to_owned(),
        amount: 100.0,
        from_stage: "lead".to_owned(),
        reason: "price".to_owned(),
        closed_at: at(4_000),
        ..Default::default()
    };
    let due = ReminderDue {
        reminder_id: "rem_1".to_owned(),
        opportunity_id: "o3".to_owned(),
        owner_rep_id: "rep_b".to_owned(),
        kind: "follow_up".to_owned(),
        due_at: at(5_000),
        ..Default::default()
    };
    // A first-contact reminder that fell due before its lead had an opportunity.
    let lead_due = ReminderDue {
        reminder_id: "rem_2".to_owned(),
        lead_id: "l9".to_owned(),
        owner_rep_id: "rep_a".to_owned(),
        kind: "first_contact".to_owned(),
        due_at: at(5_100),
        ..Default::default()
    };
    if backwards {
        p.publish(h, tenant, &lead_due).await;
        p.publish(h, tenant, &due).await;
        p.publish(h, tenant, &lost).await;
        p.publish(h, tenant, &won).await;
        p.publish(h, tenant, &qualified).await;
        p.publish(h, tenant, &followed_up).await;
        for c in created.iter().rev() {
            p.publish(h, tenant, c).await;
        }
        for l in lead_events.iter().rev() {
            p.publish(h, tenant, l).await;
        }
    } else {
        for l in &lead_events {
            p.publish(h, tenant, l).await;
        }
        for c in &created {
            p.publish(h, tenant, c).await;
        }
        p.publish(h, tenant, &followed_up).await;
        p.publish(h, tenant, &qualified).await;
        p.publish(h, tenant, &won).await;
        p.publish(h, tenant, &lost).await;
        p.publish(h, tenant, &due).await;
        p.publish(h, tenant, &lead_due).await;
    }
}

async fn publish_org(h: &Harness, tenant: &str, p: &mut Published) {
    let (teams, reps) = org();
    for t in &teams {
        p.publish(h, tenant, t).await;
    }
    for r in &reps {
        p.publish(h, tenant, r).await;
    }
}

fn stage(
    stage: &str,
    order: u32,
    count: u64,
    amount: f64,
    conversion_to_next: f64,
    current_count: u64,
) -> FunnelStage {
    FunnelStage {
        stage: stage.to_owned(),
        count,
        amount,
        conversion_to_next,
        current_count,
        order,
    }
}

fn expected_tenant_funnel() -> FunnelResponse {
    FunnelResponse {
        stages: vec![
            // All 3 reached lead (o2 100 + o3 100 + o1 now 500); only o3 sits there open.
            stage("lead", 0, 3, 700.0, 1.0 / 3.0, 1),
            stage("qualified", 1, 1, 500.0, 1.0, 0),
            stage("won", 2, 1, 500.0, 0.0, 1),
        ],
        leads_received: 3,
        opportunities_won: 1,
        opportunities_lost: 1,
        won_amount: 500.0,
        ..Default::default()
    }
}

async fn funnel_as(
    h: &Harness,
    user: &str,
    req: FunnelRequest,
) -> Result<FunnelResponse, tonic::Status> {
    let mut grpc = h.grpc.clone();
    let req = if user.is_empty() {
        request(TENANT, req)
    } else {
        as_user(TENANT, user, req)
    };
    grpc.funnel(req).await.map(|r| r.into_inner())
}

fn filter(slice_by: SliceBy) -> Option<ReportFilter> {
    Some(ReportFilter {
        slice_by: slice_by as i32,
        ..Default::default()
    })
}

#[tokio::test]
async fn reports_follow_the_events_and_the_callers_permissions() {
    let h = Harness::start(AnalyticsConfig::default()).await;
    let mut p = Published::new();
    publish_org(&h, TENANT, &mut p).await;
    publish_journey(&h, TENANT, &mut p, false).await;
    p.consumed(&h).await;

    // The admin and (as before permissions existed) an unknown caller see the tenant.
    let admin = funnel_as(&h, "boss", FunnelRequest::default())
        .await
        .expect("funnel");
    assert_eq!(admin, expected_tenant_funnel());
    assert_eq!(
        funnel_as(&h, "", FunnelRequest::default())
            .await
            .expect("funnel"),
        expected_tenant_funnel()
    );
    // The east manager sees o1 and o2; rep_b only o3.
    let east = funnel_as(&h, "mgr", FunnelRequest::default())
        .await
        .expect("funnel");
    assert_eq!(east.stages[0], stage("lead", 0, 2, 600.0, 0.5, 0));
    assert_eq!((east.opportunities_won, east.opportunities_lost), (1, 1));
    let b = funnel_as(&h, "rep_b", FunnelRequest::default())
        .await
        .expect("funnel");
    assert_eq!(b.stages[0], stage("lead", 0, 1, 100.0, 0.0, 1));
    // Nobody sees past their scope.
    let err = funnel_as(
        &h,
        "rep_b",
        FunnelRequest {
            owner_rep_id: "rep_a".to_owned(),
            ..Default::default()
        },
    )
    .await
    .expect_err("someone else's figures");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = funnel_as(
        &h,
        "mgr",
        FunnelRequest {
            filter: Some(ReportFilter {
                team_id: "west".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
    .expect_err("another team");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = h
        .grpc
        .clone()
        .win_loss(request(TENANT, ReportRequest::default()))
        .await
        .expect_err("unknown caller");
    assert_eq!(err.code(), Code::PermissionDenied);

    // Sliced by team: one funnel each.
    let by_team = funnel_as(
        &h,
        "boss",
        FunnelRequest {
            filter: filter(SliceBy::Team),
            ..Default::default()
        },
    )
    .await
    .expect("funnel");
    let teams: Vec<(&str, u64)> = by_team
        .slices
        .iter()
        .map(|s| (s.slice.as_str(), s.stages[0].count))
        .collect();
    assert_eq!(teams, vec![("east", 2), ("west", 1)]);

    let mut grpc = h.grpc.clone();
    let win_loss = grpc
        .win_loss(as_user(TENANT, "boss", ReportRequest::default()))
        .await
        .expect("win loss")
        .into_inner()
        .total
        .expect("total");
    assert_eq!((win_loss.won, win_loss.lost), (1, 1));
    assert_eq!(
        (win_loss.win_rate, win_loss.average_deal_size),
        (0.5, 500.0)
    );
    assert_eq!(win_loss.loss_reasons.len(), 1);
    assert_eq!(
        (
            win_loss.loss_reasons[0].reason.as_str(),
            win_loss.loss_reasons[0].count
        ),
        ("price", 1)
    );

    let cycle = grpc
        .stage_cycle_times(as_user(TENANT, "boss", ReportRequest::default()))
        .await
        .expect("cycle times")
        .into_inner();
    let counts: Vec<(&str, u64)> = cycle
        .stages
        .iter()
        .map(|s| (s.stage.as_str(), s.count))
        .collect();
    // o1 and o2 left lead; o1 left qualified when it was won.
    assert_eq!(counts, vec![("lead", 2), ("qualified", 1)]);
    assert!(
        cycle
            .stages
            .iter()
            .all(|s| s.median_days < 1.0 && s.p90_days >= s.median_days)
    );

    let activity = grpc
        .rep_activity(as_user(TENANT, "boss", ReportRequest::default()))
        .await
        .expect("activity")
        .into_inner();
    let reps: Vec<(&str, u64, u64, u64)> = activity
        .reps
        .iter()
        .map(|r| {
            (
                r.rep_id.as_str(),
                r.follow_ups,
                r.first_responses,
                r.reminders_due,
            )
        })
        .collect();
    // rep_a's reminder was for a lead without an opportunity yet: it counts all the same.
    assert_eq!(reps, vec![("rep_a", 1, 1, 1), ("rep_b", 0, 0, 1)]);
    // A rep sees only their own row.
    let own = grpc
        .rep_activity(as_user(TENANT, "rep_b", ReportRequest::default()))
        .await
        .expect("activity")
        .into_inner();
    assert_eq!(own.reps.len(), 1);
    assert_eq!(own.reps[0].rep_id, "rep_b");

    let sources = grpc
        .source_quality(as_user(TENANT, "boss", ReportRequest::default()))
        .await
        .expect("sources")
        .into_inner()
        .sources;
    assert_eq!(sources.len(), 1);
    let web = &sources[0];
    assert_eq!(
        (
            web.source.as_str(),
            web.leads_received,
            web.opportunities_won,
            web.won_amount
        ),
        ("web_form", 3, 1, 500.0)
    );
    assert!((web.revenue_per_lead - 500.0 / 3.0).abs() < 1e-9);

    let forecast: ForecastResponse = grpc
        .forecast(as_user(TENANT, "boss", ReportRequest::default()))
        .await
        .expect("forecast")
        .into_inner();
    let open: Vec<_> = forecast
        .months
        .iter()
        .filter(|m| m.open_count > 0)
        .collect();
    assert_eq!(open.len(), 1, "{forecast:?}");
    assert_eq!(
        (open[0].pipeline_amount, open[0].weighted_amount),
        (100.0, 10.0)
    );
    // Half the closed deals that reached lead were won.
    assert_eq!(open[0].historical_amount, 50.0);
    let won_months: f64 = forecast.months.iter().map(|m| m.closed_won_amount).sum();
    assert_eq!(won_months, 500.0);
    let rates: Vec<(&str, u64, u64)> = forecast
        .stage_win_rates
        .iter()
        .map(|r| (r.stage.as_str(), r.closed, r.won))
        .collect();
    assert_eq!(rates, vec![("lead", 2, 1), ("qualified", 1, 1)]);

    // Time travel: before the journey nothing had happened; today, everything.
    let yesterday = funnel_as(
        &h,
        "boss",
        FunnelRequest {
            as_of: Some(from_millis(now_millis() - 2 * DAY)),
            ..Default::default()
        },
    )
    .await
    .expect("past funnel");
    assert!(
        yesterday.stages.iter().all(|s| s.count == 0),
        "{yesterday:?}"
    );
    let today = funnel_as(
        &h,
        "boss",
        FunnelRequest {
            as_of: Some(from_millis(now_millis() + DAY)),
            ..Default::default()
        },
    )
    .await
    .expect("funnel as of today");
    let counts: Vec<u64> = today.stages.iter().map(|s| s.count).collect();
    assert_eq!(counts, vec![3, 1, 1]);
    assert_eq!(today.opportunities_lost, 1);

    // CSV for every report.
    for report in [
        Report::Funnel,
        Report::StageCycleTimes,
        Report::WinLoss,
        Report::LossReasons,
        Report::RepActivity,
        Report::SourceQuality,
        Report::Forecast,
    ] {
        let mut stream = grpc
            .export_csv(as_user(
                TENANT,
                "boss",
                ExportCsvRequest {
                    report: report as i32,
                    ..Default::default()
                },
            ))
            .await
            .expect("export")
            .into_inner();
        let mut csv = Vec::new();
        while let Some(chunk) = stream.message().await.expect("chunk") {
            csv.extend(chunk.data);
        }
        let text = String::from_utf8(csv).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 2, "{report:?}: {text}");
        match report {
            Report::Funnel => assert!(text.contains("total,lead,0,3,700,1,"), "{text}"),
            Report::LossReasons => assert!(text.contains("total,price,1,100,1"), "{text}"),
            Report::SourceQuality => assert!(text.contains("web_form,3,"), "{text}"),
            _ => {}
        }
    }
    // A rep's export is their own.
    let mut stream = grpc
        .export_csv(as_user(
            TENANT,
            "rep_b",
            ExportCsvRequest {
                report: Report::RepActivity as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("export")
        .into_inner();
    let mut text = String::new();
    while let Some(chunk) = stream.message().await.expect("chunk") {
        text.push_str(&String::from_utf8(chunk.data).expect("utf-8"));
    }
    assert!(text.contains("rep_b") && !text.contains("rep_a"), "{text}");

    // Every event delivered a second time changes nothing.
    p.redeliver(&h).await;
    p.consumed(&h).await;
    assert_eq!(
        funnel_as(&h, "boss", FunnelRequest::default())
            .await
            .expect("funnel"),
        expected_tenant_funnel()
    );
    // Another tenant sees none of it.
    let other = h
        .grpc
        .clone()
        .funnel(request("globex", FunnelRequest::default()))
        .await
        .expect("funnel")
        .into_inner();
    assert_eq!(other.stages, vec![stage("won", 0, 0, 0.0, 0.0, 0)]);
    h.stop().await;
}

/// The live generation's rollups of the service's database.
async fn live_rows(
    db: &Db,
    tenant: &str,
) -> Vec<(
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    String,
    i64,
    i64,
)> {
    let live = shangji_analytics::store::generations::status(db, tenant)
        .await
        .expect("status")
        .live;
    let mut rows = rollups::all_rows(db, tenant, live).await.expect("rows");
    rows.sort();
    rows
}

async fn out_of_order_and_rebuild(database_url: Option<String>) {
    let h = Harness::start_on(AnalyticsConfig::default(), database_url.clone()).await;
    let mut p = Published::new();
    publish_org(&h, TENANT, &mut p).await;
    publish_journey(&h, TENANT, &mut p, false).await;
    publish_journey(&h, "shuffled", &mut p, true).await;
    p.consumed(&h).await;
    let url = database_url
        .unwrap_or_else(|| format!("sqlite://{}/analytics.db", h.data.path().display()));
    let db = Db::connect(&url, "analytics-test").await.expect("connect");

    // Backwards, the same rollups.
    let incremental = live_rows(&db, TENANT).await;
    assert!(incremental.len() > 50, "{} rows", incremental.len());
    assert_eq!(live_rows(&db, "shuffled").await, incremental);

    // Only an admin may rebuild.
    let err = h
        .grpc
        .clone()
        .rebuild_read_models(as_user(TENANT, "mgr", RebuildReadModelsRequest::default()))
        .await
        .expect_err("not an admin");
    assert_eq!(err.code(), Code::PermissionDenied);
    let before = funnel_as(&h, "boss", FunnelRequest::default())
        .await
        .expect("funnel");
    let rebuilt = h
        .grpc
        .clone()
        .rebuild_read_models(as_user(
            TENANT,
            "boss",
            RebuildReadModelsRequest {
                idempotency_key: "rebuild-1".to_owned(),
                wait: true,
            },
        ))
        .await
        .expect("rebuild")
        .into_inner();
    assert!(rebuilt.finished && rebuilt.generation == 1, "{rebuilt:?}");
    assert_eq!(rebuilt.events_applied, 12);
    // The rebuilt generation is live and equals the incrementally kept one.
    assert_eq!(live_rows(&db, TENANT).await, incremental);
    assert_eq!(
        funnel_as(&h, "boss", FunnelRequest::default())
            .await
            .expect("funnel"),
        before
    );
    // A retry with the same key starts nothing.
    let again = h
        .grpc
        .clone()
        .rebuild_read_models(as_user(
            TENANT,
            "boss",
            RebuildReadModelsRequest {
                idempotency_key: "rebuild-1".to_owned(),
                wait: true,
            },
        ))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(again.generation, 1);
    assert_eq!(
        shangji_analytics::store::generations::status(&db, TENANT)
            .await
            .expect("status")
            .live,
        1
    );
    // Events after the rebuild land in the new generation.
    let mut more = Published::new();
    more.publish(
        &h,
        TENANT,
        &OpportunityLost {
            opportunity_id: "o3".to_owned(),
            owner_rep_id: "rep_b".to_owned(),
            amount: 100.0,
            from_stage: "lead".to_owned(),
            reason: "timing".to_owned(),
            closed_at: Some(from_millis(now_millis())),
            ..Default::default()
        },
    )
    .await;
    more.consumed(&h).await;
    let after = funnel_as(&h, "boss", FunnelRequest::default())
        .await
        .expect("funnel");
    assert_eq!(after.opportunities_lost, 2);
    db.close().await;
    h.stop().await;
}

#[tokio::test]
async fn out_of_order_events_and_a_rebuild_give_the_same_read_models_on_sqlite() {
    out_of_order_and_rebuild(None).await;
}

#[tokio::test]
async fn out_of_order_events_and_a_rebuild_give_the_same_read_models_on_postgres() {
    let pg = shangji_testkit::Postgres::start()
        .await
        .expect("postgres starts");
    let url = pg
        .create_database("analytics_service")
        .await
        .expect("database");
    out_of_order_and_rebuild(Some(url)).await;
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let h = Harness::start(AnalyticsConfig::default()).await;
    let err = h
        .grpc
        .clone()
        .funnel(tonic::Request::new(FunnelRequest::default()))
        .await
        .expect_err("no tenant refused");
    assert_eq!(err.code(), Code::Unauthenticated);
    for (req, field) in [
        (
            FunnelRequest {
                owner_rep_id: "x".repeat(200),
                ..Default::default()
            },
            "owner_rep_id",
        ),
        (
            FunnelRequest {
                filter: Some(ReportFilter {
                    from_month: "2026-13".to_owned(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "filter.from_month",
        ),
        (
            FunnelRequest {
                filter: filter(SliceBy::Source),
                as_of: Some(from_millis(now_millis())),
                ..Default::default()
            },
            "filter.slice_by",
        ),
    ] {
        let err = funnel_as(&h, "", req).await.expect_err("refused");
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains(field), "{}", err.message());
    }
    let err = h
        .grpc
        .clone()
        .export_csv(request(TENANT, ExportCsvRequest::default()))
        .await
        .expect_err("no report named");
    assert_eq!(err.code(), Code::InvalidArgument);
    h.stop().await;
}
