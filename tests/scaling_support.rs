//! A scaled-out Shangji for the scaling test: one nats-server, one PostgreSQL database per
//! service, and several replicas of every service sharing that database and their durable
//! consumers, as Kubernetes runs them (k8s/). `System` starts one process per service, so
//! the replicas are built here from `ServiceProcess`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use shangji_testkit::{NatsServer, Postgres, SERVICES, ServiceProcess, free_ports};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Settings every replica gets on top of its addresses and database. Small fetch batches
/// and a short ack wait keep a test-sized load spread over replicas and let the survivors
/// pick up, within seconds, what a killed replica had fetched but not acknowledged.
const REPLICA_ENV: &[(&str, &str)] = &[
    ("SHANGJI_LOG", "info"),
    ("SHANGJI_LOG_FORMAT", "json"),
    ("SHANGJI_BUS__BATCH_SIZE", "16"),
    ("SHANGJI_BUS__ACK_WAIT_SECS", "4"),
    ("SHANGJI_BUS__OUTBOX_POLL_MS", "100"),
];

/// Lines of a replica's log quoted when it fails to stop cleanly.
const LOG_TAIL_LINES: usize = 30;

/// One running replica of one service.
pub struct Replica {
    pub service: &'static str,
    pub index: usize,
    pub process: ServiceProcess,
    pub metrics_addr: SocketAddr,
}

impl Replica {
    /// `intake#1`, for messages.
    pub fn label(&self) -> String {
        format!("{}#{}", self.service, self.index)
    }
}

/// nats-server plus `replicas` processes of each of the six services.
pub struct ScaledSystem {
    // Replicas drop (SIGTERM, drain) before nats-server goes away.
    pub replicas: Vec<Replica>,
    pub nats: NatsServer,
}

