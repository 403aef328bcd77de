//! A flowgraph file with declared ports is a block in another flowgraph.

use modemflow_flow::{load_file, run_to_end, RunOptions, Scheduler};
use modemflow_tests::test_registry;
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mf-hier-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const LOOPBACK: &str = "\
variables: {polynomial: gpc, p: 0}
blocks:
  - {id: scr, type: scrambler, params: {polynomial: polynomial}}
  - {id: err, type: bit_error, params: {probability: p, seed: 2}}
  - {id: descr, type: descrambler, params: {polynomial: polynomial}}
connections:
  - scr.out -> err.in
  - err.out -> descr.in
inputs:
  - {name: in, port: scr.in}
outputs:
  - {name: out, port: descr.out}
";

const TOP: &str = "\
variables: {perr: 0}
blocks:
  - {id: src, type: prbs_source, params: {order: 23}}
  - {id: lim, type: head, params: {count: 50000}}
  - {id: link, type: sub/loopback.yaml, params: {polynomial: gpa, p: perr}}
  - {id: ber, type: ber_sink, params: {order: 23}}
connections:
  - src.out -> lim.in
  - lim.out -> link.in
  - link.out -> ber.in
";

#[test]
fn subgraph_runs_as_a_block_with_its_variables_as_parameters() {
    let d = dir("ok");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/loopback.yaml"), LOOPBACK).unwrap();
    std::fs::write(d.join("top.yaml"), TOP).unwrap();
    let reg = test_registry();
    let g = load_file(&d.join("top.yaml"), &reg, &[]).unwrap();
    let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    assert!(
        ids.contains(&"link/scr") && ids.contains(&"link/descr"),
        "{ids:?}"
    );
    let scr = &g.nodes[g.node("link/scr").unwrap()];
    assert_eq!(
        scr.params["polynomial"],
        modemflow_flow::Value::Str("gpa".into())
    );
    for s in [Scheduler::Fused, Scheduler::Threaded] {
        let ev = run_to_end(
            &g,
            &RunOptions {
                scheduler: s,
                chunk: 1000,
                ..RunOptions::default()
            },
        )
        .unwrap();
        let ber = ev.iter().find(|e| e.kind == "ber").unwrap();
        assert_eq!(ber.fields["errors"], 0);
    }
    // Parameters reach inside: errors injected in the subgraph are counted.
    let g = load_file(&d.join("top.yaml"), &reg, &[("perr".into(), "0.01".into())]).unwrap();
    let ev = run_to_end(&g, &RunOptions::default()).unwrap();
    let ber = ev.iter().find(|e| e.kind == "ber").unwrap();
    assert!(ber.fields["errors"].as_u64().unwrap() > 100);
}

#[test]
fn errors_inside_a_subgraph_point_into_its_file() {
    let d = dir("bad");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(
        d.join("sub/loopback.yaml"),
        LOOPBACK.replace("type: descrambler,", "type: descrambller,"),
    )
    .unwrap();
    std::fs::write(d.join("top.yaml"), TOP.replace("p: perr", "q: 1")).unwrap();
    let e = load_file(&d.join("top.yaml"), &test_registry(), &[]).unwrap_err();
    let text = e.to_string();
    assert!(
        e.0.iter().any(|x| x.file.ends_with("sub/loopback.yaml")
            && x.line == 5
            && x.message.contains("descrambller")),
        "{text}"
    );
    assert!(
        e.0.iter().any(|x| x.file.ends_with("top.yaml")
            && x.line == 5
            && x.message.contains("unknown parameter `q`")),
        "{text}"
    );
}

#[test]
fn a_subgraph_that_includes_itself_is_an_error_not_a_hang() {
    let d = dir("self");
    std::fs::write(
        d.join("me.yaml"),
        "blocks:\n  - {id: me, type: me.yaml}\ninputs: []\n",
    )
    .unwrap();
    let e = load_file(&d.join("me.yaml"), &test_registry(), &[]).unwrap_err();
    assert!(e.to_string().contains("includes itself"), "{e}");
    let missing = load_file(&d.join("none.yaml"), &test_registry(), &[]).unwrap_err();
    assert!(missing.to_string().contains("cannot read"), "{missing}");
}

/// A subgraph reading a WAV file its parameter names.
const READER: &str = "\
variables: {input: inner.wav}
blocks:
  - {id: src, type: wav_source, params: {path: input}}
  - {id: sink, type: null_sink}
connections:
  - src.out -> sink.in
";

#[test]
fn paths_resolve_where_they_were_written() {
    let d = dir("paths");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/reader.yaml"), READER).unwrap();
    let path_of = |top: &str, set: &[(String, String)]| {
        std::fs::write(d.join("top.yaml"), top).unwrap();
        let g = load_file(&d.join("top.yaml"), &test_registry(), set).unwrap();
        let n = &g.nodes[g.node("r/src").unwrap()];
        PathBuf::from(n.params["path"].as_str().unwrap().to_string())
    };
    let top = |params: &str| {
        format!(
            "variables: {{file: top.wav}}\nblocks:\n  - {{id: r, type: sub/reader.yaml{params}}}\n"
        )
    };
    // The subgraph's own default: next to the subgraph.
    assert_eq!(path_of(&top(""), &[]), d.join("sub").join("inner.wav"));
    // Written in the top file, literally or through its variable: next to it.
    assert_eq!(
        path_of(&top(", params: {input: lit.wav}"), &[]),
        d.join("lit.wav")
    );
    assert_eq!(
        path_of(&top(", params: {input: file}"), &[]),
        d.join("top.wav")
    );
    // Given on the command line: the current directory, as typed.
    assert_eq!(
        path_of(
            &top(", params: {input: file}"),
            &[("file".into(), "call.wav".into())]
        ),
        PathBuf::from("call.wav")
    );
    // Absolute paths stay as they are.
    assert_eq!(
        path_of(&top(", params: {input: /x/y.wav}"), &[]),
        PathBuf::from("/x/y.wav")
    );
}
