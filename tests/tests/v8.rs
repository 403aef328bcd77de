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

/// (file, caller's channel, CM octets, JM octets); see tests/data/recordings/README.md.
const RECORDINGS: [(&str, u16, &str, &str); 4] = [
    (
        "v34-conexant-rh56sp-33600-33600.wav",
        1,
        "C1 65 13 94 0D 27",
        "C1 65 13 94 0D 27",
    ),
    (
        "v34-3com-sportsterflash-28800-28800.wav",
        1,
        "C1 65 13 90 27 0D",
        "C1 65 13 90 0D 27",
    ),
    (
        "v90-USR-Sportster-bong-bong.wav",
        2,
        "C1 65 13 90 27 0D",
        "C1 65 13 90 47 8D",
    ),
    (
        "v90-Conexant-HCF-smooth-crescendo.wav",
        2,
        "C1 65 13 94 0D 27",
        "C1 65 13 94 47 8D",
    ),
];

/// Events of graphs/v8_decode.yaml on one channel of `input`.
fn v8_decode(input: &Path, channel: u16) -> Vec<Event> {
    let g = modemflow_flow::load_file(
        &root().join("graphs/v8_decode.yaml"),
        &test_registry(),
        &[
            ("input".into(), input.display().to_string()),
            ("channel".into(), channel.to_string()),
        ],
    )
    .unwrap();
    run_to_end(&g, &RunOptions::default()).unwrap()
}

fn accepted(ev: &[Event], kind: &str) -> Vec<String> {
    ev.iter()
        .filter(|e| e.kind == kind && e.fields["accepted"] == true)
        .map(|e| e.fields["octets"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn real_recordings_each_channel_alone_and_summed() {
    let dir = root().join("tests/data/recordings");
    let tmp = std::env::temp_dir().join(format!("mf-rec-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (file, caller, cm, jm) in RECORDINGS {
        let path = dir.join(file);
        let answerer = 3 - caller;
        // The caller's channel: CM, accepted, and nothing else.
        let ev = v8_decode(&path, caller);
        let cms = accepted(&ev, "cm");
        assert!(
            !cms.is_empty() && cms.iter().all(|o| o == cm),
            "{file}: {cms:?}"
        );
        // The answerer's channel: ANSam/ with reversals, then JM.
        let ev = v8_decode(&path, answerer);
        let jms = accepted(&ev, "jm");
        assert!(
            !jms.is_empty() && jms.iter().all(|o| o == jm),
            "{file}: {jms:?}"
        );
        let end = ev
            .iter()
            .find(|e| e.kind == "tone_end")
            .expect("answer tone");
        assert_eq!(end.fields["kind"], "ansam_pr", "{file}");
        // Both directions on one line.
        let mut r = hound::WavReader::open(&path).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            ..r.spec()
        };
        let samples: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
        let mixed = tmp.join(file);
        let mut w = hound::WavWriter::create(&mixed, spec).unwrap();
        for pair in samples.chunks(2) {
            let sum = i32::from(pair[0]) + i32::from(pair[1]);
            w.write_sample(sum.clamp(-32768, 32767) as i16).unwrap();
        }
        w.finalize().unwrap();
        let ev = v8_decode(&mixed, 1);
        let cms = accepted(&ev, "cm");
        let jms = accepted(&ev, "jm");
        assert!(
            !cms.is_empty() && cms.iter().all(|o| o == cm),
            "{file} summed: {cms:?}"
        );
        assert!(
            !jms.is_empty() && jms.iter().all(|o| o == jm),
            "{file} summed: {jms:?}"
        );
        assert!(ev.iter().any(|e| e.kind == "ansam"), "{file} summed");
    }
}

/// Runs graphs/v8_handshake.yaml with `set`; the `agreed`/`failed` event of
/// (caller, answerer).
fn handshake(set: &[(&str, &str)], scheduler: modemflow_flow::Scheduler) -> Vec<Event> {
    let path = root().join("graphs/v8_handshake.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let set: Vec<(String, String)> = set
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let g = load_str(
        &text,
        "v8_handshake.yaml",
        &root().join("graphs"),
        &test_registry(),
        &set,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let opts = RunOptions {
        scheduler,
        ..RunOptions::default()
    };
    run_to_end(&g, &opts)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "agreed" || e.kind == "failed")
        .collect()
}

#[test]
fn the_handshake_graph_agrees_on_v90_through_the_two_wire_line() {
    for scheduler in [
        modemflow_flow::Scheduler::Fused,
        modemflow_flow::Scheduler::Threaded,
    ] {
        let ev = handshake(&[], scheduler);
        let who: Vec<(&str, &str, &str)> = ev
            .iter()
            .map(|e| {
                (
                    e.block.as_str(),
                    e.kind.as_str(),
                    e.fields["pcm_role"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            who,
            [
                ("caller", "agreed", "analogue"),
                ("answerer", "agreed", "digital")
            ],
            "{ev:?}"
        );
        assert!(ev.iter().all(|e| e.fields["mode"] == "v90"));
    }
}

#[test]
fn the_handshake_graph_under_line_impairments() {
    use modemflow_flow::Scheduler::Fused;
    // A long delay, the far end 14 dB below the near echo, noise at 20 dB
    // below the far signal, a modest answerer: still one agreed mode.
    for set in [
        vec![("delay", "300"), ("seconds", "8")],
        vec![("loss", "20"), ("echo_loss", "0"), ("noise", "-53")],
        vec![("answerer_modes", "v34,v32bis")],
    ] {
        let ev = handshake(&set, Fused);
        let modes: Vec<&str> = ev
            .iter()
            .filter(|e| e.kind == "agreed")
            .map(|e| e.fields["mode"].as_str().unwrap())
            .collect();
        let want = if set[0].0 == "answerer_modes" {
            "v34"
        } else {
            "v90"
        };
        assert_eq!(modes, [want, want], "{set:?}: {ev:?}");
    }
    // Nothing in common: both ends say so.
    let ev = handshake(&[("caller_modes", "v21"), ("answerer_modes", "v34")], Fused);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(ev.iter().all(|e| e.kind == "failed"), "{ev:?}");
}
