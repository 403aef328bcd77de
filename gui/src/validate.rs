//! Checking the open graph with the command line's own loader, so the
//! editor shows exactly the messages `modemflow check` prints, each with its
//! file:line:col and, where there is one, the block and parameter it is
//! about (for selecting the block and marking the field).

use crate::document::{Document, Origin};
use modemflow_flow::{load_str, Diagnostic, Flowgraph, Registry};
use std::path::Path;

/// One problem, placed.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub diagnostic: Diagnostic,
    pub block: Option<String>,
    pub param: Option<String>,
}

impl Problem {
    /// `FILE:LINE:COL: error: WHAT` and the hint, as `modemflow check`.
    pub fn text(&self) -> String {
        self.diagnostic.to_string()
    }
}

/// The first `name` in backquotes after the block's own name in a message
/// like "block `train`: `training` = 100 is out of range".
fn param_named_in(message: &str, is_param: impl Fn(&str) -> bool) -> Option<String> {
    let rest = message.split_once("`: ").map_or(message, |(_, r)| r);
    rest.split('`')
        .skip(1)
        .step_by(2)
        .find(|w| is_param(w))
        .map(str::to_string)
}

/// Checks `doc` as it would be saved, as file `file` in `base_dir`: the
/// graph ready to run, or every problem.
pub fn validate(
    doc: &Document,
    file: &str,
    base_dir: &Path,
    registry: &Registry,
) -> Result<Flowgraph, Vec<Problem>> {
    let (text, map) = doc.to_yaml_mapped();
    load_str(&text, file, base_dir, registry, &[]).map_err(|ds| {
        ds.0.into_iter()
            .map(|d| {
                let origin = if d.file == file {
                    map.at(d.line, d.col).clone()
                } else {
                    Origin::Other
                };
                let (block, param) = match origin {
                    Origin::Param(b, p) => (Some(b), Some(p)),
                    Origin::Block(b) => (Some(b), None),
                    _ => (d.block.clone(), None),
                };
                // A diagnostic about the block as a whole may still name one
                // of its parameters.
                let param = param.or_else(|| {
                    let b = doc.block(block.as_deref()?)?;
                    param_named_in(&d.message, |w| b.param(w).is_some())
                });
                Problem {
                    diagnostic: d,
                    block,
                    param,
                }
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Scalar;

    fn graphs() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../graphs")
    }

    #[test]
    fn a_bad_parameter_is_placed_on_its_block_and_field() {
        let text = std::fs::read_to_string(graphs().join("v90_dil.yaml")).unwrap();
        let mut doc = Document::parse(&text).unwrap();
        let reg = modemflow_blocks::registry();
        assert!(validate(&doc, "v90_dil.yaml", &graphs(), &reg).is_ok());
        doc.block_mut("designer")
            .unwrap()
            .set_param("sr", Some(Scalar::plain("5")));
        let problems = validate(&doc, "v90_dil.yaml", &graphs(), &reg).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert_eq!(p.block.as_deref(), Some("designer"));
        assert_eq!(p.param.as_deref(), Some("sr"));
        // The same words `modemflow check` prints.
        assert!(
            p.text().contains("`sr` = 5 is out of range 0 … 3"),
            "{}",
            p.text()
        );
        assert!(p.text().starts_with("v90_dil.yaml:"), "{}", p.text());
    }

    #[test]
    fn missing_connections_and_unknown_types_are_reported() {
        let reg = modemflow_blocks::registry();
        let doc = Document::parse(
            "blocks:\n  - {id: a, type: prbs_source}\n  - {id: b, type: no_such}\n",
        )
        .unwrap();
        let problems = validate(&doc, "t.yaml", &graphs(), &reg).unwrap_err();
        assert!(problems
            .iter()
            .any(|p| p.block.as_deref() == Some("b") && p.diagnostic.message.contains("no_such")));
        assert!(problems
            .iter()
            .any(|p| p.block.as_deref() == Some("a")
                && p.diagnostic.message.contains("not connected")));
    }
}
