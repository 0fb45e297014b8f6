//! Choosing the target structure(s) by label name or value.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The label values that make up the foreground the model learns. Empty = every non-zero value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetLabels {
    pub values: BTreeSet<i64>,
}

impl TargetLabels {
    /// Every non-zero label is foreground.
    pub fn all_foreground() -> Self {
        TargetLabels::default()
    }

    /// Parses a comma-separated list of label names or values, e.g. `liver`, `1,2`, `heart`.
    pub fn parse(spec: &str, names: &BTreeMap<i64, String>) -> Result<Self> {
        let mut values = BTreeSet::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Ok(v) = part.parse::<i64>() {
                values.insert(v);
                continue;
            }
            let found = names
                .iter()
                .find(|(_, n)| n.eq_ignore_ascii_case(part))
                .map(|(v, _)| *v);
            match found {
                Some(v) => {
                    values.insert(v);
                }
                None => {
                    let known: Vec<String> =
                        names.iter().map(|(v, n)| format!("{v}={n}")).collect();
                    return Err(Error::invalid(format!(
                        "unknown label '{part}'; this dataset has {}",
                        if known.is_empty() {
                            "no label names".to_string()
                        } else {
                            known.join(", ")
                        }
                    )));
                }
            }
        }
        Ok(TargetLabels { values })
    }

    /// True when `label` counts as foreground.
    #[inline]
    pub fn is_foreground(&self, label: i64) -> bool {
        if self.values.is_empty() {
            label != 0
        } else {
            self.values.contains(&label)
        }
    }

    /// Human-readable description.
    pub fn describe(&self, names: &BTreeMap<i64, String>) -> String {
        if self.values.is_empty() {
            return "all non-zero labels".into();
        }
        self.values
            .iter()
            .map(|v| match names.get(v) {
                Some(n) => format!("{n} ({v})"),
                None => v.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_by_name_and_value() {
        let names: BTreeMap<i64, String> = [
            (0, "background".into()),
            (1, "liver".into()),
            (2, "tumour".into()),
        ]
        .into();
        let t = TargetLabels::parse("Liver,2", &names).unwrap();
        assert!(t.is_foreground(1) && t.is_foreground(2) && !t.is_foreground(0));
        assert!(
            TargetLabels::parse("spleen", &names)
                .unwrap_err()
                .to_string()
                .contains("1=liver")
        );
        let all = TargetLabels::all_foreground();
        assert!(all.is_foreground(5) && !all.is_foreground(0));
    }
}
