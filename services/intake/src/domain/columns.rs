//! Where each column of an imported file goes: an explicit mapping (a saved preset,
//! then the upload's own entries) wins; other headers are recognised by their usual
//! English or Chinese names; anything else becomes a custom field under its header, so
//! no column of the customer's file is lost.

use std::collections::{BTreeMap, HashMap, HashSet};

use shangji_contracts::common::Lead;

use crate::domain::lead_fields;

/// In a mapping: the column is not imported.
pub const SKIP: &str = "-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A built-in field or a custom field key.
    Field(String),
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header cell as written (trimmed); `column_<n>` when empty.
    pub header: String,
    pub target: Target,
}

/// The columns of one file, decided once from its header row.
#[derive(Debug, Clone, Default)]
pub struct ColumnPlan {
    pub columns: Vec<Column>,
    /// Mapping entries naming a header the file does not have.
    pub unmatched: Vec<String>,
}

/// One data row turned into a lead.
#[derive(Debug, Clone, PartialEq)]
pub struct RowLead {
    pub lead: Lead,
    /// Field key -> the header it came from, to point at the cell to fix.
    pub sources: BTreeMap<String, String>,
}

impl ColumnPlan {
    /// Plans the columns of `headers` with `mapping` (header -> field, later entries win).
    pub fn new(headers: &[String], mapping: &[(String, String)]) -> ColumnPlan {
        let explicit: HashMap<&str, &str> =
            mapping.iter().map(|(h, f)| (h.trim(), f.trim())).collect();
        let mut columns = Vec::with_capacity(headers.len());
        for (i, raw) in headers.iter().enumerate() {
            let trimmed = raw.trim().trim_start_matches('\u{feff}').trim();
            let header = if trimmed.is_empty() {
                format!("column_{}", i + 1)
            } else {
                trimmed.to_owned()
            };
            let target = match explicit.get(header.as_str()) {
                Some(&SKIP) => Target::Skip,
                Some(field) => Target::Field((*field).to_owned()),
                None => match lead_fields::from_header(&header) {
                    Some(field) => Target::Field(field.to_owned()),
                    None => Target::Field(header.clone()),
                },
            };
            columns.push(Column { header, target });
        }
        let present: HashSet<&str> = columns.iter().map(|c| c.header.as_str()).collect();
        let unmatched = explicit
            .keys()
            .filter(|h| !present.contains(**h))
            .map(|h| (*h).to_owned())
            .collect::<Vec<_>>();
        let mut plan = ColumnPlan { columns, unmatched };
        plan.unmatched.sort();
        plan
    }

    /// The lead of one row, or `None` when every cell is empty. When two columns fill the
    /// same field, the first non-empty one wins and the other is kept as a custom field
    /// under its header. Cells beyond the header row become `column_<n>`.
    pub fn lead_of(&self, cells: &[String]) -> Option<RowLead> {
        let mut lead = Lead::default();
        let mut sources = BTreeMap::new();
        let mut any = false;
        for (i, cell) in cells.iter().enumerate() {
            let value = cell.trim();
            if value.is_empty() {
                continue;
            }
            any = true;
            let (header, target) = match self.columns.get(i) {
                Some(column) => (column.header.clone(), column.target.clone()),
                None => {
                    let name = format!("column_{}", i + 1);
                    (name.clone(), Target::Field(name))
                }
            };
            let Target::Field(key) = target else {
                continue;
            };
            // A second column for the same field keeps its header as a custom field; a
            // header seen twice (two 备注 columns) keeps its column number too, so that
            // no cell overwrites another.
            let key = [key, header.clone(), format!("{header}_{}", i + 1)]
                .into_iter()
                .find(|k| !sources.contains_key(k))
                .unwrap_or_else(|| format!("column_{}", i + 1));
            lead_fields::set(&mut lead, &key, value.to_owned());
            sources.insert(key, header);
        }
        any.then_some(RowLead { lead, sources })
    }

    /// The header a violation's field (`lead.phone`, `lead.custom_fields[微信]`) came from.
    pub fn column_of<'a>(row: &'a RowLead, violation_field: &str) -> Option<&'a str> {
        let name = violation_field.strip_prefix("lead.")?;
        let key = name
            .strip_prefix("custom_fields[")
            .and_then(|k| k.strip_suffix(']'))
            .unwrap_or(name);
        row.sources.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[&str]) -> Vec<String> {
        list.iter().map(|h| (*h).to_owned()).collect()
    }

    fn cells(list: &[&str]) -> Vec<String> {
        headers(list)
    }

    #[test]
    fn headers_are_recognised_and_unknown_ones_kept_as_custom_fields() {
        let plan = ColumnPlan::new(&headers(&["姓名", "手机", "微信", ""]), &[]);
        let row = plan
            .lead_of(&cells(&["张三", "13800138000", "zs01", "x", "extra"]))
            .unwrap();
        assert_eq!(row.lead.contact_name, "张三");
        assert_eq!(row.lead.phone, "13800138000");
        assert_eq!(row.lead.custom_fields["微信"], "zs01");
        assert_eq!(row.lead.custom_fields["column_4"], "x");
        assert_eq!(row.lead.custom_fields["column_5"], "extra");
        assert_eq!(row.sources["phone"], "手机");
        assert!(plan.lead_of(&cells(&["", " ", ""])).is_none());
    }

    #[test]
    fn an_explicit_mapping_wins_and_can_skip() {
        let mapping = vec![
            ("客户".to_owned(), "company".to_owned()),
            ("备注".to_owned(), SKIP.to_owned()),
            ("不存在".to_owned(), "need".to_owned()),
        ];
        let plan = ColumnPlan::new(&headers(&["客户", "备注", "联系电话"]), &mapping);
        assert_eq!(plan.unmatched, ["不存在"]);
        let row = plan.lead_of(&cells(&["华为", "内部备注", "139"])).unwrap();
        assert_eq!(row.lead.company, "华为");
        assert!(row.lead.custom_fields.is_empty());
        assert_eq!(row.lead.phone, "139");
    }

    #[test]
    fn a_second_column_for_the_same_field_is_kept() {
        let plan = ColumnPlan::new(&headers(&["Name", "Contact Name"]), &[]);
        let row = plan.lead_of(&cells(&["A", "B"])).unwrap();
        assert_eq!(row.lead.contact_name, "A");
        assert_eq!(row.lead.custom_fields["Contact Name"], "B");
        assert_eq!(
            ColumnPlan::column_of(&row, "lead.contact_name"),
            Some("Name")
        );
        assert_eq!(
            ColumnPlan::column_of(&row, "lead.custom_fields[Contact Name]"),
            Some("Contact Name")
        );
    }

    #[test]
    fn two_columns_with_one_header_both_survive() {
        let plan = ColumnPlan::new(&headers(&["姓名", "备注", "备注", "备注"]), &[]);
        let row = plan.lead_of(&cells(&["张三", "a", "b", "c"])).unwrap();
        assert_eq!(row.lead.custom_fields["备注"], "a");
        assert_eq!(row.lead.custom_fields["备注_3"], "b");
        assert_eq!(row.lead.custom_fields["备注_4"], "c");
        assert_eq!(
            ColumnPlan::column_of(&row, "lead.custom_fields[备注_3]"),
            Some("备注")
        );
    }
}
