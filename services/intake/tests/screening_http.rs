//! Floods from one client address, through a web form posted by a real HTTP client:
//! past the per-address limit the lead is still stored (201) but flagged, and waits.

mod http_support;
mod support;

use std::collections::BTreeMap;

use http_support::{HttpHarness, assert_no_announcement, next_announcement};
use shangji_contracts::intake::{
    GetLeadRequest, LeadStatus, ListFlaggedLeadsRequest, ScreeningCode, UpsertWebFormRequest,
    WebForm,
};
use shangji_intake::IntakeConfig;
use support::{Backend, with_tenant};

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_from_one_address_is_flagged_past_the_limit() {
    let config = IntakeConfig {
        flood_max_per_address: 2,
        ..IntakeConfig::default()
    };
    let mut h = HttpHarness::start_with(Backend::Sqlite, config).await;
    let mut announced = h.announcements().await;
    let form = WebForm {
        form_id: "contact-us".into(),
        field_mapping: BTreeMap::from([
            ("name".to_owned(), "contact_name".to_owned()),
            ("tel".to_owned(), "phone".to_owned()),
        ]),
        active: true,
        ..Default::default()
    };
    h.grpc
        .upsert_web_form(with_tenant(
            UpsertWebFormRequest {
                idempotency_key: "form".into(),
                form: Some(form),
                expected_version: 0,
            },
            "acme",
        ))
        .await
        .unwrap();

    // Three different people from one machine: the third is one too many.
    let mut lead_ids = Vec::new();
    for (name, phone) in [
        ("王伟", "13800138011"),
        ("李娜", "13800138012"),
        ("赵强", "13800138013"),
    ] {
        let answer = h
            .post_form(
                "/forms/acme/contact-us",
                &[],
                &format!("name={name}&tel={phone}"),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.text());
        lead_ids.push(answer.lead_id());
    }
    for expected in &lead_ids[..2] {
        let (_, event) = next_announcement(&mut announced).await;
        assert_eq!(&event.lead_id, expected);
    }
    assert_no_announcement(&mut announced, "the third lead is held back").await;

    let queue = h
        .grpc
        .list_flagged_leads(with_tenant(
            ListFlaggedLeadsRequest {
                code: ScreeningCode::Flood as i32,
                ..Default::default()
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner()
        .leads;
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].lead_id, lead_ids[2]);
    assert_eq!(queue[0].flags[0].field, "client_address");
    assert!(
        queue[0].flags[0].reason.contains("from address 127.0.0.1"),
        "{:?}",
        queue[0].flags
    );
    let held = h
        .grpc
        .get_lead(with_tenant(
            GetLeadRequest {
                lead_id: lead_ids[2].clone(),
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.status, LeadStatus::Flagged as i32);
    h.stop().await;
}
