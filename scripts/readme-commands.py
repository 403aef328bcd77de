#!/usr/bin/env python3
"""Runs every `cargo run` line of the README's ```sh blocks, as written.

A README command that no longer runs is a bug a newcomer meets first, so CI
runs them all (`.ci/run`). For each line:

* continuation lines (ending in a backslash) are joined;
* a trailing `# comment` is dropped;
* a line with optional arguments written `[--set channel=2]` runs twice:
  without them (and its output is checked), then with them (the brackets
  removed), so the options the README offers are exercised too;
* placeholders are replaced by small real inputs (`call.wav` by a recording
  from tests/data);
* the editor (`-p modemflow-gui`) runs under xvfb-run with `--exit-after`;
* the comment lines that follow a command and show its output
  (`# {"block":...}`, with `...` for what is left out) must match what the
  command printed on stdout.

Usage: scripts/readme-commands.py [README] [--list]
Exit status: 0 when every command exits 0 and prints what the README shows.
"""

import os
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Placeholders in README commands and the real inputs that stand for them.
PLACEHOLDERS = {
    "call.wav": "tests/data/recordings/v90-USR-Sportster-bong-bong.wav",
}
# Seconds the editor stays open before it exits on its own.
GUI_SECONDS = "4"


def sh_blocks(text):
    """The bodies of the ```sh fenced blocks, with their first line numbers."""
    blocks, body, start, inside = [], [], 0, False
    for n, line in enumerate(text.splitlines(), 1):
        if not inside and line.strip() in ("```sh", "```bash"):
            inside, body, start = True, [], n + 1
        elif inside and line.strip() == "```":
            inside = False
            blocks.append((start, body))
        elif inside:
            body.append(line)
    return blocks


def commands(text):
    """(line, command, expected output patterns) for each `cargo run` line."""
    found = []
    for start, body in sh_blocks(text):
        i = 0
        while i < len(body):
            line, n = body[i], start + i
            i += 1
            while line.rstrip().endswith("\\") and i < len(body):
                line = line.rstrip()[:-1] + " " + body[i].strip()
                i += 1
            cmd = strip_comment(line).strip()
            if not cmd.startswith("cargo run"):
                continue
            expected = []
            while i < len(body) and body[i].lstrip().startswith("#"):
                shown = body[i].lstrip()[1:].strip()
                if shown.startswith("{") or shown.startswith("..."):
                    expected.append(shown)
                i += 1
            found.append((n, cmd, expected))
    return found


def strip_comment(line):
    """The line without a `#` comment outside quotes."""
    quote = None
    for k, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (k == 0 or line[k - 1].isspace()):
            return line[:k]
    return line


def variants(cmd):
    """The command as it reads without its optional `[...]` arguments, and
    with them when it has any."""
    plain = re.sub(r"\s*\[[^\]]*\]", "", cmd)
    full = re.sub(r"\[([^\]]*)\]", r"\1", cmd)
    return [plain] if plain == full else [plain, full]


def runnable(cmd):
    """The argument list to run for one variant of a README command."""
    args = shlex.split(cmd)
    out = []
    for a in args:
        for name, real in PLACEHOLDERS.items():
            if a == name or a.endswith("=" + name):
                a = a[: len(a) - len(name)] + real
        out.append(a)
    if "modemflow-gui" in out:
        out += ["--exit-after", GUI_SECONDS]
        out = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"] + out
    return out


def pattern(shown):
    """A regular expression for the output a README comment shows: `...`
    stands for anything left out, and a space between two events for the
    line break between them."""
    parts = []
    for piece in shown.split("..."):
        words = piece.split()
        parts.append(r"\s*".join(re.escape(w) for w in words))
    return re.compile(".*?".join(parts), re.S)


def main():
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    readme = argv[0] if argv else os.path.join(ROOT, "README.md")
    with open(readme, encoding="utf-8") as f:
        cmds = commands(f.read())
    if "--list" in sys.argv:
        for n, cmd, expected in cmds:
            for k, v in enumerate(variants(cmd)):
                print(f"{readme}:{n}: {shlex.join(runnable(v))}")
                for e in expected if k == 0 else []:
                    print(f"    expects {e}")
        return 0
    if not cmds:
        print(f"{readme}: no `cargo run` lines found", file=sys.stderr)
        return 1
    runs = [
        (n, v, expected if k == 0 else [])
        for n, cmd, expected in cmds
        for k, v in enumerate(variants(cmd))
    ]
    failed = 0
    for n, cmd, expected in runs:
        args = runnable(cmd)
        t = time.monotonic()
        p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
        took = time.monotonic() - t
        problems = []
        if p.returncode != 0:
            problems.append(f"exit status {p.returncode}")
        for e in expected:
            if not pattern(e).search(p.stdout):
                problems.append(f"no output like: {e}")
        status = "ok" if not problems else "FAILED"
        print(f"{readme}:{n}: {status} ({took:.1f} s) {cmd}", flush=True)
        if problems:
            failed += 1
            for pr in problems:
                print(f"    {pr}")
            tail = (p.stderr.strip().splitlines() or [""])[-12:]
            print("    stderr: " + "\n    ".join(tail))
            print("    stdout: " + "\n    ".join(p.stdout.strip().splitlines()[-6:]))
    print(f"{len(runs) - failed} of {len(runs)} README command runs did as written")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
