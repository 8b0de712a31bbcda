//! The load generator: many distinct leads into intake, as fast as the workers can send
//! them (closed loop) or at a steady offered rate (open loop, `--rate`), then how long the
//! pipeline took to open an opportunity for every one.
//!
//! Each run uses a fresh tenant (`bench-<unix millis>`), so its numbers never mix with
//! other data and runs do not see each other's customers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use shangji_contracts::assignment::{Rep, UpsertRepRequest};
use shangji_contracts::common::Lead;
use shangji_contracts::intake::SubmitLeadRequest;
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_contracts::pipeline::ListOpportunitiesRequest;
use shangji_contracts::time::now_millis;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::cli::BenchArgs;
use crate::client::{Caller, Endpoints, IntakeClient, PipelineClient, Services, connect};
use crate::error::{CliError, code_name, rpc_failed};
use crate::format::details;
use crate::output::Output;

/// How often the opportunity count is sampled.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);
/// The bench reps' team.
const TEAM: &str = "bench";

const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗",
];
const SURNAMES_PINYIN: [&str; 20] = [
    "wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma",
    "zhu", "hu", "guo", "he", "gao", "lin", "luo",
];
const GIVEN_NAMES: [&str; 20] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平",
];
/// (city, region)
const CITIES: [(&str, &str); 16] = [
    ("北京", "华北"),
    ("天津", "华北"),
    ("上海", "华东"),
    ("杭州", "华东"),
    ("南京", "华东"),
    ("苏州", "华东"),
    ("广州", "华南"),
    ("深圳", "华南"),
    ("厦门", "华南"),
    ("武汉", "华中"),
    ("长沙", "华中"),
    ("成都", "西南"),
    ("重庆", "西南"),
    ("西安", "西北"),
    ("沈阳", "东北"),
    ("青岛", "华东"),
];
const BRAND_FIRST: [&str; 20] = [
    "华", "中", "新", "金", "恒", "瑞", "博", "盛", "远", "天", "鼎", "宏", "嘉", "信", "明", "海",
    "泰", "安", "润", "凯",
];
const BRAND_SECOND: [&str; 20] = [
    "达", "通", "创", "源", "科", "锐", "联", "智", "德", "星", "辉", "腾", "业", "邦", "川", "宇",
    "晟", "诚", "峰", "航",
];
/// (company word, industry, need)
const INDUSTRIES: [(&str, &str, &str); 10] = [
    ("精密制造", "制造", "MES 生产管理系统"),
    ("软件", "软件", "CRM 系统部署"),
    ("商贸", "零售", "门店收银与会员系统"),
    ("医疗器械", "医疗", "设备管理平台"),
    ("教育科技", "教育", "在线课堂平台"),
    ("投资", "金融", "风控数据平台"),
    ("物流", "物流", "仓储管理系统"),
    ("新能源", "能源", "能耗监测方案"),
    ("建设工程", "建筑", "项目协同平台"),
    ("餐饮管理", "餐饮", "供应链管理系统"),
];
const TITLES: [&str; 6] = [
    "总经理",
    "采购经理",
    "IT 总监",
    "运营总监",
    "技术负责人",
    "财务经理",
];
const SOURCES: [&str; 5] = ["官网表单", "展会", "微信", "电话咨询", "转介绍"];
const BUDGETS: [&str; 6] = ["20万", "50万", "80万", "100万", "200万", "500万"];
const TIMELINES: [&str; 4] = ["一个月内", "三个月内", "半年内", "今年内"];

