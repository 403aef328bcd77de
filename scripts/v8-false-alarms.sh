#!/usr/bin/env bash
# Runs graphs/v8_decode.yaml over 10 minutes of synthetic speech (espeak-ng)
# and about 7 minutes of call-progress tones, DTMF and noise, and counts the
# V.8 detections it makes there (there should be none; `carrier` events are
# the demodulators' carrier detect, not detections).
# Needs: espeak-ng (Debian package espeak-ng), python3, a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/modemflow"
work="$(mktemp -d)"
python3 - "$work" <<'PY'
import math, random, struct, sys, wave
work = sys.argv[1]
random.seed(7)
words = ("the modem answered the call and the line went quiet before the tones began again "
         "people were talking about the weather the price of bread and the train that was late "
         "this morning one two three four five six seven eight nine ten hello can you hear me now "
         "yes I can hear you very well thank you").split()
open(f"{work}/speech.txt", "w").write(" ".join(random.choice(words) for _ in range(2200)))
fs = 8000
def tone(freqs, dur, amp=0.2):
    return [sum(amp * math.sin(2 * math.pi * f * i / fs) for f in freqs) for i in range(int(dur * fs))]
def silence(dur):
    return [0.0] * int(dur * fs)
x = []
for _ in range(25):
    x += tone([440, 480], 2.0) + silence(4.0)          # ringback
x += tone([350, 440], 60.0)                            # dial tone
for _ in range(60):
    x += tone([480, 620], 0.5) + silence(0.5)          # busy
for _ in range(60):                                    # DTMF digits
    x += tone([random.choice([697, 770, 852, 941]), random.choice([1209, 1336, 1477, 1633])], 0.1, 0.15) + silence(0.1)
x += [random.gauss(0, 0.05) for _ in range(120 * fs)]  # white noise
w = wave.open(f"{work}/tones.wav", "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(fs)
w.writeframes(struct.pack(f"<{len(x)}h", *[max(-32768, min(32767, int(v * 32767))) for v in x]))
w.close()
PY
espeak-ng -f "$work/speech.txt" -w "$work/speech.wav" -s 160
for f in speech tones; do
  printf '%s: ' "$f"
  "$bin" run graphs/v8_decode.yaml --set "input=$work/$f.wav" --quiet \
    | python3 -c 'import sys, json, collections; c = collections.Counter(json.loads(l)["event"] for l in sys.stdin); c.pop("carrier", None); print(dict(c) or "no V.8 detections")'
done
rm -rf "$work"
