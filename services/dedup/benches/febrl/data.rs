//! The FEBRL CSVs written by export.py, and how a FEBRL record becomes a lead.

use std::collections::BTreeMap;
use std::path::Path;

use shangji_contracts::common::Lead;

/// One FEBRL record as a lead, with its FEBRL id (`rec-12-dup-0`).
pub struct Record {
    pub rec_id: String,
    pub lead: Lead,
}

/// Reads `<dir>/<name>_records.csv`.
pub fn records(dir: &Path, name: &str) -> anyhow::Result<Vec<Record>> {
    let path = dir.join(format!("{name}_records.csv"));
    let mut reader = csv::Reader::from_path(&path)
        .map_err(|e| anyhow::anyhow!("{}: {e} (run benches/febrl/run.sh)", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow::anyhow!("{}: no column {name}", path.display()))
    };
    let columns = Columns {
        rec_id: column("rec_id")?,
        given_name: column("given_name")?,
        surname: column("surname")?,
        street_number: column("street_number")?,
        address_1: column("address_1")?,
        address_2: column("address_2")?,
        suburb: column("suburb")?,
        postcode: column("postcode")?,
        state: column("state")?,
        date_of_birth: column("date_of_birth")?,
        soc_sec_id: column("soc_sec_id")?,
    };
    let mut records = Vec::new();
    for row in reader.records() {
        let row = row?;
        records.push(columns.record(&row));
    }
    Ok(records)
}

/// Reads `<dir>/<name>_pairs.csv`: the true pairs (two rec_ids a line).
pub fn pairs(dir: &Path, name: &str) -> anyhow::Result<Vec<(String, String)>> {
    let path = dir.join(format!("{name}_pairs.csv"));
    let mut reader = csv::Reader::from_path(&path)
        .map_err(|e| anyhow::anyhow!("{}: {e} (run benches/febrl/run.sh)", path.display()))?;
    reader
        .records()
        .map(|row| {
            let row = row?;
            Ok((row[0].trim().to_owned(), row[1].trim().to_owned()))
        })
        .collect()
}

struct Columns {
    rec_id: usize,
    given_name: usize,
    surname: usize,
    street_number: usize,
    address_1: usize,
    address_2: usize,
    suburb: usize,
    postcode: usize,
    state: usize,
    date_of_birth: usize,
    soc_sec_id: usize,
}

impl Columns {
    /// The lead a FEBRL record would be in a CRM: the name as one contact name, the
    /// identifying fields as the custom fields dedup's match profile reads, the state as
    /// region. FEBRL has no phone, e-mail or company, so only fuzzy matching can work.
    fn record(&self, row: &csv::StringRecord) -> Record {
        let cell = |i: usize| row.get(i).unwrap_or_default().trim();
        let joined = |cells: &[usize]| {
            cells
                .iter()
                .map(|&i| cell(i))
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut custom_fields = BTreeMap::new();
        for (field, value) in [
            ("date_of_birth", cell(self.date_of_birth).to_owned()),
            ("soc_sec_id", cell(self.soc_sec_id).to_owned()),
            ("postcode", cell(self.postcode).to_owned()),
            ("suburb", cell(self.suburb).to_owned()),
            (
                "address",
                joined(&[self.street_number, self.address_1, self.address_2]),
            ),
        ] {
            if !value.is_empty() {
                custom_fields.insert(field.to_owned(), value);
            }
        }
        Record {
            rec_id: cell(self.rec_id).to_owned(),
            lead: Lead {
                contact_name: joined(&[self.given_name, self.surname]),
                region: cell(self.state).to_owned(),
                custom_fields: custom_fields.into_iter().collect(),
                ..Lead::default()
            },
        }
    }
}
