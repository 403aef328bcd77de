//! modemflow's V.8 kernels (answer tones, V.21 FSK, V.8 framing) against
//! libspandsp 0.0.6: spandsp's answer-tone detector on our tones, spandsp's
//! V.8 answerer on our CM, and spandsp's V.8 caller on our ANSam/ and JM.
//!
//! All signals are at 8000 samples/s; our f32 samples (full scale ±1.0) go to
//! spandsp as i16 (×32768, rounded, clamped).

#[test]
fn spandsp_is_linked_or_the_checks_are_skipped() {
    if !modemflow_spandsp::AVAILABLE {
        eprintln!("libspandsp not installed: V.8 cross-checks skipped (apt-get install libspandsp-dev pkg-config)");
    }
}

#[cfg(spandsp)]
mod with_spandsp {
    use modemflow_blocks::v8::answer_tone::{AnswerTone, AnswerToneGenerator};
    use modemflow_blocks::v8::capabilities::{Offer, Pcm};
    use modemflow_blocks::v8::fsk::{Channel, V21_BAUD};
    use modemflow_blocks::v8::fsk_rx::FskDemodulator;
    use modemflow_blocks::v8::fsk_tx::FskModulator;
    use modemflow_blocks::v8::message::{frame, Deframer, Received, Sequence, SYNC_CM_JM};
    use modemflow_blocks::v8::negotiator::{Config, Negotiator, Report as NegotiatorReport, Role};
    use modemflow_spandsp::connect_tones::{self as ct, detect, tone_name, Report};
    use modemflow_spandsp::v8::*;

    /// Samples per second.
    const FS: usize = 8000;
    /// 0.2 s of silence before an answer tone.
    const SILENCE: usize = FS / 5;
    /// 450 ms between phase reversals.
    const REVERSAL: usize = 3600;
    /// One CM or JM of seven octets: 10 ones + 8 framed octets = 90 bits.
    const SEQ_SAMPLES: usize = 90 * FS / 300;

    /// Our CM: V-series; V.34 + PCM; V.32bis + V.22bis; V.21; LAPM; PSTN
    /// access octet with no bit set; PCM: V.90/V.92 analogue.
    const OUR_CM: [u8; 7] = [0xC1, 0x65, 0x13, 0x90, 0x2A, 0x0D, 0x27];
    /// Our JM: the same without V.21; PSTN access: DCE on digital; PCM:
    /// V.90/V.92 digital.
    const OUR_JM: [u8; 7] = [0xC1, 0x65, 0x13, 0x10, 0x2A, 0x8D, 0x47];
    /// The CM spandsp's caller sends with `caller_parms()`.
    const SPANDSP_CM: [u8; 6] = [0xC1, 0x65, 0x13, 0x90, 0x2A, 0x27];

    const ANSWERER_MODULATIONS: u32 = V8_MOD_V34 | V8_MOD_V90 | V8_MOD_V32 | V8_MOD_V22;
    const CALLER_MODULATIONS: u32 = ANSWERER_MODULATIONS | V8_MOD_V21;

