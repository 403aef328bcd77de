//! What the editor knows about block types, all of it from the registry (and,
//! for a subgraph file used as a block, from that file's declared ports and
//! variables): the palette's categories and search, each type's ports with
//! their item types, and whether a wire between two ports can carry items.
//! Nothing here names a block type.

use crate::document::Document;
use modemflow_flow::registry::PortType;
use modemflow_flow::{BlockSpec, ItemType, Registry};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A port as the canvas draws it.
#[derive(Clone, Debug, PartialEq)]
pub struct PortInfo {
    pub name: String,
    pub ty: PortType,
    pub optional: bool,
    pub doc: String,
}

/// A parameter of a subgraph block: one of the file's variables.
#[derive(Clone, Debug, PartialEq)]
pub struct SubParam {
    pub name: String,
    pub default: String,
    pub doc: String,
}

/// The ports (and, for subgraphs, the parameters) of a block type.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeInfo {
    pub inputs: Vec<PortInfo>,
    pub outputs: Vec<PortInfo>,
    /// `Some` for a subgraph file.
    pub sub_params: Option<Vec<SubParam>>,
}

/// Subgraphs inside subgraphs are followed this deep, as the loader does.
const MAX_DEPTH: usize = 8;

pub struct Catalog {
    registry: Registry,
    /// Subgraph files already read, by resolved path.
    subgraphs: HashMap<PathBuf, Option<TypeInfo>>,
}

fn port_info(p: &modemflow_flow::registry::PortSpec) -> PortInfo {
    PortInfo {
        name: p.name.to_string(),
        ty: p.ty,
        optional: p.optional,
        doc: p.doc.to_string(),
    }
}

/// Lower-case words of a search query; every one must match.
fn words(q: &str) -> Vec<String> {
    q.split_whitespace().map(str::to_lowercase).collect()
}

