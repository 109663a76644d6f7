"""Apps under load: the example producers through a rotation at high rates.

It runs the examples' own proof (tests/examples/test_hot_reload.py, one
producer family: a new principal, the old one's ACLs removed, the broker
restarted) with CERTSWAP_EXAMPLES_RATE raised, so "0 lost, 0 duplicated, in
order" is the test's own check of every message read back from the broker.
The test cuts the latency windows (steady before the swap, the swap, the
broker restart, after) from each app's per-message log and its own timeline,
the same way for every app (test_hot_reload.windows()); this module only sets
the rate, survives a run that hangs or fails, and prints the table.
"""
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WINDOWS = ("steady", "swap", "restart", "after")
RUN_TIMEOUT = 900  # one family's run; past it the row says so and the next run starts
TEARDOWN_TIMEOUT = 120


def run_family(kind, rate, env, work):
    """One run of the proof for kind at rate; returns (summary or None, problem)."""
    report = Path(work) / f"load-{kind}-{rate}.jsonl"
    env = {**env, "CERTSWAP_EXAMPLES_REPORT": str(report), "CERTSWAP_EXAMPLES_RATE": str(rate)}
    selector = f"test_producer_keeps_every_message_across_rotation and {kind}"
    problem = ""
    try:
        # A session of its own: a run that hangs gets SIGINT (pytest then tears its
        # fixtures down: the producer stopped, the scenario's broker stopped), and
        # SIGKILL for the whole group if even that hangs.
        p = subprocess.Popen([str(ROOT / "tests/examples/run.sh"), "-k", selector], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
        try:
            out, _ = p.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGINT)
            try:
                out, _ = p.communicate(timeout=TEARDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                out, _ = p.communicate()
            problem = f"timed out after {RUN_TIMEOUT} s"
        else:
            if p.returncode != 0:
                lines = [l for l in out.splitlines() if "AssertionError" in l or l.startswith("E ")]
                problem = (lines[0] if lines else f"pytest exit {p.returncode}")[:200]
        (Path(work) / f"load-{kind}-{rate}.log").write_text(out)
    except OSError as e:
        problem = f"could not run the proof: {e}"
    summary = None
    if report.exists() and report.read_text().strip():
        summary = json.loads(report.read_text().splitlines()[-1])
    return summary, problem


def fmt_window(w):
    if not w or not w["n"]:
        return "-"
    return f"{w['p50']:.1f} / {w['p99']:.1f}"


def row(kind, rate, summary, problem):
    if not summary:
        return [kind, str(rate)] + ["-"] * 11 + ["NO: " + (problem or "no summary")]
    win = summary.get("windows", {})
    steady = (win.get("steady") or {}).get("p99")
    swap = (win.get("swap") or {}).get("p99")
    ratio = f"{swap / steady:.2f}" if steady and swap is not None else "-"
    late = summary.get("late")
    late_unsent = f"{'-' if late is None else late} / {summary.get('unsent', '-')}"
    return [kind, str(rate), f"{summary.get('rate', 0):.0f}", str(summary["sent"]),
            str(summary["delivered"]), str(summary.get("lost", "-")),
            str(summary.get("duplicated", "-")), late_unsent] + \
        [fmt_window(win.get(w)) for w in WINDOWS] + \
        [ratio, "yes" if not problem else "NO: " + problem]


def app_load(testbed_dir, certswap, examples_bin, runs, table, go_producer=None):
    """runs: [(kind, msg/s)], kind one of cpp, java, go, python."""
    env = {**os.environ, "CERTSWAP_TESTBED_DIR": testbed_dir, "CERTSWAP_BIN": certswap,
           "CERTSWAP_EXAMPLES_BIN": examples_bin or ""}
    if go_producer:
        env["CERTSWAP_GO_PRODUCER"] = go_producer
    rows, results = [], []
    with tempfile.TemporaryDirectory(prefix="certswap-load-") as work:
        for kind, rate in runs:
            load_before = os.getloadavg()[0]
            t0 = time.monotonic()
            summary, problem = run_family(kind, rate, env, work)
            results.append(dict(kind=kind, rate=rate, summary=summary, problem=problem,
                                seconds=round(time.monotonic() - t0), load_before=load_before,
                                load_after=os.getloadavg()[0]))
            rows.append(row(kind, rate, summary, problem) +
                        [f"{load_before:.1f} → {os.getloadavg()[0]:.1f}"])
    table("Apps under load: the example producers through a rotation",
          "tests/bench/bench.py ... --only load --load-runs " +
          ",".join(f"{k}:{r}" for k, r in runs),
          ["app", "msg/s asked", "msg/s achieved", "sent", "acked", "lost", "duplicated",
           "late / unsent", "steady p50 / p99 (ms)", "swap p50 / p99", "restart p50 / p99",
           "after p50 / p99", "swap/steady p99", "every message once, in order", "load avg"],
          rows,
          notes=["The stream check is test_hot_reload.py's own (every message read back from the "
                 "broker; lost = sent but not on the topic, duplicated = on it twice). Latency is "
                 "from a message's scheduled send time to its acknowledgement. Windows, cut by "
                 "the test from each app's per-message log: steady = from 1 s after the first "
                 "delivery until `certswap rotate` starts; swap = until 2 s after it returned "
                 "(or the broker restart, for Java and Go, which take the new certificate on "
                 "their next connection and so are restarted right after the swap); restart = "
                 "from the broker's stop until 2 s after it answered again; after = the rest. "
                 "late = sent more than 1 s after its time (Java), unsent = due when the app "
                 "was stopped but never handed to the client."])
    return results
