"""Apps under load: the C++ producer example through a rotation at high rates.

It runs the examples' own proof (tests/examples/test_hot_reload.py, the cpp
producer: a new principal, the old one's ACLs removed, the broker restarted)
with CERTSWAP_EXAMPLES_RATE raised, so "0 lost, 0 duplicated, in order" is the
test's own check of every message read back; this module only adds the rate
and prints what the producer measured. Latency is scheduled send to delivery
report; "during" is the window around the swap, "before" steady state.
"""
import json
import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SELECTOR = "test_producer_keeps_every_message_across_rotation and cpp"


def run_at(rate, testbed_dir, certswap, examples_bin, work):
    report = Path(work) / f"load-{rate}.jsonl"
    env = {**os.environ, "CERTSWAP_TESTBED_DIR": testbed_dir, "CERTSWAP_BIN": certswap,
           "CERTSWAP_EXAMPLES_BIN": examples_bin, "CERTSWAP_EXAMPLES_REPORT": str(report),
           "CERTSWAP_EXAMPLES_RATE": str(rate)}
    r = subprocess.run([str(ROOT / "tests/examples/run.sh"), "-k", SELECTOR], env=env,
                       capture_output=True, text=True, timeout=900)
    summary = json.loads(report.read_text().splitlines()[-1]) if report.exists() else None
    problem = ""
    if r.returncode != 0:
        lines = [l for l in r.stdout.splitlines() if "AssertionError" in l or l.startswith("E ")]
        problem = (lines[0] if lines else f"pytest exit {r.returncode}")[:160]
    return summary, problem


def app_load(testbed_dir, certswap, examples_bin, rates, table):
    rows, results = [], []
    with tempfile.TemporaryDirectory(prefix="certswap-load-") as work:
        for rate in rates:
            summary, problem = run_at(rate, testbed_dir, certswap, examples_bin, work)
            results.append(dict(rate=rate, summary=summary, problem=problem))
            if not summary:
                rows.append([str(rate), "-", "-", "-", "-", "-", "no summary: " + problem])
                continue
            lat = summary["latency_ms"]
            before, during = lat["before"]["p99"], lat["during"]["p99"]
            ratio = f"{during / before:.2f}" if before else "-"
            rows.append([str(rate), str(summary["sent"]), str(summary["failed"]),
                         f"{before:.1f}", f"{during:.1f}", ratio,
                         "yes" if not problem else "NO: " + problem])
    table("Apps under load: cpp-producer through a rotation",
          "tests/bench/bench.py ... --only load --load-rates " + ",".join(map(str, rates)),
          ["msg/s", "sent", "failed", "p99 before (ms)", "p99 during swap (ms)",
           "during/before", "every message once, in order"], rows,
          notes=["The stream check is test_hot_reload.py's own (every message read back from "
                 "the broker); the old principal loses its ACLs and the broker restarts after "
                 "the swap, as in the proof at 200 msg/s."])
    return results
