//! Screening: suspicious leads are flagged, never dropped. Each check answers with zero
//! or more flags, each a machine code, the field it concerns and a reason in Chinese and
//! English; a flagged lead is stored but waits for a person before going downstream.
//! Content checks (impossible phone, disposable e-mail, test data) look at the lead
//! alone; flood checks need counts, which the store keeps (see `flood`).

pub mod email;
pub mod flood;
pub mod phone;
pub mod test_data;

use shangji_contracts::common::Lead;
use shangji_contracts::intake::{ScreeningCode, ScreeningFlag};

/// What is wrong: (Chinese, English).
pub type Problem = (String, String);

/// One reason to hold a lead back.
#[derive(Clone, Debug, PartialEq)]
pub struct Flag {
    pub code: ScreeningCode,
    /// `lead.phone`, `client_address`, or `lead` for the lead as a whole.
    pub field: String,
    pub zh: String,
    pub en: String,
}

impl Flag {
    pub fn new(code: ScreeningCode, field: impl Into<String>, (zh, en): Problem) -> Flag {
        Flag {
            code,
            field: field.into(),
            zh,
            en,
        }
    }

    /// For people, as schema violations read: "中文 / english".
    pub fn reason(&self) -> String {
        format!("{} / {}", self.zh, self.en)
    }

    pub fn to_message(&self) -> ScreeningFlag {
        ScreeningFlag {
            code: self.code as i32,
            field: self.field.clone(),
            reason: self.reason(),
        }
    }
}

/// The checks that need nothing but the lead. The lead has passed validation.
pub fn screen(lead: &Lead) -> Vec<Flag> {
    let mut flags = Vec::new();
    if !lead.phone.trim().is_empty()
        && let Some(problem) = phone::check(&lead.phone)
    {
        flags.push(Flag::new(
            ScreeningCode::ImpossiblePhone,
            "lead.phone",
            problem,
        ));
    }
    if let Some(problem) = email::check_disposable(&lead.email) {
        flags.push(Flag::new(
            ScreeningCode::DisposableEmail,
            "lead.email",
            problem,
        ));
    }
    for (field, problem) in test_data::check(lead) {
        flags.push(Flag::new(ScreeningCode::TestData, field, problem));
    }
    flags
}

/// The codes as a bit set (bit n for code n), for filtering in the store.
pub fn code_bits(codes: impl IntoIterator<Item = ScreeningCode>) -> i64 {
    codes.into_iter().fold(0, |bits, c| bits | (1 << c as i64))
}

/// A one-line summary for the lead's trail.
pub fn summary(flags: &[Flag]) -> String {
    let reasons: Vec<String> = flags.iter().map(Flag::reason).collect();
    format!("held for review by screening: {}", reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(lead: &Lead) -> Vec<ScreeningCode> {
        screen(lead).into_iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_good_lead_has_no_flags() {
        let good = Lead {
            contact_name: "王伟".into(),
            phone: "+86 138-0013-8000".into(),
            email: "wang.wei@huawei.com".into(),
            company: "北京华为科技有限公司".into(),
            ..Default::default()
        };
        assert_eq!(codes(&good), []);
        let company_only = Lead {
            company: "北京华为科技有限公司".into(),
            email: "info@huawei.com".into(),
            ..Default::default()
        };
        assert_eq!(codes(&company_only), []);
    }

    #[test]
    fn every_check_contributes_its_flag() {
        let bad = Lead {
            contact_name: "测试".into(),
            phone: "11111111111".into(),
            email: "x@mailinator.com".into(),
            ..Default::default()
        };
        assert_eq!(
            codes(&bad),
            [
                ScreeningCode::ImpossiblePhone,
                ScreeningCode::DisposableEmail,
                ScreeningCode::TestData
            ]
        );
        let flags = screen(&bad);
        assert_eq!(flags[0].field, "lead.phone");
        assert!(flags[0].reason().contains(" / "));
        assert!(summary(&flags).starts_with("held for review by screening: "));
    }

    #[test]
    fn codes_fold_into_bits() {
        assert_eq!(code_bits([ScreeningCode::ImpossiblePhone]), 0b10);
        assert_eq!(
            code_bits([ScreeningCode::TestData, ScreeningCode::Flood]),
            0b11000
        );
    }
}
