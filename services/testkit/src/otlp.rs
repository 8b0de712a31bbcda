//! A minimal OTLP/gRPC trace collector: receives what the services' exporters send and
//! keeps the spans for assertions.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;

use crate::poll::poll_until;

/// One span as the collector received it, flattened for easy assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedSpan {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// 16 lower-case hex digits.
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// The `service.name` resource attribute of the exporting process.
    pub service_name: String,
    /// `internal`, `server`, `client`, `producer`, `consumer` or `unspecified`.
    pub kind: String,
    /// `unset`, `ok` or `error`.
    pub status: String,
    /// Span attributes; non-string values are rendered as text (`true`, `42`, `[a, b]`).
    pub attributes: BTreeMap<String, String>,
}

/// Listens on 127.0.0.1:<free port> until dropped.
pub struct OtlpReceiver {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl OtlpReceiver {
    /// Binds before returning, so an exporter may connect at once: the kernel queues the
    /// connection until the server task accepts it.
    pub async fn start() -> anyhow::Result<OtlpReceiver> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("binding the OTLP receiver")?;
        let addr = listener.local_addr()?;
        let spans = Arc::new(Mutex::new(Vec::new()));
        let (shutdown, stop) = oneshot::channel::<()>();
        let collector = Collector {
            spans: Arc::clone(&spans),
        };
        let server = tokio::spawn(async move {
            let result = tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(collector))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = stop.await;
                })
                .await;
            if let Err(err) = result {
                eprintln!("otlp receiver on {addr} stopped: {err}");
            }
        });
        Ok(OtlpReceiver {
            addr,
            spans,
            shutdown: Some(shutdown),
            server,
        })
    }

    /// `http://127.0.0.1:PORT`, the form `OTEL_EXPORTER_OTLP_ENDPOINT` takes.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        lock(&self.spans).clone()
    }

    /// Forgets the spans received so far.
    pub fn clear(&self) {
        lock(&self.spans).clear();
    }

    /// Polls (every 50 ms, up to `timeout`) until `done` holds for the spans received so
    /// far and returns them; exporters batch, so spans arrive a little after the work.
    pub async fn wait_for<F>(
        &self,
        what: &str,
        timeout: Duration,
        mut done: F,
    ) -> anyhow::Result<Vec<ReceivedSpan>>
    where
        F: FnMut(&[ReceivedSpan]) -> bool,
    {
        poll_until(what, timeout, Duration::from_millis(50), || {
            let spans = self.spans();
            let outcome = if done(&spans) {
                Ok(spans)
            } else {
                let names: Vec<String> = spans
                    .iter()
                    .map(|s| format!("{}:{}", s.service_name, s.name))
                    .collect();
                Err(format!("{} spans so far: {names:?}", spans.len()))
            };
            async move { outcome }
        })
        .await
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Graceful shutdown waits for open exporter connections; the test is over.
        self.server.abort();
    }
}

impl std::fmt::Debug for OtlpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpReceiver")
            .field("endpoint", &self.endpoint())
            .field("spans", &lock(&self.spans).len())
            .finish()
    }
}

fn lock(spans: &Mutex<Vec<ReceivedSpan>>) -> MutexGuard<'_, Vec<ReceivedSpan>> {
    // A panic elsewhere while holding the lock leaves the Vec intact; keep using it.
    spans
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Collector {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let received = flatten(request.into_inner());
        lock(&self.spans).extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let service_name = resource_spans
            .resource
            .as_ref()
            .and_then(|resource| {
                resource
                    .attributes
                    .iter()
                    .find(|kv| kv.key == "service.name")
            })
            .map(|kv| render(kv.value.as_ref()))
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                out.push(ReceivedSpan {
                    trace_id: to_hex(&span.trace_id),
                    span_id: to_hex(&span.span_id),
                    parent_span_id: to_hex(&span.parent_span_id),
                    kind: kind_name(span.kind()),
                    status: status_name(span.status.as_ref().map(|s| s.code())),
                    name: span.name,
                    service_name: service_name.clone(),
                    attributes: attributes(&span.attributes),
                });
            }
        }
    }
    out
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), render(kv.value.as_ref())))
        .collect()
}

fn render(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(bytes)) => to_hex(bytes),
        Some(Value::ArrayValue(array)) => {
            let items: Vec<String> = array.values.iter().map(|v| render(Some(v))).collect();
            format!("[{}]", items.join(", "))
        }
        Some(Value::KvlistValue(list)) => {
            let items: Vec<String> = list
                .values
                .iter()
                .map(|kv| format!("{}={}", kv.key, render(kv.value.as_ref())))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        // Only profiles use string tables; traces never send this.
        Some(Value::StringValueStrindex(index)) => format!("strindex:{index}"),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn kind_name(kind: SpanKind) -> String {
    match kind {
        SpanKind::Unspecified => "unspecified",
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
    .to_owned()
}

fn status_name(code: Option<StatusCode>) -> String {
    match code {
        None | Some(StatusCode::Unset) => "unset",
        Some(StatusCode::Ok) => "ok",
        Some(StatusCode::Error) => "error",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_zero_padded() {
        assert_eq!(to_hex(&[0x0a, 0xff, 0x00]), "0aff00");
        assert_eq!(to_hex(&[]), "");
    }

    #[test]
    fn values_render_as_text() {
        let int = AnyValue {
            value: Some(Value::IntValue(42)),
        };
        let array = AnyValue {
            value: Some(Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(Value::StringValue("a".into())),
                        },
                        AnyValue {
                            value: Some(Value::BoolValue(true)),
                        },
                    ],
                },
            )),
        };
        assert_eq!(render(Some(&int)), "42");
        assert_eq!(render(Some(&array)), "[a, true]");
        assert_eq!(render(None), "");
    }
}
