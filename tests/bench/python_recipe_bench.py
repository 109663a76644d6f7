#!/usr/bin/env python3
"""The Python recipe's produce latency through a certificate swap, steady beside swap.

    python_recipe_bench.py TESTBED_DIR CERTSWAP_BIN [--runs 3] [--steady 15] [--rate 200]
                           [--recipe NAME=PATH ...] [--python NAME=PATH ...] [--json FILE]

Each run, on the test bed's broker and emulator: a new user, `certswap init`,
the recipe (examples/python/producer.py, or each --recipe, e.g. an older one
from `git show COMMIT:examples/python/producer.py > old.py`) streaming at
--rate under each --python (default: the examples' venv, PyPI's wheel); after
a 3 s warm-up a steady window of --steady seconds; then the emulator renews the
certificate and `certswap rotate --notify-signal SIGHUP --notify-pid` makes the
recipe switch. Latency is from the scheduled send to the delivery report:

- steady: messages scheduled after the warm-up and before the SIGHUP;
- swap: from the SIGHUP until 2 s after the recipe reported the switch (the
  recipe's own "during" window);
- after: the 3 s after that.

It also times, inside the recipe's process, where the swap window's time goes:
building the new Producer, its list_topics check, the old one's flush, and the
longest time the producing loop went without polling (a stall there is
latency for every message scheduled meanwhile). Prints Markdown tables; asserts
nothing. Run it with a python that has confluent_kafka (tests/examples/setup-venv.sh).

The script runs itself (--child) as the recipe's process under each python.
"""
import argparse
import importlib.util
import json
import os
import secrets
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import pct, table as markdown_table  # noqa: E402 (beside this file)

ROOT = Path(__file__).resolve().parents[2]
WARMUP_S = 3.0
SWAP_WINDOW_S = 2.0
AFTER_WINDOW_S = 3.0


# ---------------------------------------------------------------- the recipe's process (--child)

class Spans:
    """Times of the calls the swap makes, recorded inside the recipe's process."""

    def __init__(self):
        self.calls = []        # (name, start, end)
        self.last_poll_end = None
        self.longest_gap = (0.0, 0.0)   # (gap s, when it ended)
        self.hup = []
        self.switched = []


def child(args):
    spans = Spans()
    spec = importlib.util.spec_from_file_location("recipe", args.recipe)
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    real_producer = recipe.Producer

    class TimedProducer:
        """The recipe's Producer, with the calls the swap makes timed."""

        def __init__(self, conf):
            t = time.monotonic()
            self._p = real_producer(conf)
            spans.calls.append(("Producer()", t, time.monotonic()))

        def _timed(self, name, fn, *a, **kw):
            t = time.monotonic()
            try:
                return fn(*a, **kw)
            finally:
                spans.calls.append((name, t, time.monotonic()))

        def list_topics(self, *a, **kw):
            return self._timed("list_topics", self._p.list_topics, *a, **kw)

        def flush(self, *a, **kw):
            return self._timed("flush", self._p.flush, *a, **kw)

        def poll(self, *a, **kw):
            t = time.monotonic()
            if spans.last_poll_end is not None and t - spans.last_poll_end > spans.longest_gap[0]:
                if spans.hup:  # only the swap's stalls, not the start-up's
                    spans.longest_gap = (t - spans.last_poll_end, t)
            try:
                return self._p.poll(*a, **kw)
            finally:
                spans.last_poll_end = time.monotonic()

        def __getattr__(self, name):
            return getattr(self._p, name)

        def __len__(self):
            return len(self._p)

        def __del__(self):
            # rd_kafka_destroy runs when the last reference goes: time it where it happens.
            if "_p" not in self.__dict__:
                return
            t = time.monotonic()
            self._p = None
            spans.calls.append(("destroy", t, time.monotonic()))

    recipe.Producer = TimedProducer
    real_signal = signal.signal

    def hooked_signal(signum, handler):
        if signum == signal.SIGHUP and callable(handler):
            def on_hup(*a):
                spans.hup.append(time.monotonic())
                return handler(*a)
            return real_signal(signum, on_hup)
        return real_signal(signum, handler)
    recipe.signal.signal = hooked_signal
    real_emit = recipe.emit

    def hooked_emit(event):
        if event.get("event") == "reloaded":
            spans.switched.append(time.monotonic())
        real_emit(event)
    recipe.emit = hooked_emit

    app = recipe.NumberedProducer(argparse.Namespace(
        credentials=args.credentials, bootstrap=args.bootstrap, topic=args.topic,
        rate=args.rate, no_reload=False))
    app.run()
    with open(args.out, "w") as f:
        json.dump({"scheduled": app.scheduled, "latency": app.latency, "hup": spans.hup,
                   "switched": spans.switched, "calls": spans.calls,
                   "longest_gap": spans.longest_gap}, f)


