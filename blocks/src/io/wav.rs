//! WAV file source and sink (`wav_source`, `wav_sink`).

use super::resample::resample;
use crate::core::convert::{f32_to_i16, i16_to_f32};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// The rate of every stream.
pub const RATE: u32 = 8000;
/// Input rates the source accepts.
pub const MIN_RATE: u32 = 8000;
pub const MAX_RATE: u32 = 48000;

fn name(path: &Path) -> String {
    path.display().to_string()
}

/// Reads one channel (1-based) of an 8- or 16-bit PCM WAV file as 16-bit
/// samples at 8000 Hz. 8-bit samples are scaled to the 16-bit range; other
/// rates go through the band-limited resampler.
pub fn read_wav(path: &Path, channel: u16) -> Result<Vec<i16>, String> {
    let fix = "convert it with e.g. `sox in.wav -b 16 -e signed -r 8000 out.wav`";
    let mut reader = hound::WavReader::open(path)
        .map_err(|e| format!("cannot open {}: {}", name(path), reason(&e)))?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Int || !matches!(spec.bits_per_sample, 8 | 16) {
        let kind = match spec.sample_format {
            hound::SampleFormat::Float => "floating-point",
            hound::SampleFormat::Int => "integer",
        };
        return Err(format!(
            "cannot read {}: {}-bit {kind} samples are not supported (only 8-bit unsigned or \
             16-bit signed PCM); {fix}",
            name(path),
            spec.bits_per_sample
        ));
    }
    if !(MIN_RATE..=MAX_RATE).contains(&spec.sample_rate) {
        return Err(format!(
            "cannot read {}: its sample rate {} Hz is outside {MIN_RATE} … {MAX_RATE} Hz; {fix}",
            name(path),
            spec.sample_rate
        ));
    }
    if channel == 0 || channel > spec.channels {
        return Err(format!(
            "cannot read channel {channel} of {}: the file has {} channel(s); set `channel` to \
             1 … {}",
            name(path),
            spec.channels,
            spec.channels
        ));
    }
    let shift = if spec.bits_per_sample == 8 { 8 } else { 0 };
    let (stride, skip) = (usize::from(spec.channels), usize::from(channel - 1));
    let mut mono = Vec::with_capacity(reader.len() as usize / stride);
    for (i, s) in reader.samples::<i16>().enumerate() {
        let s = s.map_err(|e| {
            format!(
                "cannot read {}: {} (is the file cut short?)",
                name(path),
                reason(&e)
            )
        })?;
        if i % stride == skip {
            mono.push(s << shift);
        }
    }
    if spec.sample_rate == RATE {
        return Ok(mono);
    }
    let mut x = vec![0.0f32; mono.len()];
    i16_to_f32(&mono, &mut x);
    let y = resample(&x, spec.sample_rate, RATE);
    let mut out = vec![0i16; y.len()];
    f32_to_i16(&y, &mut out);
    Ok(out)
}

fn reason(e: &hound::Error) -> String {
    match e {
        hound::Error::IoError(io) => io.to_string(),
        other => format!("not a valid WAV file ({other})"),
    }
}

struct WavSource {
    samples: Vec<i16>,
    pos: usize,
    repeat: bool,
}

