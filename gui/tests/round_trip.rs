//! Every shipped graph survives an open–save round trip in the editor: the
//! saved file loads in the command line's loader to the same graph (blocks,
//! parameters, connections, variables), keeps every `#` comment, and saves
//! again to the same text.

use modemflow_flow::{load_str, Flowgraph};
use modemflow_gui::document::Document;
use std::path::{Path, PathBuf};

fn graphs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../graphs")
}

fn files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(graphs())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    v.sort();
    assert!(v.len() >= 8, "{v:?}");
    v
}

/// What a graph means: its flattened blocks with their evaluated
/// parameters, its wires by name, its variables.
fn meaning(g: &Flowgraph) -> (Vec<String>, Vec<String>, String) {
    let nodes = g
        .nodes
        .iter()
        .map(|n| format!("{} {} {:?}", n.id, n.spec.name, n.params))
        .collect();
    let mut edges: Vec<String> = g
        .edges
        .iter()
        .map(|e| format!("{} -> {}", g.output_name(e.from), g.input_name(e.to)))
        .collect();
    edges.sort();
    (nodes, edges, format!("{:?}", g.variables))
}

fn comments(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once('#').map(|(_, c)| c.trim().to_string()))
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn every_shipped_graph_round_trips() {
    let reg = modemflow_blocks::registry();
    for f in files() {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).unwrap();
        let doc = Document::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let saved = doc.to_yaml();
        let before =
            load_str(&text, &name, &graphs(), &reg, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let after = load_str(&saved, &name, &graphs(), &reg, &[])
            .unwrap_or_else(|e| panic!("{name} as saved:\n{saved}\n{e}"));
        assert_eq!(
            meaning(&after),
            meaning(&before),
            "{name} as saved:\n{saved}"
        );
        // Comments: every one is still there, in the same order.
        let mut want = comments(&text);
        let mut got = comments(&saved);
        want.sort();
        got.sort();
        assert_eq!(got, want, "{name} as saved:\n{saved}");
        // A second round changes nothing.
        let again = Document::parse(&saved).unwrap();
        assert_eq!(again, doc, "{name}");
        assert_eq!(again.to_yaml(), saved, "{name}");
    }
}

#[test]
fn garbage_files_are_errors_not_panics() {
    for text in [
        "",
        "blocks",
        "blocks: [",
        "- a\n- b\n",
        "blocks:\n  - 3\n",
        "blocks:\n  - {id: a, type: head, params: [1, 2]}\n",
        "variables: [1]\n",
        "connections:\n  - nonsense\n",
        "layout: 7\nblocks: []\n",
        "\u{0}\u{1}\u{2}",
        "blocks:\n  - {id: a, type: head}\nlayout: {positions: {a: [x, 1]}, probes: [3]}\n",
    ] {
        // Either a document or an error with a place; never a panic.
        match Document::parse(text) {
            Ok(d) => {
                let _ = Document::parse(&d.to_yaml()).unwrap();
            }
            Err(e) => assert!(e.line >= 1 && !e.message.is_empty(), "{text:?}: {e:?}"),
        }
    }
}
