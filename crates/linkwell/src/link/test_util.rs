//! Building datasets in memory for tests.

use std::collections::BTreeMap;

use super::data::{Column, Dataset, StrColumn};
use crate::manifest::Manifest;

/// A dataset of token-id columns, built directly (ids stand in for
/// interned tokens; `NONE` for empty).
pub(crate) fn dataset(cols: &[(&str, Vec<u32>)]) -> Dataset {
    let n = cols[0].1.len();
    let mut ids = StrColumn::default();
    for i in 0..n {
        ids.push(format!("r{i}").as_bytes());
    }
    let columns: BTreeMap<String, Column> = cols
        .iter()
        .map(|(name, v)| {
            (
                name.to_string(),
                Column::Token {
                    domain: "d".into(),
                    ids: v.clone(),
                },
            )
        })
        .collect();
    let schema = crate::schema::Schema {
        id_column: "id".into(),
        fields: vec![],
        keep: vec![],
        clk: None,
    };
    Dataset {
        path: "mem".into(),
        manifest: Manifest {
            format: "linkwell-encoded".into(),
            format_version: 1,
            tool_version: "test".into(),
            normaliser_version: 1,
            key_fingerprint: "0".into(),
            data_file: "mem".into(),
            data_sha256: String::new(),
            data_bytes: 0,
            rejects_file: String::new(),
            reference_date: String::new(),
            schema,
            columns: vec![],
            counts: Default::default(),
        },
        ids,
        columns,
    }
}
