//! Every registered block survives arbitrary input: random values (not only
//! 0/1 on bit ports, extreme samples, NaN and infinities on f32), random
//! chunking and an abrupt end of stream. It may report an error; it must not
//! panic.

use modemflow_flow::{BlockArgs, Buf, Input, ItemType, Output, PortType, Value, WorkIo};
use modemflow_tests::test_registry;
use num_complex::Complex32;
use proptest::prelude::*;

fn random_buf(t: ItemType, bytes: &[u8]) -> Buf {
    match t {
        ItemType::Bit | ItemType::Octet => Buf::U8(bytes.to_vec()),
        ItemType::I16 => Buf::I16(
            bytes
                .chunks(2)
                .map(|c| i16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect(),
        ),
        ItemType::F32 => Buf::F32(bytes.iter().map(|&b| special(b)).collect()),
        ItemType::C32 => Buf::C32(
            bytes
                .iter()
                .map(|&b| Complex32::new(special(b), special(b.wrapping_mul(7))))
                .collect(),
        ),
    }
}

fn special(b: u8) -> f32 {
    match b {
        0 => f32::NAN,
        1 => f32::INFINITY,
        2 => f32::NEG_INFINITY,
        3 => f32::MAX,
        4 => -f32::MAX,
        5 => f32::MIN_POSITIVE,
        _ => (b as f32 - 128.0) / 64.0,
    }
}

fn required(name: &str, dir: &std::path::Path) -> Option<Value> {
    match name {
        "count" => Some(Value::Int(1000)),
        "key" => Some(Value::Str("never_panic".into())),
        "path" => Some(Value::Str(dir.join("np.wav").display().to_string())),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn no_block_panics_on_any_input(data in proptest::collection::vec(any::<u8>(), 0..3000), cut in 1usize..700, space in 1usize..5000) {
        let reg = test_registry();
        let dir = std::env::temp_dir().join(format!("mf-np-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for spec in reg.all() {
            if spec.name == "wav_source" {
                continue; // reads a file; its bad-file handling is tested in blocks/
            }
            let params: Vec<(&str, Value)> = spec
                .params
                .iter()
                .filter(|p| p.default.is_none())
                .filter_map(|p| required(p.name, &dir).map(|v| (p.name, v)))
                .collect();
            let mut args = BlockArgs::from_spec(spec, &params).unwrap();
            let resolve = |t: PortType| match t {
                PortType::Fixed(t) => t,
                PortType::Generic(_) => ItemType::F32,
            };
            args.input_types = spec.inputs.iter().map(|p| resolve(p.ty)).collect();
            args.output_types = spec.outputs.iter().map(|p| resolve(p.ty)).collect();
            let mut block = (spec.factory)(&args).unwrap();
            let mut ins: Vec<Input> = args.input_types.iter().map(|t| Input::new(*t)).collect();
            let mut outs: Vec<Output> = args.output_types.iter().map(|t| Output::new(*t, space)).collect();
            let mut events = Vec::new();
            let mut fed = 0;
            for step in 0..200 {
                if fed < data.len() {
                    let end = (fed + cut).min(data.len());
                    for (k, inp) in ins.iter_mut().enumerate() {
                        inp.push(&random_buf(args.input_types[k], &data[fed..end]));
                    }
                    fed = end;
                } else {
                    for inp in ins.iter_mut() {
                        inp.set_eos();
                    }
                }
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut io = WorkIo::new(&mut ins, &mut outs, &mut events);
                    block.work(&mut io)
                }));
                prop_assert!(r.is_ok(), "{} panicked at step {step}", spec.name);
                if let Ok(Err(_)) | Ok(Ok(modemflow_flow::Status::Done)) = r {
                    break;
                }
                for o in outs.iter_mut() {
                    let fresh = o.buf_mut().empty_like(space);
                    o.take(fresh);
                }
                for inp in ins.iter_mut() {
                    inp.compact();
                }
            }
        }
    }
}
