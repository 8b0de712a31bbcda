//! A tenant's field schema: which fields a lead has beyond the built-in ones, which are
//! required on which channel, and how each value is checked. Violations name the field
//! the way the API does (`lead.need`, `lead.custom_fields[微信]`) and say what is wrong
//! in Chinese and English: "需求描述未填写 / need: required for channel web_form".

use std::collections::HashSet;

use regex::RegexBuilder;
use shangji_contracts::common::Lead;
use shangji_contracts::intake::{FieldDefinition, FieldSchema, FieldType};
use shangji_platform::grpc::FieldViolation;

use crate::domain::field_value::ValueRules;
use crate::domain::lead_fields;
use crate::domain::validate::validate_lead;

/// The channels a lead can arrive on; `required_channels` names them.
pub const CHANNELS: [&str; 7] = [
    "grpc", "batch", "import", "web_form", "webhook", "wechat", "email",
];
/// In `required_channels`: every channel.
pub const ANY_CHANNEL: &str = "*";
const MAX_FIELDS: usize = 200;
const MAX_KEY: usize = 64;
const MAX_TEXT: usize = 500;
/// Compiled pattern size bound, so a tenant's pattern cannot exhaust memory.
const MAX_PATTERN_BYTES: usize = 1 << 20;

/// One field, ready to check values.
#[derive(Debug, Clone)]
struct Field {
    key: String,
    label_zh: String,
    required: Vec<String>,
    default_value: String,
    rules: ValueRules,
}

impl Field {
    fn required_on(&self, channel: &str) -> bool {
        self.required
            .iter()
            .any(|c| c == ANY_CHANNEL || c == channel)
    }
}

/// A schema version, compiled.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub version: i64,
    fields: Vec<Field>,
}

impl Schema {
    /// Version 0: no tenant rules, the built-in checks only.
    pub fn built_in() -> Schema {
        Schema::default()
    }