# ---------------------------------------------------------------- the bench

def table(title, header, rows, notes=()):
    markdown_table(title, None, header, rows, notes)


class Testbed:
    def __init__(self, directory):
        self.tb = json.loads((Path(directory) / "testbed.json").read_text())
        self.ctx = ssl.create_default_context(cafile=self.tb["api_ca"])

    def post(self, path, body):
        req = urllib.request.Request(self.tb["api_url"] + path, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, context=self.ctx, timeout=60) as r:
            return json.loads(r.read() or b"{}")

    def user(self, name, **extra):
        return dict(project=self.tb["project"], service=self.tb["service"], username=name, **extra)

    def certswap(self, certswap, user, out, *args):
        env = dict(os.environ, CERTSWAP_API_URL=self.tb["api_url"], CERTSWAP_API_CA_FILE=self.tb["api_ca"],
                   CERTSWAP_TOKEN_FILE=self.tb["token_file"], CERTSWAP_PROJECT=self.tb["project"],
                   CERTSWAP_SERVICE=self.tb["service"], CERTSWAP_USER=user, CERTSWAP_OUTPUT_DIR=str(out))
        r = subprocess.run([certswap, *args], env=env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"certswap {args[0]} failed ({r.returncode}): {r.stderr[-2000:]}")


def create_topic(tb, topic):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": tb["bootstrap"], "security.protocol": "ssl",
                         "ssl.ca.location": tb["project_ca"], "ssl.certificate.location": tb["admin_cert"],
                         "ssl.key.location": tb["admin_key"]})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)


