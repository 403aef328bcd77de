//! Every kind of flowgraph error is reported at its file:line:col, all at once.

use modemflow_flow::{load_str, Diagnostic};
use modemflow_tests::test_registry;
use std::path::Path;

fn errors(yaml: &str) -> Vec<Diagnostic> {
    match load_str(yaml, "g.yaml", Path::new("."), &test_registry(), &[]) {
        Ok(_) => Vec::new(),
        Err(d) => d.0,
    }
}

fn has(errs: &[Diagnostic], line: usize, col: usize, text: &str) -> bool {
    errs.iter()
        .any(|d| d.line == line && d.col == col && d.message.contains(text))
}

fn show(errs: &[Diagnostic]) -> String {
    errs.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

const GOOD: &str = "\
name: ok
variables:
  seconds: 1
blocks:
  - id: src
    type: prbs_source
    params: {order: 23, seed: 1}
  - id: limit
    type: head
    params: {count: seconds * 8000}
  - id: ber
    type: ber_sink
    params: {order: 23}
connections:
  - src.out -> limit.in
  - limit.out -> ber.in
";

#[test]
fn a_good_graph_loads() {
    let g = load_str(GOOD, "g.yaml", Path::new("."), &test_registry(), &[]).unwrap();
    assert_eq!(g.nodes.len(), 3);
    assert_eq!(g.nodes[1].params["count"], modemflow_flow::Value::Int(8000));
    // head took its type from what it is connected to
    assert_eq!(g.nodes[1].input_types, vec![modemflow_flow::ItemType::Bit]);
}

#[test]
fn many_errors_reported_together_with_places() {
    let yaml = "\
name: bad
variables:
  seconds: 1
blocks:
  - id: src
    type: prbs_sorce
  - id: limit
    type: head
    params: {count: secs * 8000}
  - id: limit
    type: head
    params: {count: 5}
  - id: ber
    type: ber_sink
    params: {order: 24, colour: red}
  - id: enc
    type: g711_encode
connections:
  - limit.out -> ber.in
  - limit.out -> ber.in
  - limit.outt -> enc.in
";
    let e = errors(yaml);
    let s = show(&e);
    assert!(has(&e, 6, 11, "unknown block type `prbs_sorce`"), "{s}");
    assert!(
        e.iter()
            .any(|d| d.hint.as_deref().unwrap_or("").contains("prbs_source")),
        "{s}"
    );
    assert!(has(&e, 9, 21, "undefined variable `secs`"), "{s}");
    assert!(has(&e, 10, 9, "duplicate block id `limit`"), "{s}");
    assert!(has(&e, 15, 21, "not one of"), "{s}");
    assert!(has(&e, 15, 25, "unknown parameter `colour`"), "{s}");
    assert!(has(&e, 20, 5, "connected twice"), "{s}");
    assert!(has(&e, 21, 11, "has no output port `outt`"), "{s}");
    assert!(e.iter().all(|d| d.file == "g.yaml"));
}

#[test]
fn type_mismatch_names_both_ends_and_suggests_a_converter() {
    let yaml = "\
blocks:
  - {id: tone, type: tone_source}
  - {id: enc, type: g711_encode}
  - {id: sink, type: null_sink}
connections:
  - tone.out -> enc.in
  - enc.out -> sink.in
";
    let e = errors(yaml);
    let s = show(&e);
    assert!(
        has(&e, 6, 5, "`tone.out` carries f32 but `enc.in` takes i16"),
        "{s}"
    );
    assert!(
        e[0].hint.as_deref().unwrap_or("").contains("f32_to_i16"),
        "{s}"
    );
}

#[test]
fn missing_inputs_outputs_and_params() {
    let yaml = "\
blocks:
  - {id: h, type: head}
  - {id: scr, type: scrambler}
connections:
  - scr.out -> h.in
";
    let e = errors(yaml);
    let s = show(&e);
    assert!(has(&e, 2, 19, "needs parameter `count`"), "{s}");
    assert!(has(&e, 3, 10, "input `scr.in` is not connected"), "{s}");
    assert!(has(&e, 2, 10, "output `h.out` is not connected"), "{s}");
}

#[test]
fn cycles_need_a_delay() {
    let bad = "\
blocks:
  - {id: a, type: copy}
  - {id: b, type: copy}
  - {id: s, type: null_sink}
  - {id: t, type: tone_source}
  - {id: add, type: add_f32}
connections:
  - t.out -> add.a
  - add.out -> a.in
  - a.out -> b.in
  - b.out -> add.b
  - a.out -> s.in
";
    let e = errors(bad);
    assert!(
        e.iter()
            .any(|d| d.message.contains("cycle without a delay")),
        "{}",
        show(&e)
    );
    let good = bad.replace(
        "{id: b, type: copy}",
        "{id: b, type: delay, params: {samples: 4}}",
    );
    assert!(errors(&good).is_empty(), "{}", show(&errors(&good)));
}

#[test]
fn yaml_syntax_and_layout_errors() {
    let e = errors("blocks: [\n  - id: x\n");
    assert_eq!(e.len(), 1, "{}", show(&e));
    assert!(e[0].message.contains("YAML syntax"), "{}", show(&e));
    let e = errors("- just\n- a list\n");
    assert!(e[0].message.contains("mapping"), "{}", show(&e));
    let e = errors("blockz: []\n");
    assert!(has(&e, 1, 1, "unknown key `blockz`"), "{}", show(&e));
    let e = errors("blocks: 5\n");
    assert!(e[0].message.contains("must be a list"), "{}", show(&e));
}

#[test]
fn disabled_blocks_drop_their_connections() {
    let yaml = GOOD.replace(
        "  - id: ber\n    type: ber_sink",
        "  - id: ber\n    enabled: false\n    type: ber_sink",
    );
    let e = errors(&yaml);
    assert!(
        e.iter()
            .any(|d| d.message.contains("output `limit.out` is not connected")),
        "{}",
        show(&e)
    );
}

#[test]
fn set_overrides_and_unknown_set() {
    let reg = test_registry();
    let g = load_str(
        GOOD,
        "g.yaml",
        Path::new("."),
        &reg,
        &[("seconds".into(), "2".into())],
    )
    .unwrap();
    assert_eq!(
        g.nodes[1].params["count"],
        modemflow_flow::Value::Int(16000)
    );
    let e = load_str(
        GOOD,
        "g.yaml",
        Path::new("."),
        &reg,
        &[("second".into(), "2".into())],
    )
    .unwrap_err();
    assert!(
        e.0[0].message.contains("`second` is not a variable"),
        "{}",
        e
    );
    assert_eq!(e.0[0].hint.as_deref(), Some("did you mean `seconds`?"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// No input, however malformed, makes the loader panic.
    #[test]
    fn loader_never_panics(cut in 0usize..400, junk in "[ -~\n]{0,30}") {
        let mut s: String = GOOD.chars().take(cut).collect();
        s.push_str(&junk);
        let _ = load_str(&s, "g.yaml", Path::new("."), &test_registry(), &[]);
    }
}

#[test]
fn quoted_values_are_text() {
    // Quoted text (either style, in a variable or a parameter) stays text.
    let yaml = "\
variables:
  modes: 'v34,v21'
  other: \"v90, v34\"
blocks:
  - {id: a, type: v8_negotiator, params: {modulations: modes}}
  - {id: b, type: v8_negotiator, params: {role: answerer, modulations: \"v22bis,v21\"}}
  - {id: c, type: v8_negotiator, params: {modulations: other, pcm: 'analogue'}}
  - {id: d, type: two_wire_line}
  - {id: e, type: delay, params: {samples: 8}}
connections:
  - a.out -> d.a
  - b.out -> d.b
  - d.a -> a.in
  - d.b -> b.in
  - c.out -> e.in
  - e.out -> c.in
";
    let g = load_str(yaml, "g.yaml", Path::new("."), &test_registry(), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let text = |i: usize| g.nodes[i].params["modulations"].to_string();
    assert_eq!(text(0), "v34,v21");
    assert_eq!(text(1), "v22bis,v21");
    assert_eq!(text(2), "v90, v34");
    // A comma-separated list of words is text unquoted too, also from --set;
    // anything else that does not evaluate is still an error at its place.
    let g = load_str(
        &yaml.replace("'v34,v21'", "v34, v21"),
        "g.yaml",
        Path::new("."),
        &test_registry(),
        &[("other".into(), "v90,v34".into())],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(g.nodes[0].params["modulations"].to_string(), "v34, v21");
    assert_eq!(g.nodes[2].params["modulations"].to_string(), "v90,v34");
    let errs = errors(&yaml.replace("'v34,v21'", "v34 + v21"));
    assert!(
        has(&errs, 2, 10, "undefined variable `v34`"),
        "{}",
        show(&errs)
    );
}