    /// Compiles a stored schema. Definitions were checked when they were upserted; a
    /// pattern that no longer compiles (it cannot, but a hand-edited row could) is an error.
    pub fn compile(schema: &FieldSchema) -> Result<Schema, String> {
        let fields = schema
            .fields
            .iter()
            .map(|d| {
                Ok(Field {
                    key: d.key.trim().to_owned(),
                    label_zh: if d.label_zh.trim().is_empty() {
                        d.key.trim().to_owned()
                    } else {
                        d.label_zh.trim().to_owned()
                    },
                    required: d.required_channels.clone(),
                    default_value: d.default_value.clone(),
                    rules: rules_of(d)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Schema {
            version: schema.version,
            fields,
        })
    }

    /// Fills the defaults of empty fields, then checks the lead: the built-in rules
    /// first, then the schema's, at most one violation per field.
    pub fn check(&self, lead: &mut Lead, channel: &str, prefix: &str) -> Vec<FieldViolation> {
        for field in &self.fields {
            if !field.default_value.is_empty()
                && lead_fields::get(lead, &field.key).trim().is_empty()
            {
                lead_fields::set(lead, &field.key, field.default_value.clone());
            }
        }
        let mut violations = validate_lead(lead, prefix);
        let mut named: HashSet<String> = violations.iter().map(|v| v.field.clone()).collect();
        for field in &self.fields {
            let path = lead_fields::path(prefix, &field.key);
            if named.contains(&path) {
                continue;
            }
            let value = lead_fields::get(lead, &field.key);
            let problem = if value.trim().is_empty() {
                field.required_on(channel).then(|| {
                    (
                        "未填写".to_owned(),
                        format!("required for channel {channel}"),
                    )
                })
            } else {
                field.rules.check(value)
            };
            if let Some((zh, en)) = problem {
                let joiner = if zh.starts_with('未') { "" } else { "：" };
                violations.push(FieldViolation::new(
                    path.clone(),
                    format!("{}{joiner}{zh} / {}: {en}", field.label_zh, field.key),
                ));
                named.insert(path);
            }
        }
        violations
    }
}

fn rules_of(d: &FieldDefinition) -> Result<ValueRules, String> {
    let pattern = if d.pattern.trim().is_empty() {
        None
    } else {
        // Anchored: the whole value must match, not a part of it.
        Some(
            RegexBuilder::new(&format!("^(?:{})$", d.pattern.trim()))
                .size_limit(MAX_PATTERN_BYTES)
                .build()
                .map_err(|e| format!("the pattern does not compile: {e}"))?,
        )
    };
    Ok(ValueRules {
        field_type: FieldType::try_from(d.r#type).unwrap_or(FieldType::Text),
        pattern,
        min: d.min,
        max: d.max,
        allowed: d
            .allowed_values
            .iter()
            .map(|v| v.trim().to_owned())
            .collect(),
    })
}

/// Checks the definitions of an upsert; violations name `fields[i].<attribute>`.
pub fn check_definitions(fields: &[FieldDefinition]) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    if fields.len() > MAX_FIELDS {
        violations.push(FieldViolation::new(
            "fields",
            format!(
                "has {} fields; at most {MAX_FIELDS} are accepted",
                fields.len()
            ),
        ));
    }
    let mut keys = HashSet::new();
    for (i, d) in fields.iter().enumerate() {
        let at = |attr: &str| format!("fields[{i}].{attr}");
        let key = d.key.trim();
        if key.is_empty() || key.chars().count() > MAX_KEY || key.chars().any(char::is_control) {
            violations.push(FieldViolation::new(
                at("key"),
                format!("must be 1 to {MAX_KEY} characters of plain text"),
            ));
        } else if !keys.insert(key.to_owned()) {
            violations.push(FieldViolation::new(
                at("key"),
                format!("`{key}` is defined twice; each field once"),
            ));
        }
        let field_type = FieldType::try_from(d.r#type).unwrap_or(FieldType::Unspecified);
        if field_type == FieldType::Unspecified {
            violations.push(FieldViolation::new(
                at("type"),
                "is required: text, number, money, date, single/multi choice, phone, email or url",
            ));
        }
        if d.label_zh.trim().is_empty() || d.label_en.trim().is_empty() {
            violations.push(FieldViolation::new(
                at("label_zh"),
                "both labels (label_zh and label_en) are required, so forms and errors read well in both languages",
            ));
        }
        for (attr, text) in [
            ("label_zh", &d.label_zh),
            ("label_en", &d.label_en),
            ("help_zh", &d.help_zh),
            ("help_en", &d.help_en),
            ("default_value", &d.default_value),
        ] {
            if text.chars().count() > MAX_TEXT {
                violations.push(FieldViolation::new(
                    at(attr),
                    format!("is longer than {MAX_TEXT} characters"),
                ));
            }
        }
        for channel in &d.required_channels {
            if channel != ANY_CHANNEL && !CHANNELS.contains(&channel.as_str()) {
                violations.push(FieldViolation::new(
                    at("required_channels"),
                    format!(
                        "`{channel}` is not a channel; use {} or `*`",
                        CHANNELS.join(", ")
                    ),
                ));
            }
        }
        let choice = matches!(field_type, FieldType::SingleChoice | FieldType::MultiChoice);
        if choice && d.allowed_values.iter().all(|v| v.trim().is_empty()) {
            violations.push(FieldViolation::new(
                at("allowed_values"),
                "a choice field needs at least one allowed value",
            ));
        }
        if let (Some(min), Some(max)) = (d.min, d.max)
            && min > max
        {
            violations.push(FieldViolation::new(
                at("min"),
                format!("min {min} is greater than max {max}"),
            ));
        }
        match rules_of(d) {
            Err(e) => violations.push(FieldViolation::new(at("pattern"), e)),
            Ok(rules) if !d.default_value.trim().is_empty() => {
                if let Some((_, en)) = rules.check(&d.default_value) {
                    violations.push(FieldViolation::new(
                        at("default_value"),
                        format!("fails the field's own rules: {en}"),
                    ));
                }
            }
            Ok(_) => {}
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need_required_on_web() -> FieldDefinition {
        FieldDefinition {
            key: "need".into(),
            r#type: FieldType::Text as i32,
            label_zh: "需求描述".into(),
            label_en: "Need".into(),
            required_channels: vec!["web_form".into()],
            ..Default::default()
        }
    }

    fn schema(fields: Vec<FieldDefinition>) -> Schema {
        assert!(
            check_definitions(&fields).is_empty(),
            "{:?}",
            check_definitions(&fields)
        );
        Schema::compile(&FieldSchema {
            version: 3,
            fields,
            ..Default::default()
        })
        .unwrap()
    }

    fn lead() -> Lead {
        Lead {
            contact_name: "王伟".into(),
            phone: "13800138000".into(),
            ..Default::default()
        }
    }

    #[test]
    fn required_per_channel_with_a_bilingual_message() {
        let s = schema(vec![need_required_on_web()]);
        let v = s.check(&mut lead(), "web_form", "lead");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "lead.need");
        assert_eq!(
            v[0].description,
            "需求描述未填写 / need: required for channel web_form"
        );
        // The same lead is fine on a channel that does not require the need.
        assert!(s.check(&mut lead(), "import", "lead").is_empty());
    }

    #[test]
    fn defaults_fill_empty_fields_and_custom_fields_are_checked() {
        let s = schema(vec![
            FieldDefinition {
                key: "source".into(),
                r#type: FieldType::Text as i32,
                label_zh: "来源".into(),
                label_en: "Source".into(),
                default_value: "官网".into(),
                ..Default::default()
            },
            FieldDefinition {
                key: "employees".into(),
                r#type: FieldType::Number as i32,
                label_zh: "员工人数".into(),
                label_en: "Employees".into(),
                min: Some(1.0),
                required_channels: vec!["*".into()],
                ..Default::default()
            },
        ]);
        let mut l = lead();
        let v = s.check(&mut l, "grpc", "lead");
        assert_eq!(l.source, "官网");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "lead.custom_fields[employees]");
        l.custom_fields.insert("employees".into(), "0".into());
        let v = s.check(&mut l, "grpc", "lead");
        assert!(
            v[0].description.starts_with("员工人数："),
            "{}",
            v[0].description
        );
        assert!(
            v[0].description
                .contains("employees: value 0 is outside 1..")
        );
        l.custom_fields.insert("employees".into(), "250".into());
        assert!(s.check(&mut l, "grpc", "lead").is_empty());
    }

    #[test]
    fn one_violation_per_field_built_in_rules_first() {
        let s = schema(vec![FieldDefinition {
            key: "phone".into(),
            r#type: FieldType::Phone as i32,
            label_zh: "电话".into(),
            label_en: "Phone".into(),
            pattern: r"1\d{10}".into(),
            ..Default::default()
        }]);
        let mut l = Lead {
            phone: "12".into(),
            ..lead()
        };
        let v = s.check(&mut l, "grpc", "lead");
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].description.contains("has 2 digits"));
        let mut l = Lead {
            phone: "+86 21 5555 0000".into(),
            ..lead()
        };
        let v = s.check(&mut l, "grpc", "lead");
        assert_eq!(v.len(), 1);
        assert!(v[0].description.contains("does not match the pattern"));
    }

    #[test]
    fn bad_definitions_are_named() {
        let v = check_definitions(&[
            FieldDefinition {
                key: "size".into(),
                r#type: FieldType::SingleChoice as i32,
                label_zh: "规模".into(),
                label_en: "Size".into(),
                required_channels: vec!["fax".into()],
                pattern: "(".into(),
                ..Default::default()
            },
            FieldDefinition {
                key: "size".into(),
                label_zh: "x".into(),
                ..Default::default()
            },
        ]);
        let fields: Vec<&str> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "fields[0].required_channels",
                "fields[0].allowed_values",
                "fields[0].pattern",
                "fields[1].key",
                "fields[1].type",
                "fields[1].label_zh",
            ]
        );
    }
}