/// The lead number `index` of a run: realistic, and distinct from every other index in
/// phone, e-mail and company, so dedup sees `n` different customers.
pub fn bench_lead(index: u64) -> Lead {
    let pick = |len: usize, i: u64| (i % len as u64) as usize;
    let (city, region) = CITIES[pick(CITIES.len(), index)];
    // Mixed radix over the lists makes the company unique for the first 64,000 indices;
    // beyond that a branch number keeps it unique.
    let mut rest = index / CITIES.len() as u64;
    let first = BRAND_FIRST[pick(BRAND_FIRST.len(), rest)];
    rest /= BRAND_FIRST.len() as u64;
    let second = BRAND_SECOND[pick(BRAND_SECOND.len(), rest)];
    rest /= BRAND_SECOND.len() as u64;
    let (word, industry, need) = INDUSTRIES[pick(INDUSTRIES.len(), rest)];
    rest /= INDUSTRIES.len() as u64;
    let branch = if rest == 0 {
        String::new()
    } else {
        format!("第{rest}分公司")
    };
    let surname = pick(SURNAMES.len(), index);
    let given = GIVEN_NAMES[pick(GIVEN_NAMES.len(), index / SURNAMES.len() as u64)];
    Lead {
        contact_name: format!("{}{given}", SURNAMES[surname]),
        phone: format!("139{:08}", index % 100_000_000),
        email: format!("{}.{index}@bench.example.cn", SURNAMES_PINYIN[surname]),
        company: format!("{city}{first}{second}{word}有限公司{branch}"),
        title: TITLES[pick(TITLES.len(), index)].to_owned(),
        region: region.to_owned(),
        industry: industry.to_owned(),
        source: SOURCES[pick(SOURCES.len(), index)].to_owned(),
        need: need.to_owned(),
        budget: BUDGETS[pick(BUDGETS.len(), index)].to_owned(),
        timeline: TIMELINES[pick(TIMELINES.len(), index)].to_owned(),
        custom_fields: BTreeMap::from([("bench_index".to_owned(), index.to_string())]),
    }
}

/// Microsecond latencies from 1 µs to 10 minutes at 3 significant digits.
fn latency_histogram() -> Histogram<u64> {
    // These bounds satisfy every check of `new_with_bounds` (low >= 1, high >= 2 * low,
    // sigfig <= 5), so it cannot fail.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Counters the workers update and the sampler reads.
struct Progress {
    next_index: AtomicU64,
    acked: AtomicU64,
    /// Microseconds from the start of the run to the latest ack.
    last_ack_micros: AtomicU64,
}

#[derive(Default)]
struct ErrorTally {
    /// Per status code: how many, and the first message, to say what went wrong.
    by_code: BTreeMap<&'static str, (u64, String)>,
}

impl ErrorTally {
    fn add(&mut self, code: &'static str, message: &str) {
        self.by_code
            .entry(code)
            .or_insert_with(|| (0, message.to_owned()))
            .0 += 1;
    }

    fn merge(&mut self, other: ErrorTally) {
        for (code, (count, message)) in other.by_code {
            self.by_code.entry(code).or_insert((0, message)).0 += count;
        }
    }
}

struct WorkerResult {
    latencies: Histogram<u64>,
    errors: ErrorTally,
    sent: u64,
}

async fn submit_worker(
    mut intake: IntakeClient,
    progress: Arc<Progress>,
    leads: u64,
    rate: Option<f64>,
    start: Instant,
    deadline: Instant,
) -> WorkerResult {
    let mut result = WorkerResult {
        latencies: latency_histogram(),
        errors: ErrorTally::default(),
        sent: 0,
    };
    while Instant::now() < deadline {
        let index = progress.next_index.fetch_add(1, Ordering::Relaxed);
        if index >= leads {
            break;
        }
        let request = SubmitLeadRequest {
            idempotency_key: format!("bench-{index}"),
            lead: Some(bench_lead(index)),
        };
        // Open loop: wait until the lead is due and count its latency from then, so time
        // spent waiting for a free worker when the system falls behind is not hidden.
        let sent_at = match rate {
            Some(rate) => {
                let due = start + Duration::from_secs_f64(index as f64 / rate);
                tokio::time::sleep_until(due).await;
                due
            }
            None => Instant::now(),
        };
        result.sent += 1;
        match intake.submit_lead(request).await {
            Ok(_) => {
                let micros = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX);
                result.latencies.saturating_record(micros.max(1));
                progress.acked.fetch_add(1, Ordering::Relaxed);
                let since_start = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                progress
                    .last_ack_micros
                    .fetch_max(since_start, Ordering::Relaxed);
            }
            Err(status) => result
                .errors
                .add(code_name(status.code()), status.message()),
        }
    }
    result
}

