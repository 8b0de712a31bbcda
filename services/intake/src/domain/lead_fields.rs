//! Reading and writing a lead's fields by name: the built-in ones of
//! `shangji.common.v1.Lead`, anything else a custom field. Schemas, column mappings,
//! web forms and connectors all name fields this way.

use shangji_contracts::common::Lead;

/// The built-in fields, in the order of the proto.
pub const BUILT_IN: [&str; 11] = [
    "contact_name",
    "phone",
    "email",
    "company",
    "title",
    "region",
    "industry",
    "source",
    "need",
    "budget",
    "timeline",
];

pub fn is_built_in(key: &str) -> bool {
    BUILT_IN.contains(&key)
}

/// The field's value; empty when unset.
pub fn get<'a>(lead: &'a Lead, key: &str) -> &'a str {
    match key {
        "contact_name" => &lead.contact_name,
        "phone" => &lead.phone,
        "email" => &lead.email,
        "company" => &lead.company,
        "title" => &lead.title,
        "region" => &lead.region,
        "industry" => &lead.industry,
        "source" => &lead.source,
        "need" => &lead.need,
        "budget" => &lead.budget,
        "timeline" => &lead.timeline,
        custom => lead.custom_fields.get(custom).map_or("", String::as_str),
    }
}

/// Sets the field (a custom one when the key is not built in).
pub fn set(lead: &mut Lead, key: &str, value: String) {
    let slot = match key {
        "contact_name" => &mut lead.contact_name,
        "phone" => &mut lead.phone,
        "email" => &mut lead.email,
        "company" => &mut lead.company,
        "title" => &mut lead.title,
        "region" => &mut lead.region,
        "industry" => &mut lead.industry,
        "source" => &mut lead.source,
        "need" => &mut lead.need,
        "budget" => &mut lead.budget,
        "timeline" => &mut lead.timeline,
        custom => {
            lead.custom_fields.insert(custom.to_owned(), value);
            return;
        }
    };
    *slot = value;
}

/// How a violation names the field: `lead.phone`, `lead.custom_fields[微信]`.
pub fn path(prefix: &str, key: &str) -> String {
    if is_built_in(key) {
        format!("{prefix}.{key}")
    } else {
        format!("{prefix}.custom_fields[{key}]")
    }
}

/// The built-in field a column header names, in English (any case; spaces, dashes and
/// underscores alike) or Chinese; `None` when the header names none.
pub fn from_header(header: &str) -> Option<&'static str> {
    let key: String = header
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '　'))
        .flat_map(char::to_lowercase)
        .collect();
    let field = match key.as_str() {
        "contactname" | "name" | "contact" | "姓名" | "联系人" | "联系人姓名" => {
            "contact_name"
        }
        "phone" | "mobile" | "tel" | "telephone" | "电话" | "手机" | "手机号" | "联系电话" => {
            "phone"
        }
        "email" | "mail" | "邮箱" | "电子邮箱" | "邮件" => "email",
        "company" | "公司" | "公司名称" | "单位" => "company",
        "title" | "jobtitle" | "position" | "职位" | "职务" => "title",
        "region" | "地区" | "区域" => "region",
        "industry" | "行业" => "industry",
        "source" | "来源" | "渠道" => "source",
        "need" | "needs" | "requirement" | "需求" => "need",
        "budget" | "预算" => "budget",
        "timeline" | "时间" | "时间计划" | "采购时间" => "timeline",
        _ => return None,
    };
    Some(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_and_custom_fields_round_trip() {
        let mut lead = Lead::default();
        for key in BUILT_IN {
            set(&mut lead, key, format!("v-{key}"));
            assert_eq!(get(&lead, key), format!("v-{key}"));
            assert_eq!(from_header(key), Some(key));
        }
        set(&mut lead, "微信", "wx01".into());
        assert_eq!(get(&lead, "微信"), "wx01");
        assert_eq!(lead.custom_fields["微信"], "wx01");
        assert_eq!(get(&lead, "unknown"), "");
        assert_eq!(path("lead", "phone"), "lead.phone");
        assert_eq!(path("lead", "微信"), "lead.custom_fields[微信]");
    }

    #[test]
    fn headers_in_both_languages_name_fields() {
        assert_eq!(from_header("Contact Name"), Some("contact_name"));
        assert_eq!(from_header(" 手机号 "), Some("phone"));
        assert_eq!(from_header("需求"), Some("need"));
        assert_eq!(from_header("微信"), None);
    }
}
