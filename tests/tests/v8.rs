//! V.8 messages read end to end from audio: spandsp's transmitted V.8 signals
//! through wav_source, fsk_demodulator and v8_deframer, and our own framer and
//! modulator through the same receiver.

use modemflow_flow::{load_str, run_to_end, Event, RunOptions};
use modemflow_tests::{root, test_registry};
use std::path::Path;

fn decode(yaml: &str) -> Vec<Event> {
    let g = load_str(yaml, "v8.yaml", Path::new("."), &test_registry(), &[]).unwrap();
    run_to_end(&g, &RunOptions::default()).unwrap()
}

fn receiver(source: &str, channel: u8) -> String {
    format!(
        "blocks:\n{source}\n  - {{id: demod, type: fsk_demodulator, params: {{channel: {channel}}}}}\n  - {{id: v8, type: v8_deframer, params: {{channel: {channel}}}}}\nconnections:\n  - src.out -> pcm.in\n  - pcm.out -> demod.in\n  - demod.out -> v8.in\n"
    )
}

fn messages(ev: &[Event]) -> Vec<(String, String, bool)> {
    ev.iter()
        .filter(|e| e.block == "v8")
        .map(|e| {
            (
                e.kind.clone(),
                e.fields["octets"].as_str().unwrap().to_string(),
                e.fields["accepted"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn reads_spandsp_cm_cj_and_jm_from_audio() {
    let data = root().join("blocks/tests/data");
    let call = format!(
        "  - {{id: src, type: wav_source, params: {{path: '{}'}}}}\n  - {{id: pcm, type: i16_to_f32}}",
        data.join("v8_call.wav").display()
    );
    let m = messages(&decode(&receiver(&call, 1)));
    let cm = "C1 65 13 90 2A 27";
    assert!(
        m.iter().any(|(k, o, a)| k == "cm" && o == cm && *a),
        "{m:?}"
    );
    assert!(
        m.iter()
            .all(|(k, o, _)| k != "cm" || o == cm || cm.starts_with(o.as_str())),
        "{m:?}"
    );
    assert!(m.iter().any(|(k, _, _)| k == "cj"), "{m:?}");
    assert_eq!(m.iter().filter(|(k, _, _)| k == "v92").count(), 2, "{m:?}");

    let answer = call.replace("v8_call.wav", "v8_answer.wav");
    let m = messages(&decode(&receiver(&answer, 2)));
    let jm = "C1 65 13 10 2A 8D 47";
    assert!(
        m.iter().any(|(k, o, a)| k == "jm" && o == jm && *a),
        "{m:?}"
    );
    // The caller's channel carries nothing for the JM receiver.
    let m = messages(&decode(&receiver(&answer, 1)));
    assert!(m.is_empty(), "{m:?}");
}

#[test]
fn our_framer_and_modulator_are_read_back() {
    let tx = "  - {id: src, type: v8_framer, params: {sequence: cm, octets: 'C1 65 13 94 2A 0D 27', repeat: 4, cj: true}}\n  - {id: mod, type: fsk_modulator, params: {channel: 1, level: -30}}\n  - {id: tail, type: head, params: {count: 20000}}\n  - {id: pad, type: delay, params: {samples: 0}}\n  - {id: pcm, type: copy}";
    // Pad the end with silence so the receiver decides the last bits: the
    // modulator's finite output goes through `head` with a longer count.
    let yaml = receiver(tx, 1).replace(
        "  - src.out -> pcm.in\n",
        "  - src.out -> mod.in\n  - mod.out -> pad.in\n  - pad.out -> tail.in\n  - tail.out -> pcm.in\n",
    );
    let m = messages(&decode(&yaml));
    let cm = "C1 65 13 94 2A 0D 27";
    let accepted = m
        .iter()
        .filter(|(k, o, a)| k == "cm" && o == cm && *a)
        .count();
    assert!(accepted >= 2, "{m:?}");
    assert!(m.iter().all(|(k, o, _)| k == "cj" || o == cm), "{m:?}");
}
