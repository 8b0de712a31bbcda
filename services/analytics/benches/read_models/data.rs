//! The generated data set: each opportunity's facts (created, moves up the stages,
//! maybe a close) and its lead's (received, maybe qualified), deterministic so every
//! run sees the same data, and the figures the queries must answer, tallied as the
//! facts are generated.

use std::collections::BTreeMap;

use shangji_analytics::domain::{Closing, LeadFacts, OpportunityFacts, Origin, StagePosition};

pub const DAY: i64 = 86_400_000;
/// 2025-01-01T00:00:00Z: opportunities open over the following two years.
pub const START: i64 = 1_735_689_600_000;
/// The pipeline: stage, order, probability.
pub const STAGES: [(&str, u32, f64); 4] = [
    ("lead", 0, 0.1),
    ("qualified", 1, 0.3),
    ("proposal", 2, 0.6),
    ("negotiation", 3, 0.8),
];
pub const SOURCES: u64 = 8;
pub const TEAMS: u64 = 20;
const REPS: u64 = 200;
const LOSS_REASONS: [&str; 3] = ["price", "timing", "competitor"];

/// A small deterministic generator (xorshift).
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the read models must say about everything generated so far.
#[derive(Debug, Default)]
pub struct Expected {
    pub opportunities: u64,
    pub leads: u64,
    pub qualified_leads: u64,
    /// Opportunities that reached each stage (by order), and went maybe further.
    pub reached: [u64; 4],
    /// Opportunities that left each stage (moved on or closed).
    pub left: [u64; 4],
    pub won: u64,
    pub lost: u64,
    pub won_cents: i64,
    pub loss_reasons: BTreeMap<&'static str, u64>,
}

impl Expected {
    pub fn open(&self) -> u64 {
        self.opportunities - self.won - self.lost
    }
}

/// One opportunity's facts and its lead's, tallied into `expected`.
pub fn opportunity(
    rng: &mut Rng,
    i: usize,
    expected: &mut Expected,
) -> (Vec<OpportunityFacts>, Vec<LeadFacts>) {
    let rep = rng.below(REPS);
    let team = format!("team-{}", rep % TEAMS);
    let created = START + rng.below(730) as i64 * DAY;
    let amount_cents = 100 * (1_000 + rng.below(500_000) as i64);
    let source = format!("source-{}", rng.below(SOURCES));
    let mut facts = vec![OpportunityFacts {
        at: created,
        customer_id: Some(format!("c{i}")),
        owner: Some(format!("rep-{rep}")),
        team: Some(team),
        stage: Some(StagePosition {
            stage: "lead".into(),
            order: 0,
        }),
        visited: vec![("lead".into(), Some(0))],
        probability: Some(0.1),
        amount: Some(amount_cents as f64 / 100.0),
        currency: Some("CNY".into()),
        expected_close_at: Some(Some(created + (30 + rng.below(120) as i64) * DAY)),
        origin: Some(Origin {
            source: source.clone(),
            industry: format!("industry-{}", rng.below(6)),
            region: format!("region-{}", rng.below(7)),
        }),
        created_at: Some(created),
        ..Default::default()
    }];
    let furthest = rng.below(4) as usize;
    let mut at = created;
    for (s, order, p) in STAGES.iter().take(furthest + 1).skip(1) {
        at += (1 + rng.below(20) as i64) * DAY;
        facts.push(OpportunityFacts {
            at,
            stage: Some(StagePosition {
                stage: (*s).into(),
                order: *order,
            }),
            visited: vec![((*s).into(), Some(*order))],
            probability: Some(*p),
            ..Default::default()
        });
    }
    let outcome = rng.below(10);
    let closed = outcome < 6;
    if closed {
        at += (1 + rng.below(30) as i64) * DAY;
        let won = outcome < 3;
        let reason = if won {
            ""
        } else {
            LOSS_REASONS[rng.below(3) as usize]
        };
        facts.push(OpportunityFacts {
            at,
            closing: Some(Closing {
                at,
                won,
                reason: reason.into(),
            }),
            ..Default::default()
        });
        if won {
            expected.won += 1;
            expected.won_cents += amount_cents;
        } else {
            expected.lost += 1;
            *expected.loss_reasons.entry(reason).or_default() += 1;
        }
    }
    expected.opportunities += 1;
    for order in 0..=furthest {
        expected.reached[order] += 1;
        if order < furthest || closed {
            expected.left[order] += 1;
        }
    }

    // The lead the opportunity came from: received, and qualified for half of them.
    let received = created - (1 + rng.below(5) as i64) * DAY;
    let mut leads = vec![LeadFacts {
        at: received,
        received_source: Some(source),
        received_at: Some(received),
        ..Default::default()
    }];
    expected.leads += 1;
    if rng.below(2) == 0 {
        leads.push(LeadFacts {
            at: received + DAY,
            qualified: true,
            ..Default::default()
        });
        expected.qualified_leads += 1;
    }
    (facts, leads)
}