    fn to_i16(x: &[f32]) -> Vec<i16> {
        x.iter()
            .map(|v| (f64::from(*v) * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    }

    fn to_f32(x: &[i16]) -> Vec<f32> {
        x.iter().map(|&v| f32::from(v) / 32768.0).collect()
    }

    /// Our answer tone at −12 dBm0 for `seconds`, into `out`.
    fn answer_tone(tone: AnswerTone, seconds: f64, out: &mut [f32]) {
        let want = (seconds * FS as f64).round() as usize;
        let made = AnswerToneGenerator::new(tone, -12.0, seconds).fill(out);
        assert_eq!(made, want.min(out.len()));
    }

    /// `octets` framed as a CM/JM, repeated back to back on `channel` at
    /// −14 dBm0 with our modulator, filling `out` completely.
    fn repeated(channel: Channel, octets: &[u8], out: &mut [f32]) {
        let one = frame(SYNC_CM_JM, octets);
        let bits: Vec<u8> = one
            .iter()
            .cycle()
            .take(out.len() * 300 / FS + one.len())
            .copied()
            .collect();
        let (_, written) = FskModulator::new(channel, V21_BAUD, -14.0).modulate(&bits, out);
        assert_eq!(written, out.len());
    }

    /// The V.8 sequences our demodulator and deframer find on `channel` of
    /// `x`, and the sample where carrier first came on.
    fn demodulate(channel: Channel, x: &[i16]) -> (Vec<Received>, Option<u64>) {
        let mut d = FskDemodulator::new(channel, V21_BAUD, -45.5).unwrap();
        let mut bits = Vec::new();
        let mut carrier_on = None;
        for chunk in to_f32(x).chunks(160) {
            d.process(chunk, &mut bits, usize::MAX);
            if carrier_on.is_none() {
                carrier_on = d.events().iter().find(|e| e.on).map(|e| e.sample);
            }
        }
        let mut deframer = Deframer::new();
        let mut got = Vec::new();
        for b in bits {
            deframer.push(b, &mut got);
        }
        deframer.flush(&mut got);
        (got, carrier_on)
    }

    /// Runs `v8` for `x.len()` samples the way a line does: at each sample it
    /// transmits one sample and receives one. Returns what it transmitted.
    fn run(v8: &mut V8, x: &[i16]) -> Vec<i16> {
        let mut tx = vec![0i16; x.len()];
        for n in 0..x.len() {
            v8.tx(&mut tx[n..n + 1]);
            v8.rx(&x[n..n + 1]);
        }
        tx
    }

    fn answerer_parms() -> Parms {
        Parms {
            modem_connect_tone: MODEM_CONNECT_TONES_ANSAM_PR,
            send_ci: 0,
            v92: -1,
            call_function: V8_CALL_V_SERIES,
            modulations: ANSWERER_MODULATIONS,
            protocol: V8_PROTOCOL_LAPM_V42,
            pstn_access: V8_PSTN_ACCESS_DCE_ON_DIGITAL,
            pcm_modem_availability: V8_PSTN_PCM_MODEM_V90_V92_DIGITAL,
            nsf: -1,
            t66: -1,
            ..Parms::default()
        }
    }

    fn caller_parms() -> Parms {
        Parms {
            modem_connect_tone: MODEM_CONNECT_TONES_NONE,
            send_ci: 1,
            v92: -1,
            call_function: V8_CALL_V_SERIES,
            modulations: CALLER_MODULATIONS,
            protocol: V8_PROTOCOL_LAPM_V42,
            pstn_access: 0,
            pcm_modem_availability: V8_PSTN_PCM_MODEM_V90_V92_ANALOGUE,
            nsf: -1,
            t66: -1,
            ..Parms::default()
        }
    }

    /// spandsp's `modem_connect_tones_rx` tells all four of our answer tones
    /// apart. Whichever of ANS, ANS/, ANSam or ANSam/ it is set up to look
    /// for (they share one detector in 0.0.6; set up for ANSam/ or any other,
    /// the reports are identical), it classifies what it hears: a 2100 Hz
    /// tone with 15 Hz AM as ANSam, with reversals as ANS/ or ANSam/. It
    /// reports a tone once, then `MODEM_CONNECT_TONES_NONE` when it ends.
    /// Measured, with the tone from sample 1600 at −12 dBm0 for 5 s: ANS and
    /// ANSam are reported at sample 6018 (0.55 s into the tone, once no
    /// reversal has come 450 ms in, with some margin), ANS/ and
    /// ANSam/ at 12416, just after the third reversal (at 1600 + 3·3600);
    /// spandsp gives the level as −12 for ANS and ANS/, −10 for ANSam and
    /// ANSam/ (it sees the AM's peaks).
    #[test]
    fn spandsp_tells_our_four_answer_tones_apart() {
        assert_eq!(tone_name(ct::MODEM_CONNECT_TONES_ANSAM_PR), "ANSam/");
        let tone_end = SILENCE + 5 * FS;
        for (tone, want, level) in [
            (AnswerTone::Ans, ct::MODEM_CONNECT_TONES_ANS, -12),
            (AnswerTone::AnsPr, ct::MODEM_CONNECT_TONES_ANS_PR, -12),
            (AnswerTone::Ansam, ct::MODEM_CONNECT_TONES_ANSAM, -10),
            (AnswerTone::AnsamPr, ct::MODEM_CONNECT_TONES_ANSAM_PR, -10),
        ] {
            let mut x = vec![0f32; tone_end + FS / 2];
            answer_tone(tone, 5.0, &mut x[SILENCE..]);
            let x = to_i16(&x);
            let got = detect(ct::MODEM_CONNECT_TONES_ANSAM_PR, &x);
            let names: Vec<(u64, String)> =
                got.iter().map(|r| (r.sample, tone_name(r.code))).collect();
            assert_eq!(got.len(), 2, "{tone:?}: {names:?}");
            let (on, off): (&Report, &Report) = (&got[0], &got[1]);
            assert_eq!(on.code, want, "{tone:?}: {names:?}");
            assert!(
                (level - 1..=level + 1).contains(&on.level),
                "{tone:?}: {on:?}"
            );
            let at = on.sample as usize - SILENCE;
            if tone.reversals() {
                // Recognised by its reversals: after the third one.
                assert!(
                    (3 * REVERSAL..3 * REVERSAL + 400).contains(&at),
                    "{tone:?}: {at}"
                );
            } else {
                // Once no reversal came where the first one would have.
                assert!((REVERSAL..2 * REVERSAL).contains(&at), "{tone:?}: {at}");
            }
            assert_eq!(
                off.code,
                ct::MODEM_CONNECT_TONES_NONE,
                "{tone:?}: {names:?}"
            );
            assert!(
                (tone_end as u64..tone_end as u64 + 400).contains(&off.sample),
                "{tone:?}: {off:?}"
            );
            // The tone it is set up for changes nothing.
            for asked in [
                ct::MODEM_CONNECT_TONES_ANS,
                ct::MODEM_CONNECT_TONES_ANS_PR,
                ct::MODEM_CONNECT_TONES_ANSAM,
            ] {
                assert_eq!(detect(asked, &x), got, "{tone:?} asked {asked}");
            }
        }
    }

    /// Runs spandsp's answerer for 6 s on our CM, repeated on channel 1 from
    /// 1 s on; returns the answerer and what it transmitted.
    fn answer_our_cm(narrow_to: Option<u32>) -> (V8, Vec<i16>) {
        let mut x = vec![0f32; 6 * FS];
        repeated(Channel::ONE, &OUR_CM, &mut x[FS..]);
        let mut answerer = V8::with_narrowing(false, &answerer_parms(), narrow_to);
        let tx = run(&mut answerer, &to_i16(&x));
        (answerer, tx)
    }

    /// spandsp's answerer takes our CM. After two identical CMs (they end at
    /// sample 8000 + 2·2400) it reports, at sample 13332, `V8_STATUS_V8_OFFERED`
    /// with exactly the CM's fields (its `modem_connect_tone` reads 0, and
    /// `send_ci`/`v92` 0). Nothing else in the 6 s: `V8_STATUS_V8_CALL` would
    /// need a CJ, which we do not send, and it keeps sending JM meanwhile.
    ///
    /// Its transmit signal: silence, ANSam/ from sample 1600 (spandsp's own
    /// detector recognises it at 12413), cut short when it accepts the CM,
    /// 75 ms of silence, then JM repeated on channel 2 — which our
    /// demodulator and deframer read as `C1 65 13 10 2A 8D 47`: our CM's
    /// modes narrowed to the answerer's by the result handler.
    #[test]
    fn spandsp_answerer_accepts_our_cm_and_answers_with_ansam_pr_and_jm() {
        let (answerer, tx) = answer_our_cm(Some(ANSWERER_MODULATIONS));

        let results = answerer.results();
        assert_eq!(results.len(), 1, "{results:?}");
        let r = results[0];
        let at = answerer.result_samples()[0] as usize;
        assert_eq!(r.status, V8_STATUS_V8_OFFERED, "{r:?}");
        assert_eq!(r.call_function, V8_CALL_V_SERIES, "{r:?}");
        assert_eq!(r.modulations, CALLER_MODULATIONS, "{r:?}");
        assert_eq!(r.protocol, V8_PROTOCOL_LAPM_V42, "{r:?}");
        assert_eq!(
            r.pcm_modem_availability, V8_PSTN_PCM_MODEM_V90_V92_ANALOGUE,
            "{r:?}"
        );
        assert_eq!(r.pstn_access, 0, "{r:?}");
        assert!(
            (FS + 2 * SEQ_SAMPLES..FS + 3 * SEQ_SAMPLES).contains(&at),
            "offered at {at}"
        );

        // ANSam/ from 0.2 s (sample 1600 itself is sin 0 = 0) until it accepts the CM.
        let first = tx.iter().position(|&v| v != 0).unwrap();
        assert!((SILENCE..SILENCE + 2).contains(&first), "{first}");
        let tone_end = (first..tx.len())
            .find(|&n| tx[n..(n + 80).min(tx.len())].iter().all(|&v| v == 0))
            .unwrap();
        assert!(
            (at..at + 100).contains(&tone_end),
            "tone ends at {tone_end}, offered at {at}"
        );
        let tones = detect(ct::MODEM_CONNECT_TONES_ANSAM_PR, &tx[..tone_end + FS / 10]);
        assert_eq!(tones.len(), 2, "{tones:?}");
        assert_eq!(tones[0].code, ct::MODEM_CONNECT_TONES_ANSAM_PR, "{tones:?}");
        assert!(
            tones[0].sample as usize > SILENCE + 3 * REVERSAL,
            "{tones:?}"
        );
        assert_eq!(tones[1].code, ct::MODEM_CONNECT_TONES_NONE, "{tones:?}");

        // 75 ms of silence, then JM on channel 2, sequence after sequence.
        let fsk_start = (tone_end..tx.len()).find(|&n| tx[n] != 0).unwrap();
        let gap = fsk_start - tone_end;
        assert!((590..=610).contains(&gap), "silence of {gap} samples");
        let (jms, carrier_on) = demodulate(Channel::TWO, &tx);
        assert!(carrier_on.unwrap() as usize > fsk_start, "{carrier_on:?}");
        // All but the last, which the end of the run may cut.
        let whole = &jms[..jms.len() - 1];
        assert!(whole.len() >= 10, "{jms:?}");
        for jm in whole {
            assert_eq!(jm.sequence, Sequence::CmJm, "{jms:?}");
            assert_eq!(jm.octets, OUR_JM, "{jms:?}");
        }
        // Nothing on channel 1.
        assert!(demodulate(Channel::ONE, &tx).0.is_empty());
    }

    /// spandsp leaves the choice of modes to the application: without the
    /// result handler narrowing them, its JM offers every mode of our CM,
    /// V.21 (`90`) included, though the answerer was not set up for V.21.
    #[test]
    fn without_narrowing_spandsps_jm_copies_our_cms_modes() {
        let (answerer, tx) = answer_our_cm(None);
        assert_eq!(answerer.results().len(), 1);
        assert_eq!(answerer.results()[0].status, V8_STATUS_V8_OFFERED);
        let (jms, _) = demodulate(Channel::TWO, &tx);
        assert!(jms.len() >= 10, "{jms:?}");
        for jm in &jms[..jms.len() - 1] {
            assert_eq!(
                jm.octets,
                [0xC1, 0x65, 0x13, 0x90, 0x2A, 0x8D, 0x47],
                "{jms:?}"
            );
        }
    }

    /// spandsp's caller takes our ANSam/ and JM. It recognises ANSam/ (about
    /// 1.35 s: at the third reversal), waits Te = 1 s and starts sending at
    /// sample 20418: two V.92 sequences, then CM (`C1 65 13 90 2A 27`)
    /// repeatedly, never CI. Our JM starts at sample 23000; after two
    /// identical JMs it finishes the CM it is sending, sends CJ, and only
    /// then, at sample 31400, makes its single callback: `V8_STATUS_V8_CALL`
    /// (no `V8_STATUS_V8_OFFERED` on the caller) with the JM's fields and
    /// `modem_connect_tone` = ANSam/ (`send_ci`, `v92` read 0).
    ///
    /// spandsp quirk seen here: at about sample 28330, when it has heard the
    /// second JM, the caller's V.21 bit clock jumps by about a third of a bit
    /// in the middle of a CM, and the line carries one extra mark bit there,
    /// so that CM ends in a framing error after `2A` (spandsp's own bit tap,
    /// before its modulator, cannot show this).
    #[test]
    fn spandsp_caller_takes_our_ansam_pr_and_jm() {
        let mut x = vec![0f32; 6 * FS];
        answer_tone(AnswerTone::AnsamPr, 2.6, &mut x[SILENCE..]);
        // V.8 §8.2.3: 75 ms of silence between ANSam and JM.
        let jm_at = SILENCE + 26 * FS / 10 + 600;
        repeated(Channel::TWO, &OUR_JM, &mut x[jm_at..]);
        let mut caller = V8::new(true, &caller_parms());
        let tx = run(&mut caller, &to_i16(&x));

        let results = caller.results();
        assert_eq!(results.len(), 1, "{results:?}");
        let r = results[0];
        let at = caller.result_samples()[0] as usize;
        assert_eq!(r.status, V8_STATUS_V8_CALL, "{r:?}");
        assert_eq!(r.modem_connect_tone, MODEM_CONNECT_TONES_ANSAM_PR, "{r:?}");
        assert_eq!(r.call_function, V8_CALL_V_SERIES, "{r:?}");
        assert_eq!(r.modulations, ANSWERER_MODULATIONS, "{r:?}");
        assert_eq!(r.protocol, V8_PROTOCOL_LAPM_V42, "{r:?}");
        assert_eq!(r.pstn_access, V8_PSTN_ACCESS_DCE_ON_DIGITAL, "{r:?}");
        assert_eq!(
            r.pcm_modem_availability, V8_PSTN_PCM_MODEM_V90_V92_DIGITAL,
            "{r:?}"
        );
        assert!(at > jm_at + 2 * SEQ_SAMPLES, "V.8 call at {at}");

        // Silent until it recognised ANSam/ (at the third reversal) plus 1 s.
        let first = tx.iter().position(|&v| v != 0).unwrap();
        let recognised = SILENCE + 3 * REVERSAL;
        assert!(
            (recognised + FS..recognised + FS + 400).contains(&first),
            "caller starts at {first}"
        );
        // Its channel 1: V.92, V.92, CMs, CJ — no CI — and silence after CJ.
        let (seqs, _) = demodulate(Channel::ONE, &tx);
        let kinds: Vec<Sequence> = seqs.iter().map(|s| s.sequence).collect();
        assert_eq!(kinds[..2], [Sequence::V92, Sequence::V92], "{seqs:?}");
        assert_eq!(kinds.last(), Some(&Sequence::Cj), "{seqs:?}");
        let cms = &seqs[2..seqs.len() - 1];
        assert!(cms.iter().all(|s| s.sequence == Sequence::CmJm), "{seqs:?}");
        assert!(
            cms.iter().filter(|s| s.octets == SPANDSP_CM).count() >= 2,
            "{seqs:?}"
        );
        let last = tx.iter().rposition(|&v| v != 0).unwrap();
        assert!(last < at, "sends until {last}, V.8 call at {at}");
    }

    /// Our negotiator and a spandsp V.8 instance facing each other on a
    /// 4-wire line with one sample of delay each way, for `seconds`: our
    /// reports (sample, kind, fields).
    fn face(ours: &mut Negotiator, theirs: &mut V8, seconds: usize) -> Vec<NegotiatorReport> {
        let (mut to_ours, mut to_theirs) = (0f32, 0i16);
        let mut reports = Vec::new();
        for _ in 0..seconds * FS {
            let mut y = [0f32];
            ours.process(&[to_ours], &mut y);
            reports.extend_from_slice(ours.reports());
            let mut t = [0i16];
            theirs.tx(&mut t);
            theirs.rx(&[to_theirs]);
            to_theirs = to_i16(&y)[0];
            to_ours = f32::from(t[0]) / 32768.0;
        }
        reports
    }

    fn negotiator(role: Role, modes: &[&str], pcm: Pcm) -> Negotiator {
        Negotiator::new(Config {
            role,
            offer: Offer::new(modes, pcm, true).unwrap(),
            answer_tone: AnswerTone::AnsamPr,
            te_s: 1.0,
            level_dbm0: -13.0,
            timeout_s: 10.0,
        })
    }

    fn event<'a>(r: &'a [NegotiatorReport], kind: &str) -> &'a serde_json::Value {
        &r.iter()
            .find(|(_, k, _)| *k == kind)
            .unwrap_or_else(|| panic!("no `{kind}` in {r:?}"))
            .2
    }