impl Catalog {
    pub fn new(registry: Registry) -> Catalog {
        Catalog {
            registry,
            subgraphs: HashMap::new(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn spec(&self, kind: &str) -> Option<&BlockSpec> {
        self.registry.get(kind)
    }

    /// The palette: categories in order, each with its types matching
    /// `query` (every word in the name, category, summary or documentation).
    pub fn palette(&self, query: &str) -> Vec<(&'static str, Vec<&BlockSpec>)> {
        let q = words(query);
        let mut cats: Vec<(&'static str, Vec<&BlockSpec>)> = Vec::new();
        let mut all = self.registry.all();
        all.sort_by_key(|s| (s.category, s.name));
        for s in all {
            let hay = format!("{} {} {} {}", s.name, s.category, s.summary, s.doc).to_lowercase();
            if !q.iter().all(|w| hay.contains(w.as_str())) {
                continue;
            }
            match cats.last_mut() {
                Some((c, list)) if *c == s.category => list.push(s),
                _ => cats.push((s.category, vec![s])),
            }
        }
        cats
    }

    /// Ports of `kind`, a registered type or a subgraph path (relative to
    /// `base_dir`); None for an unknown type or an unreadable file.
    pub fn type_info(&mut self, kind: &str, base_dir: &Path) -> Option<TypeInfo> {
        self.type_info_at(kind, base_dir, 0)
    }

    fn type_info_at(&mut self, kind: &str, base_dir: &Path, depth: usize) -> Option<TypeInfo> {
        if let Some(s) = self.registry.get(kind) {
            return Some(TypeInfo {
                inputs: s.inputs.iter().map(port_info).collect(),
                outputs: s.outputs.iter().map(port_info).collect(),
                sub_params: None,
            });
        }
        if !kind.ends_with(".yaml") || depth > MAX_DEPTH {
            return None;
        }
        let path = base_dir.join(kind);
        if let Some(known) = self.subgraphs.get(&path) {
            return known.clone();
        }
        // Mark it first, so a file that uses itself ends here.
        self.subgraphs.insert(path.clone(), None);
        let info = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| Document::parse(&t).ok())
            .map(|doc| {
                let dir = path.parent().unwrap_or(base_dir).to_path_buf();
                let mut side = |ports: &[crate::document::ExtPort], input: bool| {
                    ports
                        .iter()
                        .map(|p| {
                            let inner = p.port.rsplit_once('.').and_then(|(b, port)| {
                                let kind = doc.block(b)?.kind.clone();
                                let t = self.type_info_at(&kind, &dir, depth + 1)?;
                                let list = if input { t.inputs } else { t.outputs };
                                list.into_iter().find(|x| x.name == port)
                            });
                            PortInfo {
                                name: p.name.clone(),
                                ty: inner.as_ref().map_or(PortType::Generic('?'), |i| i.ty),
                                optional: inner.as_ref().is_some_and(|i| i.optional),
                                doc: inner.map_or_else(String::new, |i| i.doc),
                            }
                        })
                        .collect::<Vec<_>>()
                };
                let inputs = side(&doc.inputs, true);
                let outputs = side(&doc.outputs, false);
                TypeInfo {
                    inputs,
                    outputs,
                    sub_params: Some(
                        doc.variables
                            .iter()
                            .map(|v| SubParam {
                                name: v.name.clone(),
                                default: v.value.text.clone(),
                                doc: v.comments.after.join(" ").trim().to_string(),
                            })
                            .collect(),
                    ),
                }
            });
        self.subgraphs.insert(path, info.clone());
        info
    }

    /// Forgets the subgraph files read so far (after one may have changed).
    pub fn refresh(&mut self) {
        self.subgraphs.clear();
    }
}

impl Catalog {
    /// Whether a wire from an output of type `from` to an input of type `to`
    /// can carry items: Err with the reason (shown on the canvas) if not. A
    /// generic port takes its type from what it connects to; the loader
    /// checks that the whole chain agrees.
    pub fn wire_check(
        &self,
        from_name: &str,
        from: PortType,
        to_name: &str,
        to: PortType,
    ) -> Result<(), String> {
        match (from, to) {
            (PortType::Fixed(a), PortType::Fixed(b)) if a != b => {
                let convert = format!("{}_to_{}", a.name(), b.name());
                let fix = if self.registry.get(&convert).is_some() {
                    format!(": put a `{convert}` between them")
                } else {
                    String::new()
                };
                Err(format!(
                    "`{from_name}` carries {} but `{to_name}` takes {}{fix}",
                    a.name(),
                    b.name()
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The colour of an item type on the canvas, as GRC colours its ports.
pub fn type_colour(t: PortType) -> [u8; 3] {
    match t {
        PortType::Fixed(ItemType::Bit) => [230, 160, 40],
        PortType::Fixed(ItemType::Octet) => [200, 90, 200],
        PortType::Fixed(ItemType::I16) => [230, 230, 60],
        PortType::Fixed(ItemType::F32) => [240, 120, 60],
        PortType::Fixed(ItemType::C32) => [60, 140, 240],
        PortType::Generic(_) => [160, 160, 160],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::new(modemflow_blocks::registry())
    }

    #[test]
    fn search_finds_names_and_descriptions() {
        let c = catalog();
        let hits = |q: &str| -> Vec<&str> {
            c.palette(q)
                .into_iter()
                .flat_map(|(_, l)| l.into_iter().map(|s| s.name))
                .collect()
        };
        assert!(hits("scrambler").contains(&"scrambler"));
        // A word that is only in a description.
        let by_doc = hits("robbed");
        assert!(by_doc.contains(&"digital_network"), "{by_doc:?}");
        assert!(hits("no-such-thing-anywhere").is_empty());
        // Every registered type is in the unfiltered palette once.
        let all = hits("");
        assert_eq!(all.len(), c.registry().all().len());
    }

    #[test]
    fn subgraph_ports_come_from_the_file() {
        let mut c = catalog();
        let graphs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../graphs");
        let t = c.type_info("v90_decoder.yaml", &graphs).unwrap();
        assert_eq!(t.inputs[0].name, "in");
        assert_eq!(t.inputs[0].ty, PortType::Fixed(ItemType::F32));
        assert!(t.outputs.iter().any(|p| p.name == "out"));
        assert!(t.sub_params.unwrap().iter().any(|p| p.name == "rate"));
        assert!(c.type_info("missing.yaml", &graphs).is_none());
        assert!(c.type_info("no_such_block", &graphs).is_none());
    }

    #[test]
    fn mismatched_wires_are_refused_with_a_reason() {
        let f = PortType::Fixed(ItemType::F32);
        let i = PortType::Fixed(ItemType::I16);
        let c = catalog();
        let e = c.wire_check("a.out", f, "b.in", i).unwrap_err();
        assert!(
            e.contains("carries f32") && e.contains("takes i16") && e.contains("f32_to_i16"),
            "{e}"
        );
        let e = c
            .wire_check("a.out", i, "b.in", PortType::Fixed(ItemType::Bit))
            .unwrap_err();
        assert!(!e.contains("between"), "no such conversion block: {e}");
        assert!(c.wire_check("a.out", f, "b.in", f).is_ok());
        assert!(c
            .wire_check("a.out", f, "b.in", PortType::Generic('a'))
            .is_ok());
    }
}
