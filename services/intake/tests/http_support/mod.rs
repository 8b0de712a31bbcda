//! Intake in-process with its HTTP channels on a port the test bound first, plus a real
//! HTTP client (hyper) to post forms and webhooks as browsers and other systems do.
#![allow(dead_code)] // each test file uses part of the harness

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message as _;
use shangji_contracts::events::Envelope;
use shangji_contracts::events::Event as _;
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_intake::IntakeConfig;
use shangji_platform::RunningService;
use shangji_testkit::{NatsServer, Postgres};
use tonic::transport::Channel;

use crate::support::Backend;

pub struct HttpHarness {
    pub nats: NatsServer,
    pub service: RunningService,
    pub grpc: IntakeServiceClient<Channel>,
    pub http_addr: SocketAddr,
    pub http: Client<HttpConnector, Full<Bytes>>,
    _data: tempfile::TempDir,
    _postgres: Option<Postgres>,
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn lead_id(&self) -> String {
        self.json()["lead_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no lead_id in {}", self.text()))
            .to_owned()
    }
}

impl HttpHarness {
    pub async fn start(backend: Backend) -> HttpHarness {
        HttpHarness::start_with(backend, IntakeConfig::default()).await
    }

    pub async fn start_with(backend: Backend, config: IntakeConfig) -> HttpHarness {
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(Postgres::start().await.expect("PostgreSQL")),
        };
        let database_url = match &postgres {
            Some(pg) => Some(pg.create_database("intake").await.expect("database")),
            None => None,
        };
        let nats = NatsServer::start().await.expect("nats-server");
        let data = tempfile::tempdir().expect("data dir");
        let mut settings = shangji_intake::SPEC.default_settings();
        settings.listen_addr = "127.0.0.1:0".parse().expect("address");
        settings.metrics_addr = None;
        settings.data_dir = data.path().to_owned();
        settings.nats_url = nats.url();
        settings.shutdown_grace_secs = 5;
        settings.database_url = database_url;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind http");
        let http_addr = listener.local_addr().expect("http address");
        let service = shangji_intake::start_with_http_listener(settings, config, listener)
            .await
            .expect("intake starts");
        let grpc = IntakeServiceClient::connect(service.endpoint())
            .await
            .expect("grpc connect");
        HttpHarness {
            nats,
            service,
            grpc,
            http_addr,
            http: Client::builder(TokioExecutor::new()).build_http(),
            _data: data,
            _postgres: postgres,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http_addr)
    }

    /// Sends one request; `headers` as (name, value).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut request = hyper::Request::builder().method(method).uri(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body.into())).expect("request");
        let response = self.http.request(request).await.expect("http call");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn post_json(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.send("POST", path, &all, body.to_owned()).await
    }

    pub async fn post_form(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.send("POST", path, &all, body.to_owned()).await
    }

    /// A subscription to lead.received, to see what intake announced.
    pub async fn announcements(&self) -> async_nats::Subscriber {
        let client = async_nats::connect(self.nats.url()).await.expect("nats");
        let subscriber = client
            .subscribe(LeadReceived::subject())
            .await
            .expect("subscribe");
        client.flush().await.expect("flush");
        subscriber
    }

    pub async fn stop(self) {
        self.service.stop().await.expect("clean stop");
    }
}

/// The next lead.received on `subscriber` (tenant, event), within 10 s.
pub async fn next_announcement(subscriber: &mut async_nats::Subscriber) -> (String, LeadReceived) {
    let message = tokio::time::timeout(Duration::from_secs(10), subscriber.next())
        .await
        .expect("lead.received within 10 s")
        .expect("subscription open");
    let envelope = Envelope::decode(message.payload.as_ref()).expect("envelope");
    let event = LeadReceived::decode(envelope.payload.as_slice()).expect("lead.received");
    (envelope.tenant_id, event)
}

/// Asserts nothing more is announced within half a second.
pub async fn assert_no_announcement(subscriber: &mut async_nats::Subscriber, why: &str) {
    let more = tokio::time::timeout(Duration::from_millis(500), subscriber.next()).await;
    assert!(more.is_err(), "{why}");
}