    /// Our caller against spandsp's answerer, live: spandsp accepts our CM
    /// (V8_OFFERED with every field of it), answers with JM, and ends the
    /// call as V.8 (V8_CALL) on our CJ; we agree on V.90 as the analogue
    /// modem, having read spandsp's JM.
    #[test]
    fn our_caller_negotiates_v90_with_spandsps_answerer() {
        let mut ours = negotiator(
            Role::Caller,
            &["v90", "v34", "v32bis", "v22bis", "v21"],
            Pcm::Analogue,
        );
        let mut theirs = V8::with_narrowing(false, &answerer_parms(), Some(ANSWERER_MODULATIONS));
        let reports = face(&mut ours, &mut theirs, 8);
        let statuses: Vec<i32> = theirs.results().iter().map(|p| p.status).collect();
        assert_eq!(
            statuses,
            [V8_STATUS_V8_OFFERED, V8_STATUS_V8_CALL],
            "{:?}",
            theirs.results()
        );
        let offered = theirs.results()[0];
        assert_eq!(offered.call_function, V8_CALL_V_SERIES);
        assert_eq!(offered.modulations, CALLER_MODULATIONS);
        assert_eq!(offered.protocol, V8_PROTOCOL_LAPM_V42);
        assert_eq!(offered.pstn_access, 0);
        assert_eq!(
            offered.pcm_modem_availability,
            V8_PSTN_PCM_MODEM_V90_V92_ANALOGUE
        );
        let agreed = event(&reports, "agreed");
        assert_eq!(agreed["mode"], "v90", "{agreed}");
        assert_eq!(agreed["pcm_role"], "analogue");
        assert_eq!(agreed["cm"], "C1 65 13 90 2A 0D 27");
        assert_eq!(agreed["jm"], "C1 65 13 10 2A 8D 47");
        // spandsp ends V.8 on our CJ, after we finished it.
        let call_at = theirs.result_samples()[1];
        let cj_at = reports
            .iter()
            .find(|(_, k, f)| *k == "sending" && f["signal"] == "silence")
            .map(|r| r.0)
            .unwrap();
        assert!(
            call_at >= cj_at && call_at < cj_at + 400,
            "CJ out at {cj_at}, V8_CALL at {call_at}"
        );
    }