/// What the opportunity sampler saw.
#[derive(Debug, Default, Clone, PartialEq)]
struct Trail {
    /// The latest opportunity count.
    opportunities: u64,
    /// When (from the start) the count first reached the number of acked leads.
    complete_after: Option<Duration>,
    /// Largest `acked - opportunities` seen in a sample.
    max_backlog: u64,
    samples: u64,
    sample_errors: u64,
    last_sample_error: Option<String>,
}

/// Samples the tenant's opportunity count every 100 ms from the start until it reaches
/// the number of acked leads (known once the workers finish) or the deadline passes.
async fn sample_opportunities(
    mut pipeline: PipelineClient,
    progress: Arc<Progress>,
    start: Instant,
    deadline: Instant,
    mut target: watch::Receiver<Option<u64>>,
    show_progress: bool,
    leads: u64,
) -> Trail {
    let mut trail = Trail::default();
    let mut ticks = tokio::time::interval(SAMPLE_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut target_known = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            // Sample at once when the last ack is in, not up to 100 ms later.
            changed = target.changed(), if !target_known => {
                target_known = true;
                if changed.is_err() {
                    // The run was abandoned; nothing more to measure.
                    return trail;
                }
            }
        }
        let acked = progress.acked.load(Ordering::Relaxed);
        let request = ListOpportunitiesRequest {
            page_size: 1,
            ..Default::default()
        };
        match pipeline.list_opportunities(request).await {
            Ok(response) => {
                let count = response.into_inner().total_count;
                trail.samples += 1;
                trail.opportunities = count;
                trail.max_backlog = trail.max_backlog.max(acked.saturating_sub(count));
                if show_progress && trail.samples % 5 == 0 {
                    eprint!("\r{acked}/{leads} acked, {count} opportunities   ");
                }
                if let Some(expected) = *target.borrow()
                    && count >= expected
                {
                    trail.complete_after = Some(start.elapsed());
                    break;
                }
            }
            Err(status) => {
                trail.sample_errors += 1;
                trail.last_sample_error = Some(rpc_failed("ListOpportunities")(status).to_string());
            }
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    if show_progress {
        eprintln!();
    }
    trail
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub tenant: String,
    pub leads: u64,
    pub concurrency: u32,
    pub connections: u32,
    pub reps: u32,
    /// The offered rate in leads/s, when the run was open loop.
    pub rate: Option<f64>,
    pub acked: u64,
    /// Per status code: count and the first message.
    pub errors: BTreeMap<String, (u64, String)>,
    /// Leads never sent because the timeout passed first.
    pub not_sent: u64,
    /// From the start until the last worker finished.
    pub submit_elapsed: Duration,
    /// p50, p90, p99, max of the ack latency.
    pub latency: [Duration; 4],
    pub opportunities: u64,
    pub all_opportunities_after: Option<Duration>,
    pub last_ack_after: Duration,
    pub max_backlog: u64,
    pub samples: u64,
    pub sample_errors: u64,
    pub last_sample_error: Option<String>,
    pub timeout: Duration,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

impl BenchReport {
    pub fn acks_per_second(&self) -> f64 {
        let secs = self.submit_elapsed.as_secs_f64();
        if secs > 0.0 {
            self.acked as f64 / secs
        } else {
            0.0
        }
    }

    /// How far opportunities trailed the last ack.
    pub fn lag_after_last_ack(&self) -> Option<Duration> {
        self.all_opportunities_after
            .map(|done| done.saturating_sub(self.last_ack_after))
    }

    pub fn finished(&self) -> bool {
        self.all_opportunities_after.is_some() && self.acked > 0
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|(count, _)| count).sum()
    }

    pub fn to_text(&self) -> String {
        let [p50, p90, p99, max] = self.latency.map(millis);
        let mut errors = self.error_count().to_string();
        for (code, (count, message)) in &self.errors {
            errors.push_str(&format!("; {code} x{count} (first: {message})"));
        }
        let mut pairs = vec![
            ("bench tenant", self.tenant.clone()),
            (
                "leads",
                format!(
                    "{} ({} workers, {} connections, {} reps)",
                    self.leads, self.concurrency, self.connections, self.reps
                ),
            ),
            (
                "offered",
                match self.rate {
                    Some(rate) => format!("{rate:.0} leads/s (open loop, latency from due time)"),
                    None => "as fast as the workers can (closed loop)".to_owned(),
                },
            ),
            ("acked", self.acked.to_string()),
            ("errors", errors),
        ];
        if self.not_sent > 0 {
            pairs.push(("not sent", format!("{} (timeout reached)", self.not_sent)));
        }
        pairs.extend([
            (
                "elapsed",
                format!("{:.3} s", self.submit_elapsed.as_secs_f64()),
            ),
            ("acks/s", format!("{:.1}", self.acks_per_second())),
            (
                "ack latency",
                format!("p50 {p50:.2} ms  p90 {p90:.2} ms  p99 {p99:.2} ms  max {max:.2} ms"),
            ),
            (
                "opportunities",
                format!("{} of {} acked leads", self.opportunities, self.acked),
            ),
        ]);
        match (self.all_opportunities_after, self.lag_after_last_ack()) {
            (Some(done), Some(lag)) => {
                pairs.push((
                    "all opportunities",
                    format!("{:.3} s after the start", done.as_secs_f64()),
                ));
                pairs.push((
                    "pipeline lag after last ack",
                    format!("{:.0} ms", millis(lag)),
                ));
            }
            _ => pairs.push((
                "all opportunities",
                format!(
                    "not reached within the {} s timeout",
                    self.timeout.as_secs()
                ),
            )),
        }
        pairs.push((
            "max backlog",
            format!(
                "{} leads acked without an opportunity yet ({} samples, every {} ms)",
                self.max_backlog,
                self.samples,
                SAMPLE_INTERVAL.as_millis()
            ),
        ));
        if self.sample_errors > 0 {
            pairs.push((
                "sample errors",
                format!(
                    "{} (last: {})",
                    self.sample_errors,
                    self.last_sample_error.as_deref().unwrap_or("-")
                ),
            ));
        }
        details(&pairs)
    }

    pub fn to_json(&self) -> Value {
        let [p50, p90, p99, max] = self.latency.map(millis);
        json!({
            "tenant": self.tenant,
            "leads": self.leads,
            "concurrency": self.concurrency,
            "connections": self.connections,
            "reps": self.reps,
            "rate": self.rate,
            "acked": self.acked,
            "errors": self.errors.iter().map(|(code, (count, _))| (code.clone(), json!(count))).collect::<serde_json::Map<_, _>>(),
            "error_samples": self.errors.iter().map(|(code, (_, message))| (code.clone(), json!(message))).collect::<serde_json::Map<_, _>>(),
            "not_sent": self.not_sent,
            "elapsed_ms": millis(self.submit_elapsed),
            "acks_per_second": self.acks_per_second(),
            "ack_latency_ms": { "p50": p50, "p90": p90, "p99": p99, "max": max },
            "opportunities": self.opportunities,
            "all_opportunities_after_ms": self.all_opportunities_after.map(millis),
            "last_ack_after_ms": millis(self.last_ack_after),
            "pipeline_lag_after_last_ack_ms": self.lag_after_last_ack().map(millis),
            "max_backlog": self.max_backlog,
            "samples": self.samples,
            "sample_errors": self.sample_errors,
            "finished": self.finished(),
            "timeout_ms": millis(self.timeout),
        })
    }
}

fn percentiles(histogram: &Histogram<u64>) -> [Duration; 4] {
    if histogram.is_empty() {
        return [Duration::ZERO; 4];
    }
    [
        histogram.value_at_quantile(0.50),
        histogram.value_at_quantile(0.90),
        histogram.value_at_quantile(0.99),
        histogram.max(),
    ]
    .map(Duration::from_micros)
}

async fn create_reps(services: &Services, reps: u32) -> Result<(), CliError> {
    let mut assignment = services.assignment().await?;
    for n in 1..=reps {
        let rep = Rep {
            rep_id: format!("bench-rep-{n:03}"),
            name: format!("压测销售{n:03}"),
            team: TEAM.to_owned(),
            regions: Vec::new(),
            industries: Vec::new(),
            capacity: 0,
            active: true,
        };
        assignment
            .upsert_rep(UpsertRepRequest { rep: Some(rep) })
            .await
            .map_err(rpc_failed("UpsertRep"))?;
    }
    Ok(())
}

pub async fn run(
    args: &BenchArgs,
    endpoints: Endpoints,
    user: &str,
    output: Output,
) -> Result<(), CliError> {
    let tenant = format!("bench-{}", now_millis());
    let caller = Caller::new(&tenant, user)?;
    output.note(&format!("bench tenant {tenant}"));
    let services = Services::new(endpoints, caller.clone());
    create_reps(&services, args.reps).await?;

    let mut intakes = Vec::new();
    for _ in 0..args.connections {
        let channel = connect("intake", &services.endpoints.intake).await?;
        intakes.push(IntakeServiceClient::with_interceptor(
            channel,
            caller.clone(),
        ));
    }
    let pipeline = services.pipeline().await?;

    let progress = Arc::new(Progress {
        next_index: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        last_ack_micros: AtomicU64::new(0),
    });
    let timeout = Duration::from_secs(args.timeout);
    let start = Instant::now();
    let deadline = start + timeout;
    let (target_tx, target_rx) = watch::channel(None);
    let sampler = tokio::spawn(sample_opportunities(
        pipeline,
        progress.clone(),
        start,
        deadline,
        target_rx,
        output.stderr_is_terminal(),
        args.leads,
    ));
    let workers: Vec<_> = (0..args.concurrency as usize)
        .map(|w| {
            let intake = intakes[w % intakes.len()].clone();
            tokio::spawn(submit_worker(
                intake,
                progress.clone(),
                args.leads,
                args.rate,
                start,
                deadline,
            ))
        })
        .collect();

    let mut latencies = latency_histogram();
    let mut errors = ErrorTally::default();
    let mut sent = 0;
    for worker in workers {
        let result = worker
            .await
            .map_err(|e| CliError::Incomplete(format!("a bench worker failed: {e}")))?;
        // Same bounds on both sides and saturating records, so adding cannot overflow.
        if let Err(e) = latencies.add(&result.latencies) {
            output.note(&format!("warning: latency histogram merge failed: {e}"));
        }
        errors.merge(result.errors);
        sent += result.sent;
    }
    let submit_elapsed = start.elapsed();
    let acked = progress.acked.load(Ordering::Relaxed);
    // The sampler is listening until the deadline; if it already stopped, there is
    // nobody to tell.
    let _ = target_tx.send(Some(acked));
    let trail = sampler
        .await
        .map_err(|e| CliError::Incomplete(format!("the opportunity sampler failed: {e}")))?;

    let report = BenchReport {
        tenant,
        leads: args.leads,
        concurrency: args.concurrency,
        connections: args.connections,
        reps: args.reps,
        rate: args.rate,
        acked,
        errors: errors
            .by_code
            .into_iter()
            .map(|(code, tally)| (code.to_owned(), tally))
            .collect(),
        not_sent: args.leads - sent,
        submit_elapsed,
        latency: percentiles(&latencies),
        opportunities: trail.opportunities,
        all_opportunities_after: trail.complete_after,
        last_ack_after: Duration::from_micros(progress.last_ack_micros.load(Ordering::Relaxed)),
        max_backlog: trail.max_backlog,
        samples: trail.samples,
        sample_errors: trail.sample_errors,
        last_sample_error: trail.last_sample_error,
        timeout,
    };
    output.either(|| report.to_json(), || report.to_text())?;
    if report.acked == 0 {
        return Err(CliError::Incomplete(
            "bench did not finish: intake acknowledged no lead".to_owned(),
        ));
    }
    if !report.finished() {
        return Err(CliError::Incomplete(format!(
            "bench did not finish: {} of {} acked leads had an opportunity when the {} s timeout passed",
            report.opportunities, report.acked, args.timeout
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn bench_leads_are_distinct_customers() {
        let n = 70_000;
        let mut phones = HashSet::new();
        let mut emails = HashSet::new();
        let mut companies = HashSet::new();
        for index in 0..n {
            let lead = bench_lead(index);
            assert!(phones.insert(lead.phone));
            assert!(emails.insert(lead.email));
            assert!(companies.insert(lead.company));
        }
    }

    #[test]
    fn bench_leads_look_real() {
        let lead = bench_lead(0);
        assert_eq!(lead.contact_name, "王伟");
        assert_eq!(lead.phone, "13900000000");
        assert_eq!(lead.email, "wang.0@bench.example.cn");
        assert_eq!(lead.company, "北京华达精密制造有限公司");
        assert_eq!(lead.region, "华北");
        assert_eq!(lead.industry, "制造");
        assert_eq!(lead.budget, "20万");
        assert_eq!(lead.custom_fields["bench_index"], "0");
        let later = bench_lead(12_345_678);
        assert_eq!(later.phone, "13912345678");
        assert_eq!(later.phone.len(), 11);
    }

    fn report() -> BenchReport {
        BenchReport {
            tenant: "bench-1".into(),
            leads: 1000,
            concurrency: 64,
            connections: 4,
            reps: 20,
            rate: None,
            acked: 998,
            errors: BTreeMap::from([("UNAVAILABLE".to_owned(), (2, "overloaded".to_owned()))]),
            not_sent: 0,
            submit_elapsed: Duration::from_secs(2),
            latency: [1_500, 3_000, 9_000, 20_000].map(Duration::from_micros),
            opportunities: 998,
            all_opportunities_after: Some(Duration::from_millis(2_600)),
            last_ack_after: Duration::from_millis(1_990),
            max_backlog: 120,
            samples: 26,
            sample_errors: 0,
            last_sample_error: None,
            timeout: Duration::from_secs(120),
        }
    }

    #[test]
    fn the_report_gives_throughput_latency_and_lag() {
        let report = report();
        assert_eq!(report.acks_per_second(), 499.0);
        assert_eq!(
            report.lag_after_last_ack(),
            Some(Duration::from_millis(610))
        );
        assert!(report.finished());
        let text = report.to_text();
        for expected in [
            "bench tenant                 bench-1\n",
            "acked                        998\n",
            "errors                       2; UNAVAILABLE x2 (first: overloaded)\n",
            "acks/s                       499.0\n",
            "ack latency                  p50 1.50 ms  p90 3.00 ms  p99 9.00 ms  max 20.00 ms\n",
            "all opportunities            2.600 s after the start\n",
            "pipeline lag after last ack  610 ms\n",
            "max backlog                  120 leads acked without an opportunity yet",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let json = report.to_json();
        assert_eq!(json["acked"], 998);
        assert_eq!(json["errors"]["UNAVAILABLE"], 2);
        assert_eq!(json["ack_latency_ms"]["p99"], 9.0);
        assert_eq!(json["pipeline_lag_after_last_ack_ms"], 610.0);
        assert_eq!(json["max_backlog"], 120);
        assert_eq!(json["finished"], true);
    }

    #[test]
    fn an_unfinished_run_says_so() {
        let mut report = report();
        report.all_opportunities_after = None;
        assert!(!report.finished());
        assert!(
            report
                .to_text()
                .contains("not reached within the 120 s timeout")
        );
        assert_eq!(
            report.to_json()["pipeline_lag_after_last_ack_ms"],
            Value::Null
        );
    }

    #[test]
    fn percentiles_of_recorded_latencies() {
        let mut histogram = latency_histogram();
        for micros in 1..=100u64 {
            histogram.record(micros * 1_000).unwrap();
        }
        let [p50, p90, p99, max] = percentiles(&histogram);
        assert!((p50.as_micros() as i64 - 50_000).abs() < 100, "{p50:?}");
        assert!((p90.as_micros() as i64 - 90_000).abs() < 100, "{p90:?}");
        assert!((p99.as_micros() as i64 - 99_000).abs() < 100, "{p99:?}");
        assert!((max.as_micros() as i64 - 100_000).abs() < 100, "{max:?}");
        assert_eq!(percentiles(&latency_histogram()), [Duration::ZERO; 4]);
    }

    #[test]
    fn error_tallies_merge_by_code() {
        let mut a = ErrorTally::default();
        a.add("UNAVAILABLE", "first");
        let mut b = ErrorTally::default();
        b.add("UNAVAILABLE", "second");
        b.add("INTERNAL", "boom");
        a.merge(b);
        assert_eq!(a.by_code.values().map(|(count, _)| count).sum::<u64>(), 3);
        assert_eq!(a.by_code["UNAVAILABLE"], (2, "first".to_owned()));
    }
}
