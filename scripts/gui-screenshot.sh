#!/usr/bin/env bash
# A real window under Xvfb: modemflow-gui opens graphs/v90_downstream.yaml
# and runs it with three probes open; a screenshot of the screen is taken and
# checked not to be blank (many colours, real contrast).
#   scripts/gui-screenshot.sh [OUT.png]
# Needs xvfb-run and ImageMagick (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${CARGO_TARGET_DIR:-target}/gui-screenshot.png}"
bin="${CARGO_TARGET_DIR:-target}/release/modemflow-gui"
[ -x "$bin" ] || cargo build --release -p modemflow-gui
XDG_RUNTIME_DIR=$(mktemp -d)
export XDG_RUNTIME_DIR
rm -f "$out"
# Long enough that the graph is still running when the picture is taken.
xvfb-run -a -s "-screen 0 1280x800x24" sh -c "
  '$bin' graphs/v90_downstream.yaml --set seconds=3600 --run \
    --probe line.out:spectrum --probe receiver.ucodes:ucode --probe dac.out:scope \
    --exit-after 10 &
  sleep 7
  import -window root '$out'
  wait"
colours=$(convert "$out" -format '%k' info:)
sd=$(convert "$out" -colorspace Gray -format '%[fx:standard_deviation]' info:)
echo "$out: $colours colours, grey standard deviation $sd"
if [ "$colours" -lt 200 ] || ! awk -v s="$sd" 'BEGIN { exit !(s > 0.05) }'; then
  echo "error: the screenshot looks blank" >&2
  exit 1
fi
