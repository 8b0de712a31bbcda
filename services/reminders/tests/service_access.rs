//! Data permissions over gRPC: reps, managers and admins across teams and tenants read
//! (and snooze, acknowledge) each other's due reminders. The org arrives as assignment
//! publishes it; real NATS, the service in-process, on SQLite and on PostgreSQL.
//!
//! acme:  sales (boss) ─┬─ east (zhou): wang, li, gone (departed)
//!                      └─ west (wu):   zhao
//!        root: admin.   globex: its own admin and a rep also called wang.
//!        openco: no organisation at all.

mod support;

use shangji_contracts::events::lead::LeadAssigned;
use shangji_contracts::events::opportunity::OpportunityCreated;
use shangji_contracts::events::org::{RepUpserted, TeamUpserted};
use shangji_contracts::events::{Domain, Event};
use shangji_contracts::reminders::{
    AcknowledgeRequest, ListDueRequest, Reminder, ReminderState, SnoozeRequest,
};
use shangji_contracts::time::{from_millis, now_millis, to_millis};
use shangji_reminders::RemindersConfig;
use support::{Backend, Harness, request, request_as};
use tonic::Code;

#[tokio::test]
async fn permissions_on_sqlite() {
    permissions(Backend::Sqlite).await;
}

#[tokio::test]
async fn permissions_on_postgres() {
    permissions(Backend::Postgres).await;
}

fn team(team_id: &str, parent: &str, manager: &str) -> TeamUpserted {
    TeamUpserted {
        team_id: team_id.to_owned(),
        name: team_id.to_owned(),
        parent_team_id: parent.to_owned(),
        manager_rep_id: manager.to_owned(),
        version: 1,
        ..Default::default()
    }
}

fn rep(rep_id: &str, team_id: &str, role: &str, status: &str) -> RepUpserted {
    RepUpserted {
        rep_id: rep_id.to_owned(),
        name: rep_id.to_owned(),
        team_id: team_id.to_owned(),
        role: role.to_owned(),
        status: status.to_owned(),
        version: 1,
        ..Default::default()
    }
}

fn assigned(lead_id: &str, rep_id: &str, team: &str) -> LeadAssigned {
    LeadAssigned {
        lead_id: lead_id.to_owned(),
        customer_id: format!("cus_{lead_id}"),
        rep_id: rep_id.to_owned(),
        team: team.to_owned(),
        ..Default::default()
    }
}

async fn deliver<E: Event>(h: &Harness, tenant: &str, event: &E) -> u64 {
    h.publish(tenant, event).await.1
}

/// Open reminders due within two days that `user` sees (None: no `x-user-id`),
/// optionally filtered to `owner`; their lead ids (or opportunity ids), sorted.
async fn sees(h: &Harness, tenant: &str, user: Option<&str>, owner: &str) -> Vec<String> {
    let message = ListDueRequest {
        owner_rep_id: owner.to_owned(),
        within: Some(prost_types::Duration {
            seconds: 48 * 3600,
            nanos: 0,
        }),
        limit: 0,
    };
    let call = match user {
        Some(user) => request_as(tenant, user, message),
        None => request(tenant, message),
    };
    let mut seen: Vec<String> = h
        .grpc
        .clone()
        .list_due(call)
        .await
        .expect("ListDue answers")
        .into_inner()
        .reminders
        .into_iter()
        .map(|r| what(&r))
        .collect();
    seen.sort();
    seen
}

fn what(r: &Reminder) -> String {
    if r.lead_id.is_empty() {
        r.opportunity_id.clone()
    } else {
        r.lead_id.clone()
    }
}