impl Block for WavSource {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let out = &mut io.outputs[0];
        let mut space = out.space();
        let v = out.items::<i16>();
        while space > 0 {
            if self.pos == self.samples.len() {
                if self.repeat && !self.samples.is_empty() {
                    self.pos = 0;
                } else {
                    return Ok(Status::Done);
                }
            }
            let n = space.min(self.samples.len() - self.pos);
            v.extend_from_slice(&self.samples[self.pos..self.pos + n]);
            self.pos += n;
            space -= n;
        }
        if self.pos == self.samples.len() && !self.repeat {
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

fn make_source(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let path = args.path("path")?;
    let ch = args.int("channel")?;
    let channel = u16::try_from(ch)
        .ok()
        .filter(|&c| c >= 1)
        .ok_or_else(|| format!("`channel` = {ch} must be 1 or more (channels count from 1)"))?;
    Ok(Box::new(WavSource {
        samples: read_wav(&path, channel)?,
        pos: 0,
        repeat: args.bool("repeat")?,
    }))
}

/// Writes its file from the first work call on: building the block (as
/// `modemflow check` does) only checks that the folder exists, so checking a
/// graph leaves no files behind.
struct WavSink {
    path: std::path::PathBuf,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    /// True once the file has been created (and, after finishing, stays so).
    created: bool,
}

const SINK_SPEC: hound::WavSpec = hound::WavSpec {
    channels: 1,
    sample_rate: RATE,
    bits_per_sample: 16,
    sample_format: hound::SampleFormat::Int,
};

impl WavSink {
    fn writer(&mut self) -> Result<&mut hound::WavWriter<BufWriter<File>>, String> {
        if !self.created {
            self.created = true;
            let w = hound::WavWriter::create(&self.path, SINK_SPEC).map_err(|e| {
                format!(
                    "cannot create {}: {} (check that the folder exists and is writable)",
                    name(&self.path),
                    reason(&e)
                )
            })?;
            self.writer = Some(w);
        }
        self.writer
            .as_mut()
            .ok_or_else(|| format!("{} is already finished", name(&self.path)))
    }

    fn finalize(&mut self) -> Result<(), String> {
        match self.writer.take() {
            Some(w) => w
                .finalize()
                .map_err(|e| format!("cannot finish {}: {}", name(&self.path), reason(&e))),
            None => Ok(()),
        }
    }
}

impl Block for WavSink {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let n = io.inputs[0].available();
        let path = name(&self.path);
        let w = self.writer()?;
        let mut iw = w.get_i16_writer(n as u32);
        for &s in io.inputs[0].items::<i16>() {
            iw.write_sample(s);
        }
        iw.flush()
            .map_err(|e| format!("cannot write {}: {}", path, reason(&e)))?;
        io.inputs[0].consume(n);
        if io.inputs[0].finished() {
            self.finalize()?;
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

impl Drop for WavSink {
    fn drop(&mut self) {
        // An interrupted run still leaves a readable file.
        let _ = self.finalize();
    }
}

fn make_sink(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let path = args.path("path")?;
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = folder {
        if !dir.is_dir() {
            return Err(format!(
                "cannot create {}: the folder {} does not exist (create it, or choose another path)",
                name(&path),
                dir.display()
            ));
        }
    }
    Ok(Box::new(WavSink {
        path,
        writer: None,
        created: false,
    }))
}

pub fn spec_source() -> BlockSpec {
    BlockSpec::new(
        "wav_source",
        "File I/O",
        "samples from a WAV file",
        make_source,
    )
    .doc(
        "Reads one channel of an 8-bit unsigned or 16-bit signed PCM WAV file at 8000 … \
             48000 Hz and delivers it at 8000 Hz. Other rates are converted with a \
             windowed-sinc resampler whose passband ends below 3.8 kHz. 8-bit samples are \
             scaled to the 16-bit range (×256). The whole file is read when the graph is \
             built, so a bad file is reported before anything runs. Ends at the end of the \
             file unless `repeat` is set.",
    )
    .param(ParamSpec::path(
        "path",
        "the WAV file: relative to the flowgraph file when written there, to the current directory when given with --set",
    ))
    .param(
        ParamSpec::int("channel", "channel to read, counting from 1")
            .default(1)
            .range(1.0, 65535.0),
    )
    .param(ParamSpec::bool("repeat", "start again at the end, forever").default(false))
    .output(PortSpec::new("out", ItemType::I16, "samples at 8000 Hz"))
}

pub fn spec_sink() -> BlockSpec {
    BlockSpec::new(
        "wav_sink",
        "File I/O",
        "writes samples to a WAV file",
        make_sink,
    )
    .doc(
        "Writes a 16-bit mono 8000 Hz PCM WAV file. The header is completed at end of \
             stream, and also if the run stops early, so the file is always readable. The \
             file is created when the run starts writing; building the graph (as `modemflow \
             check` does) only checks that its folder exists, so checking leaves no file.",
    )
    .param(ParamSpec::output_path(
        "path",
        "the WAV file to create (replaced if it exists), relative to the current directory",
    ))
    .input(PortSpec::new("in", ItemType::I16, "samples at 8000 Hz"))
}

pub fn register(r: &mut Registry) {
    r.register(spec_source());
    r.register(spec_sink());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chunked, items, make, run};
    use modemflow_flow::Value;
    use std::f64::consts::PI;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn tmp(tag: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!(
            "modemflow-wav-{}-{n}-{tag}.wav",
            std::process::id()
        ))
    }

    fn write(path: &Path, rate: u32, bits: u16, channels: &[Vec<i16>]) {
        let spec = hound::WavSpec {
            channels: channels.len() as u16,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..channels[0].len() {
            for c in channels {
                if bits == 8 {
                    w.write_sample(c[i] as i8).unwrap();
                } else {
                    w.write_sample(c[i]).unwrap();
                }
            }
        }
        w.finalize().unwrap();
    }

    fn source(path: &Path, extra: &[(&str, Value)]) -> Result<Vec<i16>, String> {
        let mut p = vec![("path", Value::from(path.to_str().unwrap()))];
        p.extend(extra.iter().cloned());
        let mut b = make(&spec_source(), &p)?;
        let r = run(&mut *b, None, &[], &[ItemType::I16], 1000, 1_000_000)?;
        Ok(items(&r.outputs[0]))
    }

    fn sine(rate: u32, hz: f64, amp: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * PI * hz * i as f64 / f64::from(rate)).sin()).round() as i16)
            .collect()
    }

