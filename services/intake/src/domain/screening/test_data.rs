//! Obvious test data: what people type to try a form out. A field that is nothing but a
//! placeholder ("测试", "test1", "asdf", "aaa") or an address on a reserved example domain
//! is enough on its own. Names like 张三 are real names too, and 13800000000 may be a real
//! number, so such hints only count when two of them come together.

use shangji_contracts::common::Lead;

use super::{email, phone};
use crate::domain::lead_fields;

/// Whole values that only ever mean "I am testing" (compared lower case, without spaces,
/// punctuation and trailing digits: "Test 01" is "test").
const PLACEHOLDERS: [&str; 33] = [
    "test",
    "testing",
    "tester",
    "testuser",
    "testlead",
    "testcompany",
    "testtest",
    "测试",
    "测试一下",
    "测试用户",
    "测试人员",
    "测试公司",
    "测试数据",
    "测试线索",
    "测试测试",
    "asdf",
    "asdfg",
    "asdfgh",
    "asdfghjkl",
    "qwer",
    "qwert",
    "qwerty",
    "zxcv",
    "zxcvbn",
    "abc",
    "abcd",
    "abcde",
    "abcdef",
    "demo",
    "dummy",
    "foo",
    "foobar",
    "xxx",
];

/// Names that stand for "anybody": real people carry some of them, so only a hint.
const PLACEHOLDER_NAMES: [&str; 9] = [
    "张三", "李四", "王五", "赵六", "某某", "某人", "johndoe", "janedoe", "小明",
];

/// The fields a person types a placeholder into.
const TEXT_FIELDS: [&str; 3] = ["contact_name", "company", "need"];

/// What is wrong, per field: (field, (Chinese, English)).
pub type FieldProblem = (String, super::Problem);

/// Lower case, no spaces or punctuation, no trailing digits.
fn key(value: &str) -> String {
    let kept: String = value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    kept.trim_end_matches(|c: char| c.is_ascii_digit())
        .to_owned()
}

/// One character typed again and again: "aaa", "啊啊啊", "111".
fn mashed(value: &str) -> bool {
    let kept: Vec<char> = value.chars().filter(|c| c.is_alphanumeric()).collect();
    kept.len() >= 3
        && kept
            .iter()
            .all(|c| c.to_lowercase().eq(kept[0].to_lowercase()))
}

fn is_placeholder(value: &str) -> bool {
    let key = key(value);
    (!key.is_empty() && PLACEHOLDERS.contains(&key.as_str())) || mashed(value)
}

/// Test-like values: each field that is a placeholder on its own, or the hints that
/// came together.
pub fn check(lead: &Lead) -> Vec<FieldProblem> {
    let mut found = Vec::new();
    for field in TEXT_FIELDS {
        let value = lead_fields::get(lead, field).trim();
        if !value.is_empty() && is_placeholder(value) {
            found.push((
                format!("lead.{field}"),
                (
                    format!("“{value}”像是测试数据"),
                    format!("{field} `{value}` looks like test data"),
                ),
            ));
        }
    }
    let address = lead.email.trim();
    if let Some(domain) = email::domain(address).filter(|d| email::is_example(d)) {
        found.push((
            "lead.email".to_owned(),
            (
                format!("邮箱“{address}”使用示例域名 {domain}"),
                format!("`{address}` is on {domain}, a domain reserved for examples and tests"),
            ),
        ));
    }
    if !found.is_empty() {
        return found;
    }
    let hints: Vec<&str> = [
        PLACEHOLDER_NAMES
            .contains(&key(&lead.contact_name).as_str())
            .then_some("contact_name"),
        (!lead.phone.trim().is_empty() && phone::looks_made_up(&lead.phone)).then_some("phone"),
        (!address.is_empty() && is_placeholder(email::local_part(address))).then_some("email"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if hints.len() >= 2 {
        let shown: Vec<String> = hints
            .iter()
            .map(|f| format!("{f} `{}`", lead_fields::get(lead, f).trim()))
            .collect();
        found.push((
            "lead".to_owned(),
            (
                format!("{} 合起来像是测试数据", shown.join("、")),
                format!("{} together look like test data", shown.join(" and ")),
            ),
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(name: &str, phone: &str, email: &str) -> Lead {
        Lead {
            contact_name: name.into(),
            phone: phone.into(),
            email: email.into(),
            company: "北京华为科技有限公司".into(),
            need: "需要一套 CRM".into(),
            ..Default::default()
        }
    }

    fn fields(found: &[FieldProblem]) -> Vec<&str> {
        found.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn placeholders_alone_are_test_data() {
        assert_eq!(
            fields(&check(&lead("测试", "13800138001", ""))),
            ["lead.contact_name"]
        );
        assert_eq!(
            fields(&check(&lead("Test 01", "13800138001", ""))),
            ["lead.contact_name"]
        );
        assert_eq!(
            fields(&check(&lead("asdf", "13800138001", ""))),
            ["lead.contact_name"]
        );
        assert_eq!(
            fields(&check(&lead("aaa", "13800138001", ""))),
            ["lead.contact_name"]
        );
        assert_eq!(
            fields(&check(&lead("王伟", "", "test@test.com"))),
            ["lead.email"]
        );
        assert_eq!(
            fields(&check(&lead("王伟", "", "wang@example.com"))),
            ["lead.email"]
        );
        let need = Lead {
            need: "测试".into(),
            ..lead("王伟", "13800138001", "")
        };
        assert_eq!(fields(&check(&need)), ["lead.need"]);
        let (zh, en) = &check(&lead("测试", "13800138001", ""))[0].1;
        assert!(zh.contains("测试数据"), "{zh}");
        assert!(en.contains("looks like test data"), "{en}");
    }

    #[test]
    fn hints_count_only_together() {
        // 张三 is also somebody's name, and 13800000000 somebody's number.
        assert!(check(&lead("张三", "13800138001", "")).is_empty());
        assert!(check(&lead("王伟", "13800000000", "")).is_empty());
        let both = check(&lead("张三", "13800000000", ""));
        assert_eq!(fields(&both), ["lead"]);
        assert!(
            both[0]
                .1
                .1
                .contains("contact_name `张三` and phone `13800000000`")
        );
        assert_eq!(fields(&check(&lead("李四", "", "asdf@qq.com"))), ["lead"]);
    }

    #[test]
    fn real_leads_and_real_words_pass() {
        assert!(check(&lead("王伟", "+86 138-0013-8000", "wang@huawei.com")).is_empty());
        // A testing company, a need that mentions testing: real business.
        let real = Lead {
            company: "上海测试科技有限公司".into(),
            need: "需要测试管理系统".into(),
            ..lead("李娜", "13912345679", "li.na@qq.com")
        };
        assert!(check(&real).is_empty());
        assert!(check(&lead("Ann", "13800138001", "")).is_empty());
        assert!(check(&lead("王伟", "13800138001", "wang.0@bench.example.cn")).is_empty());
    }
}
