#!/usr/bin/env python3
"""The README's commands work as written, and it documents every flag.

1. Every fenced block whose info string is `sh runnable` runs, in order, in one
   bash (`set -euo pipefail`) against the test bed, with the environment the
   README's setup block describes: CERTSWAP_PROJECT/SERVICE/USER/TOKEN_FILE for
   a fresh user, OUT, APP_PIDFILE (a process that takes SIGHUP), and certswap
   on PATH.
2. Every --flag that `certswap --help` or a subcommand's --help prints appears
   in the README.

Run by ctest (docs.readme) with CERTSWAP_TESTBED_DIR and CERTSWAP_BIN set.
"""
import json
import os
import re
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BIN = os.environ["CERTSWAP_BIN"]


def runnable_blocks(text):
    return [m.group(1) for m in re.finditer(r"^```sh runnable\n(.*?)^```", text, re.S | re.M)]


def create_user(tb, name):
    ctx = ssl.create_default_context(cafile=tb["api_ca"])
    body = json.dumps({"project": tb["project"], "service": tb["service"], "username": name})
    req = urllib.request.Request(tb["api_url"] + "/_testbed/users", data=body.encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    urllib.request.urlopen(req, context=ctx, timeout=30).read()


def check_blocks():
    tb = json.loads((Path(os.environ["CERTSWAP_TESTBED_DIR"]) / "testbed.json").read_text())
    blocks = runnable_blocks(README)
    if len(blocks) < 3:
        return [f"expected the README's runnable blocks, found {len(blocks)}"]
    user = f"docs-{secrets.token_hex(4)}"
    create_user(tb, user)
    with tempfile.TemporaryDirectory() as tmp:
        bindir = Path(tmp) / "bin"
        bindir.mkdir()
        (bindir / "certswap").symlink_to(BIN)
        app = subprocess.Popen([sys.executable, "-c",
                                "import signal, time\n"
                                "signal.signal(signal.SIGHUP, lambda *a: print('reload', flush=True))\n"
                                "time.sleep(600)"], stdout=subprocess.PIPE, text=True)
        pidfile = Path(tmp) / "app.pid"
        pidfile.write_text(f"{app.pid}\n")
        env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}",
                   CERTSWAP_API_URL=tb["api_url"], CERTSWAP_API_CA_FILE=tb["api_ca"],
                   CERTSWAP_TOKEN_FILE=tb["token_file"], CERTSWAP_PROJECT=tb["project"],
                   CERTSWAP_SERVICE=tb["service"], CERTSWAP_USER=user,
                   OUT=str(Path(tmp) / "kafka-creds"), APP_PIDFILE=str(pidfile))
        problems = []
        for i, block in enumerate(blocks):
            r = subprocess.run(["bash", "-c", "set -euo pipefail\n" + block], env=env,
                               capture_output=True, text=True, timeout=120)
            print(f"--- README block {i + 1} (exit {r.returncode}):\n{block}{r.stdout}{r.stderr}")
            if r.returncode != 0:
                problems.append(f"README block {i + 1} failed (exit {r.returncode}): {block.strip()}")
        app.send_signal(signal.SIGTERM)
        app.wait()
        return problems


def check_flags():
    helps = [subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout]
    for sub in ("rotate", "init", "run", "status", "validate"):
        helps.append(subprocess.run([BIN, sub, "--help"], capture_output=True, text=True).stdout)
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", "\n".join(helps))) - {"--help"}
    if len(flags) < 30:
        return [f"only {len(flags)} flags found in --help: the parser is broken"]
    return [f"{flag} (from --help) is not in README.md" for flag in sorted(flags)
            if not re.search(re.escape(flag) + r"(?![a-z0-9-])", README)]


def main():
    problems = check_flags() + check_blocks()
    for p in problems:
        print("FAIL:", p)
    print("docs: ok" if not problems else f"docs: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