    /// Amplitude of the `hz` component (least squares over whole periods).
    fn amplitude(x: &[i16], hz: f64) -> f64 {
        let (mut c, mut s) = (0.0, 0.0);
        for (i, &v) in x.iter().enumerate() {
            let w = 2.0 * PI * hz * i as f64 / 8000.0;
            c += f64::from(v) * w.cos();
            s += f64::from(v) * w.sin();
        }
        2.0 * (c * c + s * s).sqrt() / x.len() as f64
    }

    #[test]
    fn sink_then_source_round_trip() {
        let p = tmp("rt");
        let x: Vec<i16> = (0..20_000)
            .map(|i| (i * 7919 % 65536 - 32768) as i16)
            .collect();
        let mut sink = make(&spec_sink(), &[("path", Value::from(p.to_str().unwrap()))]).unwrap();
        run(
            &mut *sink,
            Some(ItemType::I16),
            &chunked(&x, &[1, 5000]),
            &[],
            0,
            0,
        )
        .unwrap();
        assert_eq!(source(&p, &[]).unwrap(), x);
        let rep = source(&p, &[("repeat", Value::Bool(true))]).unwrap();
        assert!(rep.len() >= 1_000_000);
        assert_eq!(rep[20_000..40_000], x);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn building_a_sink_creates_no_file() {
        let p = tmp("lazy");
        let _ = std::fs::remove_file(&p);
        let sink = make(&spec_sink(), &[("path", Value::from(p.to_str().unwrap()))]).unwrap();
        assert!(!p.exists());
        drop(sink);
        assert!(!p.exists(), "a sink that never ran leaves nothing behind");
    }

    #[test]
    fn dropped_sink_leaves_a_valid_file() {
        let p = tmp("drop");
        let mut sink = make(&spec_sink(), &[("path", Value::from(p.to_str().unwrap()))]).unwrap();
        let mut ins = vec![modemflow_flow::Input::new(ItemType::I16)];
        ins[0].push(&modemflow_flow::Buf::I16(vec![1, 2, 3]));
        let mut events = Vec::new();
        sink.work(&mut WorkIo::new(&mut ins, &mut [], &mut events))
            .unwrap();
        drop(sink);
        assert_eq!(source(&p, &[]).unwrap(), vec![1, 2, 3]);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn stereo_16k_channel_two_tone() {
        let p = tmp("st");
        let n = 32_000;
        write(
            &p,
            16_000,
            16,
            &[vec![0; n], sine(16_000, 1000.0, 10_000.0, n)],
        );
        let ch2 = source(&p, &[("channel", Value::Int(2))]).unwrap();
        assert_eq!(ch2.len(), n / 2);
        let mid = &ch2[2000..14_000];
        let db = 20.0 * (amplitude(mid, 1000.0) / 10_000.0).log10();
        assert!(db.abs() < 0.2, "{db} dB");
        let ch1 = source(&p, &[("channel", Value::Int(1))]).unwrap();
        assert!(ch1.iter().all(|&v| v == 0));
        let e = source(&p, &[("channel", Value::Int(3))]).unwrap_err();
        assert!(e.contains("2 channel"), "{e}");
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn rates_44100_and_48000_and_aliasing() {
        for rate in [44_100u32, 48_000, 11_025] {
            let p = tmp("r");
            let n = rate as usize * 2;
            write(&p, rate, 16, &[sine(rate, 1000.0, 8000.0, n)]);
            let y = source(&p, &[]).unwrap();
            assert_eq!(
                y.len(),
                (n as u64 * 8000).div_ceil(u64::from(rate)) as usize
            );
            let db = 20.0 * (amplitude(&y[2000..14_000], 1000.0) / 8000.0).log10();
            assert!(db.abs() < 0.2, "{rate}: {db} dB");
            std::fs::remove_file(&p).unwrap();
        }
        // A 5 kHz tone would fold to 3 kHz; the resampler removes it.
        let p = tmp("alias");
        write(&p, 48_000, 16, &[sine(48_000, 5000.0, 8000.0, 96_000)]);
        let y = source(&p, &[]).unwrap();
        let db = 20.0 * (amplitude(&y[2000..14_000], 3000.0) / 8000.0).log10();
        assert!(db < -50.0, "{db} dB");
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn eight_bit_file() {
        let p = tmp("u8");
        let x: Vec<i16> = vec![0, 127, -128, 64, -1];
        write(&p, 8000, 8, std::slice::from_ref(&x));
        let y = source(&p, &[]).unwrap();
        assert_eq!(y, x.iter().map(|v| v * 256).collect::<Vec<_>>());
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn bad_files_give_errors() {
        let missing = std::env::temp_dir().join("modemflow-no-such-file.wav");
        let e = source(&missing, &[]).unwrap_err();
        assert!(
            e.contains("cannot open") && e.contains("modemflow-no-such-file.wav"),
            "{e}"
        );

        let p = tmp("garbage");
        std::fs::write(
            &p,
            (0..1000u32)
                .map(|i| (i * 37 % 251) as u8)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(source(&p, &[]).unwrap_err().contains("not a valid WAV"));

        write(&p, 8000, 16, &[vec![5; 1000]]);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2 + 1]).unwrap();
        let e = source(&p, &[]).unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
        std::fs::write(&p, &bytes[..20]).unwrap();
        assert!(source(&p, &[]).is_err());

        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        w.write_sample(1i32).unwrap();
        w.finalize().unwrap();
        let e = source(&p, &[]).unwrap_err();
        assert!(e.contains("24-bit") && e.contains("sox"), "{e}");

        write(&p, 96_000, 16, &[vec![0; 10]]);
        assert!(source(&p, &[]).unwrap_err().contains("96000 Hz"));
        std::fs::remove_file(&p).unwrap();

        let e = make(
            &spec_sink(),
            &[("path", Value::from("/nonexistent-dir/x.wav"))],
        )
        .err()
        .unwrap();
        assert!(e.contains("cannot create"), "{e}");
    }
}