def wait_for_line(proc, event, timeout):
    """Reads the recipe's JSON lines until event (the recipe prints few lines)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the recipe exited before {event!r}")
        try:
            if json.loads(line).get("event") == event:
                return
        except json.JSONDecodeError:
            continue
    raise RuntimeError(f"no {event!r} from the recipe within {timeout} s")


def one_run(testbed, certswap, python, recipe, args, work, n):
    user = f"bench-py-{secrets.token_hex(3)}"
    testbed.post("/_testbed/users", testbed.user(user))
    out = work / f"creds-{n}"
    testbed.certswap(certswap, user, out, "init")
    topic = f"recipe-{user}"
    create_topic(testbed.tb, topic)
    result = work / f"run-{n}.json"
    argv = [python, __file__, "--child", "--recipe", recipe, "--credentials", str(out),
            "--bootstrap", testbed.tb["bootstrap"], "--topic", topic, "--rate", str(args.rate),
            "--out", str(result)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, LD_PRELOAD=""))
    try:
        wait_for_line(proc, "started", 60)
        time.sleep(WARMUP_S + args.steady)
        load_before = os.getloadavg()[0]
        testbed.post("/_testbed/renew", testbed.user(user, ou=f"renewed-{n}"))
        testbed.certswap(certswap, user, out, "rotate", "--notify-signal", "SIGHUP",
                         "--notify-pid", str(proc.pid))
        wait_for_line(proc, "reloaded", 60)
        time.sleep(SWAP_WINDOW_S + AFTER_WINDOW_S + 1)
        load_after = os.getloadavg()[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        proc.stdout.close()
    data = json.loads(result.read_text())
    scheduled = data["scheduled"]
    latency = {int(k): v for k, v in data["latency"].items()}
    first = min(scheduled[s] for s in latency)
    hup, switched = data["hup"][0], data["switched"][0]

    def window(lo, hi):
        return [ms for s, ms in latency.items() if lo <= scheduled[s] < hi]
    steady = window(first + WARMUP_S, hup)
    swap = window(hup, switched + SWAP_WINDOW_S)
    after = window(switched + SWAP_WINDOW_S, switched + SWAP_WINDOW_S + AFTER_WINDOW_S)
    calls = [(name, (end - start) * 1000) for name, start, end in data["calls"] if start >= hup]
    return {"steady": steady, "swap": swap, "after": after, "switch_ms": (switched - hup) * 1000,
            "calls": calls, "longest_gap_ms": data["longest_gap"][0] * 1000,
            "sent": len(scheduled), "delivered": len(latency),
            "load": f"{load_before:.1f} / {load_after:.1f}"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("testbed", nargs="?")
    ap.add_argument("certswap", nargs="?")
    ap.add_argument("--recipe", action="append", help="NAME=PATH of a producer.py (default: the example's)")
    ap.add_argument("--python", action="append", help="NAME=PATH of a python with confluent_kafka")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--steady", type=float, default=15.0, help="seconds in the steady window")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--json", help="write every run's figures here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for opt in ("--credentials", "--bootstrap", "--topic", "--out"):
        ap.add_argument(opt, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.recipe = args.recipe[0]
        return child(args)
    if not (args.testbed and args.certswap):
        ap.error("TESTBED_DIR and CERTSWAP_BIN are required")

    testbed = Testbed(args.testbed)
    recipes = args.recipe or ["current=" + str(ROOT / "examples/python/producer.py")]
    pythons = args.python or ["PyPI wheel=" + sys.executable]
    rows, breakdown, results = [], [], []
    with tempfile.TemporaryDirectory(prefix="certswap-pyrecipe-") as tmp:
        work = Path(tmp)
        n = 0
        for run in range(1, args.runs + 1):
            for r in recipes:
                recipe_name, recipe = r.split("=", 1)
                for p in pythons:
                    py_name, python = p.split("=", 1)
                    n += 1
                    print(f"run {run}: {recipe_name} on {py_name}...", file=sys.stderr, flush=True)
                    res = one_run(testbed, args.certswap, python, os.path.abspath(recipe), args, work, n)
                    res.update(run=run, recipe=recipe_name, python=py_name)
                    results.append(res)
                    st, sw = pct(res["steady"], 99), pct(res["swap"], 99)
                    rows.append([run, recipe_name, py_name, res["sent"], res["delivered"],
                                 f"{statistics.median(res['steady']):.1f} / {st:.1f}",
                                 f"{statistics.median(res['swap']):.1f} / {sw:.1f}",
                                 f"{statistics.median(res['after']):.1f} / {pct(res['after'], 99):.1f}",
                                 f"{sw / st:.2f}", f"{max(res['swap']):.0f}", res["load"]])
                    calls = ", ".join(f"{name} {ms:.0f}" for name, ms in res["calls"])
                    breakdown.append([run, recipe_name, py_name, f"{res['switch_ms']:.0f}", calls,
                                      f"{res['longest_gap_ms']:.0f}"])
    table("Produce latency, steady beside swap (ms)",
          ["run", "recipe", "client", "sent", "delivered", "steady p50 / p99", "swap p50 / p99",
           "after p50 / p99", "swap p99 / steady p99", "swap max", "load 1-min (before / after)"],
          rows, notes=[f"{args.rate:g} msg/s; steady: {args.steady:g} s after a {WARMUP_S:g} s warm-up, "
                       f"until the SIGHUP; swap: SIGHUP until {SWAP_WINDOW_S:g} s after the switch; "
                       f"after: the next {AFTER_WINDOW_S:g} s."])
    table("Where the swap's time went (ms, inside the recipe's process)",
          ["run", "recipe", "client", "SIGHUP to switch", "calls after the SIGHUP",
           "longest time the loop did not poll"], breakdown)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
