#!/usr/bin/env bash
# The editor's responsiveness under Xvfb (software OpenGL, this machine's
# two cores), as docs/performance.md reports it:
#  1. frames per second while graphs/v90_downstream.yaml runs flat out with
#     three probes open (the window redrawing as fast as it can);
#  2. how long the same graph takes to carry 3000 s of signal in the editor,
#     with no probe and with the three probes (alternating, ROUNDS times), so
#     the probes' cost to the graph is a ratio measured in one run.
#   scripts/gui-responsiveness.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
bin="${CARGO_TARGET_DIR:-target}/release/modemflow-gui"
[ -x "$bin" ] || cargo build --release -p modemflow-gui
XDG_RUNTIME_DIR=$(mktemp -d)
export XDG_RUNTIME_DIR
probes=(--probe line.out:spectrum --probe receiver.ucodes:ucode --probe dac.out:scope)
gui() { xvfb-run -a -s "-screen 0 1280x800x24" "$bin" graphs/v90_downstream.yaml "$@" 2>&1 | grep 'frames/s' | tail -1; }
echo "== frames/s with the loopback running flat out and three probes (10 s each)"
for _ in $(seq "$rounds"); do gui --set seconds=100000 --run "${probes[@]}" --exit-after 10; done
echo "== the graph carrying 3000 s of signal in the editor: no probe, then three probes"
for _ in $(seq "$rounds"); do
  gui --set seconds=3000 --run --exit-when-done
  gui --set seconds=3000 --run --exit-when-done "${probes[@]}"
done