/// The open reminder of `lead_id`, as the tenant's admin sees it.
async fn reminder_of(h: &Harness, tenant: &str, lead_id: &str) -> Reminder {
    let admin = if tenant == "acme" { "root" } else { "g_admin" };
    h.grpc
        .clone()
        .list_due(request_as(
            tenant,
            admin,
            ListDueRequest {
                within: Some(prost_types::Duration {
                    seconds: 48 * 3600,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("ListDue answers")
        .into_inner()
        .reminders
        .into_iter()
        .find(|r| r.lead_id == lead_id)
        .unwrap_or_else(|| panic!("a reminder for {lead_id}"))
}

async fn snooze(
    h: &Harness,
    tenant: &str,
    user: &str,
    reminder_id: &str,
) -> Result<Reminder, Code> {
    h.grpc
        .clone()
        .snooze(request_as(
            tenant,
            user,
            SnoozeRequest {
                reminder_id: reminder_id.to_owned(),
                until: Some(from_millis(now_millis() + 30 * 3_600_000)),
                idempotency_key: format!("snooze-{user}-{reminder_id}"),
            },
        ))
        .await
        .map(|r| r.into_inner().reminder.expect("reminder"))
        .map_err(|status| status.code())
}

async fn acknowledge(
    h: &Harness,
    tenant: &str,
    user: &str,
    reminder_id: &str,
    key: &str,
) -> Result<Reminder, Code> {
    h.grpc
        .clone()
        .acknowledge(request_as(
            tenant,
            user,
            AcknowledgeRequest {
                reminder_id: reminder_id.to_owned(),
                idempotency_key: key.to_owned(),
            },
        ))
        .await
        .map(|r| r.into_inner().reminder.expect("reminder"))
        .map_err(|status| status.code())
}

async fn permissions(backend: Backend) {
    let h = Harness::start_on(backend, RemindersConfig::default()).await;
    let mut last_org = 0;
    for t in [
        team("sales", "", "boss"),
        team("east", "sales", "zhou"),
        team("west", "sales", "wu"),
    ] {
        last_org = deliver(&h, "acme", &t).await;
    }
    for r in [
        rep("boss", "sales", "manager", "active"),
        rep("zhou", "east", "manager", "active"),
        rep("wu", "west", "manager", "active"),
        rep("wang", "east", "rep", "active"),
        rep("li", "east", "rep", "active"),
        rep("zhao", "west", "rep", "active"),
        rep("gone", "east", "rep", "departed"),
        rep("root", "", "admin", "active"),
    ] {
        last_org = deliver(&h, "acme", &r).await;
    }
    deliver(&h, "globex", &rep("g_admin", "", "admin", "active")).await;
    let seq = deliver(&h, "globex", &rep("wang", "g_team", "rep", "active")).await;
    h.consumed(Domain::Org, seq.max(last_org)).await;

    // Reminders: leads of wang and li (east), zhao (west), an opportunity of wang's
    // opened without a lead, a lead of globex's wang and one of openco's.
    deliver(&h, "acme", &assigned("l_wang", "wang", "east")).await;
    deliver(&h, "acme", &assigned("l_li", "li", "east")).await;
    deliver(&h, "acme", &assigned("l_zhao", "zhao", "west")).await;
    deliver(&h, "globex", &assigned("g_wang", "wang", "g_team")).await;
    let seq = deliver(&h, "openco", &assigned("o_lead", "anyone", "")).await;
    h.consumed(Domain::Lead, seq).await;
    let opened = OpportunityCreated {
        opportunity_id: "o_wang".to_owned(),
        customer_id: "cus_o_wang".to_owned(),
        owner_rep_id: "wang".to_owned(),
        stage: "lead".to_owned(),
        team: "east".to_owned(),
        created_at: Some(from_millis(now_millis())),
        ..Default::default()
    };
    let seq = deliver(&h, "acme", &opened).await;
    h.consumed(Domain::Opportunity, seq).await;

    // A rep sees their own; naming another rep's reminders gives an empty list.
    assert_eq!(
        sees(&h, "acme", Some("wang"), "").await,
        ["l_wang", "o_wang"]
    );
    assert_eq!(
        sees(&h, "acme", Some("wang"), "wang").await,
        ["l_wang", "o_wang"]
    );
    assert!(sees(&h, "acme", Some("wang"), "li").await.is_empty());
    assert_eq!(sees(&h, "acme", Some("li"), "").await, ["l_li"]);
    assert_eq!(sees(&h, "acme", Some("zhao"), "").await, ["l_zhao"]);
    // A manager sees their team, not the neighbour's; the top manager the whole tree.
    assert_eq!(
        sees(&h, "acme", Some("zhou"), "").await,
        ["l_li", "l_wang", "o_wang"]
    );
    assert_eq!(sees(&h, "acme", Some("zhou"), "li").await, ["l_li"]);
    assert!(sees(&h, "acme", Some("zhou"), "zhao").await.is_empty());
    assert_eq!(sees(&h, "acme", Some("wu"), "").await, ["l_zhao"]);
    assert_eq!(
        sees(&h, "acme", Some("boss"), "").await,
        ["l_li", "l_wang", "l_zhao", "o_wang"]
    );
    // An admin sees the whole tenant and nothing of another.
    assert_eq!(
        sees(&h, "acme", Some("root"), "").await,
        ["l_li", "l_wang", "l_zhao", "o_wang"]
    );
    assert_eq!(sees(&h, "globex", Some("g_admin"), "").await, ["g_wang"]);
    // The same rep id in another tenant is another person.
    assert_eq!(sees(&h, "globex", Some("wang"), "").await, ["g_wang"]);
    // Once a tenant has an admin, unknown, anonymous and departed callers see nothing.
    assert!(sees(&h, "acme", Some("stranger"), "").await.is_empty());
    assert!(sees(&h, "acme", None, "").await.is_empty());
    assert!(sees(&h, "acme", Some("gone"), "").await.is_empty());
    // A tenant without an organisation is not restricted (as in the pipeline service).
    assert_eq!(sees(&h, "openco", Some("whoever"), "").await, ["o_lead"]);
    assert_eq!(sees(&h, "openco", None, "").await, ["o_lead"]);

    // Snooze and Acknowledge only what one may see; the rest is NOT_FOUND, exactly like
    // an id that does not exist.
    let li = reminder_of(&h, "acme", "l_li").await;
    let zhao = reminder_of(&h, "acme", "l_zhao").await;
    let g_wang = reminder_of(&h, "globex", "g_wang").await;
    assert_eq!(
        snooze(&h, "acme", "wang", &li.reminder_id).await,
        Err(Code::NotFound)
    );
    assert_eq!(
        snooze(&h, "acme", "wang", "rem_missing").await,
        Err(Code::NotFound)
    );
    assert_eq!(
        acknowledge(&h, "acme", "zhou", &zhao.reminder_id, "k1").await,
        Err(Code::NotFound)
    );
    assert_eq!(
        acknowledge(&h, "acme", "root", &g_wang.reminder_id, "k2").await,
        Err(Code::NotFound),
        "another tenant's reminder"
    );
    // Nothing changed for the refused calls.
    assert_eq!(reminder_of(&h, "acme", "l_li").await, li);
    let snoozed = snooze(&h, "acme", "zhou", &li.reminder_id)
        .await
        .expect("the manager snoozes");
    let at = |r: &Reminder| to_millis(r.due_at.as_ref().expect("due_at"));
    assert!(at(&snoozed) > at(&li), "snoozed later");
    let done = acknowledge(&h, "acme", "li", &li.reminder_id, "k3")
        .await
        .expect("the owner acknowledges");
    assert_eq!(done.state, ReminderState::Done as i32);
    // Reusing someone's idempotency key does not open their reminder to a stranger.
    assert_eq!(
        acknowledge(&h, "acme", "zhao", &li.reminder_id, "k3").await,
        Err(Code::NotFound)
    );
    let done = acknowledge(&h, "acme", "wu", &zhao.reminder_id, "k4")
        .await
        .expect("the manager acknowledges");
    assert_eq!(done.state, ReminderState::Done as i32);
    assert_eq!(
        sees(&h, "acme", Some("root"), "").await,
        ["l_wang", "o_wang"]
    );
    h.stop().await;
}
