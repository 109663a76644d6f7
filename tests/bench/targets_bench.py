"""Many targets, sequential beside concurrent (issue 14, "Many targets"); called from bench.py.

The emulator answers every Aiven call 50 ms late (a `delay` fault on every path), a
stand-in for a WAN round trip. N users in one project, one `certswap run --config`
sidecar per mode, in the same run:

* install: every target from nothing (fetch, offline and live validation, swap);
* routine cycle: SIGHUP, every target checked, nothing new;
* renewals: 10% of the users renewed, SIGHUP, until every target is checked and every
  renewal acknowledged;
* memory: the sidecar's VmRSS after the install, minus a one-target sidecar's, per target.

Modes: sequential (`--concurrency 1 --live-concurrency 1`) and concurrent (the defaults,
`--concurrency 8 --live-concurrency 4`). `--api-rate 0` in both so that the budget's rate
does not hide the concurrency (the default 100/s would cap a cycle at N/100 s).
Timings are printed and written, never asserted.
"""
import json, os, signal, subprocess, sys, time

import bench

MODES = [("sequential", ["--concurrency", "1", "--live-concurrency", "1"]),
         ("concurrent", ["--concurrency", "8", "--live-concurrency", "4"])]
DELAY_MS = 50


def config(tb, path, users, out_dir):
    targets = [dict(name=u, project=tb["project"], service=tb["service"], user=u,
                    output_dir=os.path.join(out_dir, u)) for u in users]
    json.dump(dict(api=dict(url=tb["api_url"], token_file=tb["token_file"], ca_file=tb["api_ca"]),
                   targets=targets), open(path, "w"))


def count_in_log(side, text, since):
    return sum(1 for l in side.lines()[since:] if text in l.replace(" ", ""))


class Run:
    """One sidecar over N fresh targets, SIGHUP-driven (poll interval 10h)."""

    def __init__(self, tb, certswap, work, name, users, extra):
        self.out = os.path.join(work, name)
        os.makedirs(self.out, exist_ok=True)
        self.cfg = os.path.join(work, f"{name}.json")
        config(tb, self.cfg, users, self.out)
        self.n = len(users)
        self.side = bench.Sidecar(certswap, dict(os.environ), work, name,
                                  ["--config", self.cfg, "--api-rate", "0", *extra])

    def wait_steps(self, step, count, since, timeout):
        start = time.perf_counter()
        done = bench.wait_until(lambda: count_in_log(self.side, f'"step":"{step}"', since) >= count,
                                timeout, 0.05)
        return (time.perf_counter() - start) * 1000, done

    def cycle(self, timeout, acks=0):
        """SIGHUP; until every target logged `compare` and `acks` acknowledgements were logged."""
        since = len(self.side.lines())
        os.kill(self.side.pid, signal.SIGHUP)
        start = time.perf_counter()
        done = bench.wait_until(lambda: count_in_log(self.side, '"step":"compare"', since) >= self.n and
                                count_in_log(self.side, '"step":"acknowledge"', since) >= acks,
                                timeout, 0.05)
        return (time.perf_counter() - start) * 1000, done


def targets_bench(tb, certswap, n, renew_share, timeout, work):
    users = [f"bench-many-{i}" for i in range(n)]
    for u in users:
        tb.create_user(u)
    tb.call("POST", "/_testbed/faults", dict(method="*", path_regex=".*", count=10 ** 9,
                                            fault=dict(kind="delay", ms=DELAY_MS)))
    res = dict(n=n, delay_ms=DELAY_MS, modes={})
    try:
        # A one-target sidecar: what memory the rest adds.
        one = Run(tb, certswap, work, "many-one", users[:1], [])
        one.wait_steps("swap", 1, 0, timeout)
        time.sleep(0.2)
        base_rss = bench.proc_status(one.side.pid)["VmRSS"]
        one.side.stop()
        # Spread over the file, so that the cycle is not over once the first ones are.
        renewed = users[:: max(1, round(1 / renew_share))]
        for mode, extra in MODES:
            run = Run(tb, certswap, work, f"many-{mode}", users, extra)
            r = dict()
            ms, done = run.wait_steps("swap", n, 0, timeout)
            r["install"] = dict(ms=ms, done=done)
            time.sleep(0.2)
            st = bench.proc_status(run.side.pid)
            r["rss_kib"], r["hwm_kib"] = st["VmRSS"], st["VmHWM"]
            r["kib_per_target"] = (st["VmRSS"] - base_rss) / max(1, n - 1)
            ms, done = run.cycle(timeout)
            r["routine"] = dict(ms=ms, done=done)
            for i, u in enumerate(renewed):
                tb.renew(u, f"{mode}{i}")
            ms, done = run.cycle(timeout, acks=len(renewed))
            r["renewals"] = dict(ms=ms, done=done, count=len(renewed))
            r["metrics"] = {l.split()[0]: l.split()[1] for l in
                            urllib_text(run.side.url("/metrics")).splitlines()
                            if l.startswith("certswap_api_") and not l.startswith("certswap_api_errors")}
            run.side.stop()
            res["modes"][mode] = r
            print(f"  many targets {mode}: install {r['install']['ms'] / 1000:.1f} s, routine "
                  f"{r['routine']['ms'] / 1000:.1f} s, renewals {r['renewals']['ms'] / 1000:.1f} s",
                  file=sys.stderr)
    finally:
        tb.call("DELETE", "/_testbed/faults")

    def fmt(m):
        return f"{m['ms'] / 1000:.1f} s" + ("" if m["done"] else f" (**not finished in {timeout:.0f} s**)")

    rows = []
    for mode, r in res["modes"].items():
        rows.append([mode, fmt(r["routine"]), fmt(r["install"]), fmt(r["renewals"]),
                     f"{r['kib_per_target']:.1f}", f"{bench.mib(r['hwm_kib']):.1f}",
                     r["metrics"].get("certswap_api_peak_in_flight", "?")])
    bench.table(f"4. Many targets: {n} users in one project, every API call {DELAY_MS} ms late",
                f"`certswap run --config many-N.json --api-rate 0` with `--concurrency 1 --live-concurrency 1` "
                f"(sequential) and `--concurrency 8 --live-concurrency 4` (concurrent), SIGHUP per cycle",
                ["mode", "routine cycle (nothing new)", f"install all {n}", f"cycle with {len(renewed)} renewals",
                 "RSS growth KiB/target", "sidecar peak RSS MiB", "peak API requests in flight"], rows,
                ["*Routine cycle*: SIGHUP until every target logged `compare` (one GET of the user each; the "
                 "project CA once per pass). *Install*: from start until every target logged `swap` (fetch, "
                 "validate offline and against the broker, swap). *Renewals*: the emulator renews "
                 f"{len(renewed)} users (every 10th), SIGHUP until every target logged `compare` and each renewal is acknowledged. *RSS growth*: (VmRSS after the "
                 "install - VmRSS of a one-target sidecar) / (N - 1). Peak in flight: the sidecar's "
                 "`certswap_api_peak_in_flight`."])
    return res


def urllib_text(url):
    import urllib.request
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()