impl ScaledSystem {
    /// Starts nats-server, creates `shangji_<service>` on `postgres`, and starts every
    /// replica (all concurrently), returning once each reports SERVING.
    pub async fn start(postgres: &Postgres, replicas: usize) -> anyhow::Result<ScaledSystem> {
        let nats = NatsServer::start().await?;
        let mut database_urls = BTreeMap::new();
        for service in SERVICES {
            let url = postgres
                .create_database(&format!("shangji_{service}"))
                .await
                .with_context(|| format!("creating the {service} database"))?;
            database_urls.insert(service, url);
        }
        let ports = free_ports(2 * SERVICES.len() * replicas);
        let mut launches = Vec::new();
        for (s, service) in SERVICES.into_iter().enumerate() {
            for index in 0..replicas {
                let slot = 2 * (s * replicas + index);
                let grpc_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, ports[slot]));
                let metrics_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, ports[slot + 1]));
                let upper = service.to_ascii_uppercase();
                let mut env: Vec<(String, String)> = REPLICA_ENV
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                env.extend([
                    ("SHANGJI_NATS_URL".to_owned(), nats.url()),
                    (
                        format!("SHANGJI_{upper}_DATABASE_URL"),
                        database_urls[service].clone(),
                    ),
                    (
                        format!("SHANGJI_{upper}_LISTEN_ADDR"),
                        grpc_addr.to_string(),
                    ),
                    (
                        format!("SHANGJI_{upper}_METRICS_ADDR"),
                        metrics_addr.to_string(),
                    ),
                ]);
                if service == "intake" {
                    // Both replicas' web form listeners on free ports.
                    env.push((
                        "SHANGJI_INTAKE_HTTP_ADDR".to_owned(),
                        "127.0.0.1:0".to_owned(),
                    ));
                }
                launches.push(async move {
                    let started =
                        ServiceProcess::spawn(&format!("shangji-{service}"), grpc_addr, env).await;
                    (service, index, metrics_addr, started)
                });
            }
        }
        let mut started = Vec::new();
        let mut failures = Vec::new();
        for (service, index, metrics_addr, result) in futures::future::join_all(launches).await {
            match result {
                Ok(process) => started.push(Replica {
                    service,
                    index,
                    process,
                    metrics_addr,
                }),
                Err(err) => failures.push(format!("{service}#{index}: {err:#}")),
            }
        }
        if !failures.is_empty() {
            bail!("replicas failed to start:\n{}", failures.join("\n\n"));
        }
        Ok(ScaledSystem {
            replicas: started,
            nats,
        })
    }

    /// The replicas of one service, in index order.
    pub fn of(&self, service: &str) -> Vec<&Replica> {
        self.replicas
            .iter()
            .filter(|r| r.service == service)
            .collect()
    }

    /// One replica, to kill it. Panics if there is no such replica.
    pub fn replica_mut(&mut self, service: &str, index: usize) -> &mut Replica {
        self.replicas
            .iter_mut()
            .find(|r| r.service == service && r.index == index)
            .unwrap_or_else(|| panic!("no replica {service}#{index}"))
    }

    /// The last lines of every replica's log, for a failure message.
    pub fn log_tails(&self, lines: usize) -> String {
        self.replicas
            .iter()
            .map(|r| format!("--- {} ---\n{}", r.label(), r.process.log_tail(lines)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// SIGTERM to every replica still running, then waits for each; fails unless all
    /// exit 0 (graceful drain under load is part of what scaling out promises).
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let mut failures = Vec::new();
        for replica in &mut self.replicas {
            if replica.process.pid().is_some() {
                replica.process.send_sigterm();
            }
        }
        for replica in &mut self.replicas {
            if replica.process.pid().is_none() {
                continue;
            }
            let label = replica.label();
            match replica.process.terminate().await {
                Ok(status) if status.success() => {}
                Ok(status) => failures.push(format!(
                    "{label} exited with {status}; log tail:\n{}",
                    replica.process.log_tail(LOG_TAIL_LINES)
                )),
                Err(err) => failures.push(format!("{label}: {err:#}")),
            }
        }
        if !failures.is_empty() {
            bail!("unclean shutdown:\n{}", failures.join("\n"));
        }
        Ok(())
    }
}

/// The sum of every sample of `metric` (all label sets) in a replica's Prometheus text
/// output; 0 when the metric has not been recorded yet.
pub async fn scrape_sum(addr: SocketAddr, metric: &str) -> anyhow::Result<f64> {
    let body = scrape(addr).await?;
    Ok(sum_samples(&body, metric))
}

fn sum_samples(body: &str, metric: &str) -> f64 {
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `GET /metrics` over plain HTTP/1.0 (the exporter closes the connection after answering).
async fn scrape(addr: SocketAddr) -> anyhow::Result<String> {
    let fetch = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        anyhow::Ok(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(5), fetch)
        .await
        .with_context(|| format!("scraping {addr} timed out"))?
        .with_context(|| format!("scraping {addr}"))?;
    let Some((head, body)) = response.split_once("\r\n\r\n") else {
        bail!("malformed HTTP response from {addr}");
    };
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!(
            "{addr}/metrics answered {}",
            head.lines().next().unwrap_or("")
        );
    }
    Ok(body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::sum_samples;

    #[test]
    fn sums_every_label_set_of_one_metric_only() {
        let body = "# TYPE shangji_events_consumed_total counter\n\
            shangji_events_consumed_total{consumer=\"dedup\",outcome=\"applied\"} 7\n\
            shangji_events_consumed_total{consumer=\"dedup\",outcome=\"duplicate\"} 2\n\
            shangji_events_consumed_total_other 100\n\
            shangji_events_published_total 3\n";
        assert_eq!(sum_samples(body, "shangji_events_consumed_total"), 9.0);
        assert_eq!(sum_samples(body, "shangji_events_published_total"), 3.0);
        assert_eq!(sum_samples(body, "shangji_missing"), 0.0);
    }
}
