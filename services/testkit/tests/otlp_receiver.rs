//! The OTLP receiver speaks the real protocol: raw requests and the SDK exporter both land.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span, Tracer, TracerProvider};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as ProtoKeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan};
use shangji_testkit::OtlpReceiver;

fn string_kv(key: &str, value: &str) -> ProtoKeyValue {
    ProtoKeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_raw_export_request_is_recorded() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let mut client = TraceServiceClient::connect(receiver.endpoint())
        .await
        .unwrap();
    let span = ProtoSpan {
        trace_id: vec![0xab; 16],
        span_id: vec![0x01; 8],
        parent_span_id: vec![0x02; 8],
        name: "intake.submit".to_owned(),
        kind: 2, // SERVER
        attributes: vec![string_kv("lead.id", "L-1")],
        ..Default::default()
    };
    client
        .export(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![string_kv("service.name", "shangji-intake")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
        .await
        .unwrap();

    let spans = receiver.spans();
    assert_eq!(spans.len(), 1);
    let got = &spans[0];
    assert_eq!(got.trace_id, "ab".repeat(16));
    assert_eq!(got.span_id, "0101010101010101");
    assert_eq!(got.parent_span_id, "0202020202020202");
    assert_eq!(got.name, "intake.submit");
    assert_eq!(got.service_name, "shangji-intake");
    assert_eq!(got.kind, "server");
    assert_eq!(got.attributes["lead.id"], "L-1");

    receiver.clear();
    assert!(receiver.spans().is_empty());
}

// multi_thread: the SDK's batch processor blocks on the exporter, which needs the runtime
// to keep running elsewhere; flushing on a blocking thread avoids a 5 s shutdown hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_exporter_delivers_spans() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(receiver.endpoint())
        .build()
        .unwrap();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("testkit-probe")
                .build(),
        )
        .build();
    let tracer = provider.tracer("testkit");
    let mut span = tracer.start("probe.work");
    span.set_attribute(KeyValue::new("attempt", 3_i64));
    span.end();

    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap()
        .unwrap();

    let spans = receiver
        .wait_for("the probe span", Duration::from_secs(10), |spans| {
            spans.iter().any(|s| s.name == "probe.work")
        })
        .await
        .unwrap();
    let got = spans.iter().find(|s| s.name == "probe.work").unwrap();
    assert_eq!(got.service_name, "testkit-probe");
    assert_eq!(got.attributes["attempt"], "3");
    assert_eq!(got.trace_id.len(), 32);
    assert!(got.parent_span_id.is_empty());
}