    /// spandsp's caller against our answerer, live: it recognises our ANSam/
    /// (its result names the tone), sends CM after Te, reads our JM twice,
    /// sends CJ and reports V8_CALL with our JM's fields; we read its CM
    /// (after its two V.92 sequences) and agree on V.90 as the digital modem.
    #[test]
    fn spandsps_caller_negotiates_v90_with_our_answerer() {
        let mut ours = negotiator(
            Role::Answerer,
            &["v90", "v34", "v32bis", "v22bis"],
            Pcm::Digital,
        );
        let mut theirs = V8::new(true, &caller_parms());
        let reports = face(&mut ours, &mut theirs, 8);
        let results = theirs.results();
        assert_eq!(results.len(), 1, "{results:?}");
        let call = results[0];
        assert_eq!(call.status, V8_STATUS_V8_CALL);
        assert_eq!(call.modem_connect_tone, MODEM_CONNECT_TONES_ANSAM_PR);
        assert_eq!(call.call_function, V8_CALL_V_SERIES);
        assert_eq!(call.modulations, ANSWERER_MODULATIONS);
        assert_eq!(call.protocol, V8_PROTOCOL_LAPM_V42);
        assert_eq!(call.pstn_access, V8_PSTN_ACCESS_DCE_ON_DIGITAL);
        assert_eq!(
            call.pcm_modem_availability,
            V8_PSTN_PCM_MODEM_V90_V92_DIGITAL
        );
        let agreed = event(&reports, "agreed");
        assert_eq!(agreed["mode"], "v90", "{agreed}");
        assert_eq!(agreed["pcm_role"], "digital");
        assert_eq!(agreed["cm"], "C1 65 13 90 2A 27");
        assert_eq!(agreed["jm"], "C1 65 13 10 2A 8D 47");
        // Its V.92 sequences were read, and not taken for a CM.
        assert!(reports
            .iter()
            .any(|(_, k, f)| *k == "received" && f["message"] == "v92"));
    }
}
