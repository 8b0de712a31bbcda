//! ImportLeads benchmark against intake started in-process on a real nats-server.
//! Uploads generated CSV files of 10,000 and 100,000 rows (every 50th row bad) through
//! the gRPC API and prints, per size, the rows accepted per second (upload start to the
//! final DONE message, every row stored with its lead.received outbox row), the peak
//! RSS (VmHWM) of the process so far, and its resident memory of its own (RssAnon) and
//! of mapped files (RssFile) after the import: own memory staying put from 10k to 100k
//! rows shows it is flat. The CSV is generated while it is uploaded, so the client holds
//! no file.
//!
//! Run: `cargo bench -p shangji-intake --bench import_throughput`
//! (env BENCH_ROWS, default "10000,100000"; BENCH_DATABASE_URL to use that PostgreSQL
//! database, or BENCH_POSTGRES=1 to start a throwaway PostgreSQL server, instead of a
//! temporary SQLite file).

use std::time::Instant;

use futures::StreamExt as _;
use shangji_contracts::intake::import_leads_request::Part;
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_contracts::intake::{ImportLeadsRequest, ImportMetadata, ImportState};
use shangji_testkit::{NatsServer, Postgres};

const TENANT: &str = "bench";
const ROWS_PER_CHUNK: usize = 500;
const BAD_EVERY: usize = 50;

/// The CSV's rows `first..first + count`, as text.
fn csv_rows(first: usize, count: usize) -> String {
    let mut text = String::with_capacity(count * 80);
    for i in first..first + count {
        let phone = if i % BAD_EVERY == 0 {
            "12".to_owned()
        } else {
            format!("139{:08}", i % 100_000_000)
        };
        text.push_str(&format!(
            "王{i},{phone},城市{}科技有限公司{i},华东,制造,需要CRM {i},50万\n",
            i % 97
        ));
    }
    text
}

fn upload(rows: usize, key: String) -> impl futures::Stream<Item = ImportLeadsRequest> {
    let metadata = ImportLeadsRequest {
        part: Some(Part::Metadata(ImportMetadata {
            file_name: format!("bench-{rows}.csv"),
            import_key: key,
            ..Default::default()
        })),
    };
    let header = ImportLeadsRequest {
        part: Some(Part::Chunk(
            "姓名,手机,公司,区域,行业,需求,预算\n".as_bytes().to_vec(),
        )),
    };
    let body = futures::stream::iter((0..rows).step_by(ROWS_PER_CHUNK)).map(move |first| {
        let count = ROWS_PER_CHUNK.min(rows - first);
        ImportLeadsRequest {
            part: Some(Part::Chunk(csv_rows(first, count).into_bytes())),
        }
    });
    futures::stream::iter([metadata, header]).chain(body)
}

/// A memory figure of this process from /proc/self/status, in MiB: `VmHWM` (peak
/// resident), `RssAnon` (resident memory of its own), `RssFile` (resident file pages,
/// among them the SQLite file's pages mapped by `mmap_size`, which the OS page cache
/// holds either way).
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::var("BENCH_ROWS")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let nats = NatsServer::start().await?;
    let data = tempfile::tempdir()?;
    let mut settings = shangji_intake::SPEC.default_settings();
    settings.listen_addr = "127.0.0.1:0".parse()?;
    settings.metrics_addr = None;
    settings.data_dir = data.path().to_owned();
    settings.nats_url = nats.url();
    // BENCH_DATABASE_URL names a PostgreSQL database; BENCH_POSTGRES=1 starts a
    // throwaway PostgreSQL server (as the tests do) and uses a fresh database on it.
    let mut _postgres = None;
    settings.database_url = match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("BENCH_POSTGRES").is_some() => {
            let server = Postgres::start().await?;
            let url = server.create_database("intake_bench").await?;
            _postgres = Some(server);
            Some(url)
        }
        Err(_) => None,
    };
    let backend = if settings.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    // A free port for the HTTP channels: 8051 may be taken by a running intake.
    let config = shangji_intake::IntakeConfig {
        http_addr: "127.0.0.1:0".to_owned(),
        ..Default::default()
    };
    let service = shangji_intake::start(settings, config).await?;
    let mut client = IntakeServiceClient::connect(service.endpoint()).await?;
    println!(
        "ImportLeads, {backend}, chunks of {ROWS_PER_CHUNK} rows, every {BAD_EVERY}th row bad"
    );
    println!(
        "{:>8}  {:>9}  {:>9}  {:>10}  {:>14}  {:>13}  {:>13}",
        "rows", "accepted", "seconds", "rows/s", "peak RSS MiB", "anon RSS MiB", "file RSS MiB"
    );
    for rows in sizes {
        let mut request = tonic::Request::new(upload(rows, format!("bench-{rows}")));
        request
            .metadata_mut()
            .insert("x-tenant-id", TENANT.parse()?);
        let started = Instant::now();
        let mut progress = client.import_leads(request).await?.into_inner();
        let mut last = None;
        while let Some(message) = progress.next().await {
            last = Some(message?);
        }
        let elapsed = started.elapsed().as_secs_f64();
        let last = last.ok_or_else(|| anyhow::anyhow!("no progress"))?;
        anyhow::ensure!(
            last.state == ImportState::Done as i32,
            "import failed: {}",
            last.error
        );
        println!(
            "{rows:>8}  {:>9}  {elapsed:>9.2}  {:>10.0}  {:>14.1}  {:>13.1}  {:>13.1}",
            last.accepted,
            last.accepted as f64 / elapsed,
            status_mib("VmHWM"),
            status_mib("RssAnon"),
            status_mib("RssFile")
        );
    }
    service.stop().await?;
    Ok(())
}
