"""Many targets, sequential beside concurrent (issue 14, "Many targets"); called from bench.py.

The emulator answers every Aiven call 50 ms late (a `delay` fault on every path), a
stand-in for a WAN round trip. For each N (`--targets 100,1000`: the first N of the
largest N users, all in one project), one `certswap run --config` sidecar per mode:

* install: every target from nothing (fetch, offline and live validation, swap);
* routine cycle: SIGHUP, every target checked, nothing new;
* renewals: 10% of the users renewed, SIGHUP, until every target is checked and every
  renewal acknowledged;
* memory: the sidecar's VmRSS after the install, minus a one-target sidecar's, per target;
  and between two N, the slope (fixed costs such as threads and arenas cancel out).

Modes: sequential (`--concurrency 1 --live-concurrency 1`) and concurrent (the defaults,
`--concurrency 8 --live-concurrency 4`). `--api-rate 0` in both so that the budget's rate
does not hide the concurrency (the default 100/s would cap a cycle at N/100 s).
Timings are printed and written, never asserted.
"""
import json, os, signal, sys, time

import bench

MODES = [("sequential", ["--concurrency", "1", "--live-concurrency", "1"]),
         ("concurrent", ["--concurrency", "8", "--live-concurrency", "4"])]
DELAY_MS = 50
# The targets at 1,000 targets (concurrent).
GOALS = dict(routine_s=10, install_s=60, renewals_s=15, kib_per_target=20)


def config(tb, path, users, out_dir, kube=None):
    """kube: {"namespace", "kubeconfig"}: each target writes a Secret of that namespace instead
    of a directory (its journal stays in a local state directory)."""
    if kube:
        # A Secret per run and user: a run must not find the one an earlier run installed.
        run = os.path.basename(out_dir)
        targets = [dict(name=u, project=tb["project"], service=tb["service"], user=u,
                        kubernetes_secret=f"{kube['namespace']}/{run}-{u}",
                        kubeconfig=kube["kubeconfig"], state_dir=os.path.join(out_dir, u))
                   for u in users]
    else:
        targets = [dict(name=u, project=tb["project"], service=tb["service"], user=u,
                        output_dir=os.path.join(out_dir, u)) for u in users]
    json.dump(dict(api=dict(url=tb["api_url"], token_file=tb["token_file"], ca_file=tb["api_ca"]),
                   targets=targets), open(path, "w"))


class StepCounter:
    """Counts the sidecar's JSON log lines per step, reading only what was appended since the
    last look: a 1,000-target log is read once, not once per poll (the earlier bench re-read
    and re-parsed the whole log every 50 ms, on the same 2 cores as the sidecar)."""

    def __init__(self, path):
        self.path, self.offset, self.partial = path, 0, b""
        self.counts = {}

    def poll(self):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            i = line.find(b'"step":')
            if i < 0:
                continue
            step = line[i + 7:].lstrip(b" ").split(b'"', 2)[1].decode()
            self.counts[step] = self.counts.get(step, 0) + 1
        return self.counts

    def count(self, step):
        return self.poll().get(step, 0)


class Run:
    """One sidecar over N fresh targets, SIGHUP-driven (poll interval 10h)."""

    def __init__(self, tb, certswap, work, name, users, extra, kube=None):
        self.out = os.path.join(work, name)
        os.makedirs(self.out, exist_ok=True)
        self.cfg = os.path.join(work, f"{name}.json")
        config(tb, self.cfg, users, self.out, kube)
        self.n = len(users)
        self.side = bench.Sidecar(certswap, dict(os.environ), work, name,
                                  ["--config", self.cfg, "--api-rate", "0", *extra])
        self.steps = StepCounter(self.side.log)

    def wait_steps(self, step, count, timeout):
        start = time.perf_counter()
        done = bench.wait_until(lambda: self.steps.count(step) >= count, timeout, 0.05)
        return (time.perf_counter() - start) * 1000, done

    def cycle(self, timeout, acks=0):
        """SIGHUP; until every target logged `compare` and `acks` acknowledgements were logged."""
        before = dict(self.steps.poll())
        os.kill(self.side.pid, signal.SIGHUP)
        start = time.perf_counter()

        def finished():
            c = self.steps.poll()
            return (c.get("compare", 0) - before.get("compare", 0) >= self.n and
                    c.get("acknowledge", 0) - before.get("acknowledge", 0) >= acks)
        done = bench.wait_until(finished, timeout, 0.05)
        return (time.perf_counter() - start) * 1000, done


def measure(tb, certswap, work, users, extra, name, renewed, base_rss, timeout, tag, kube=None):
    n = len(users)
    run = Run(tb, certswap, work, name, users, extra, kube)
    r = dict()
    ms, done = run.wait_steps("swap", n, timeout)
    r["install"] = dict(ms=ms, done=done)
    # Memory once the pass is over: prune is each check's last step, and the sidecar hands
    # freed pages back after the last check of a pass, a moment after that line.
    run.wait_steps("prune", n, timeout)
    time.sleep(1)
    st = bench.proc_status(run.side.pid)
    r["rss_kib"], r["hwm_kib"] = st["VmRSS"], st["VmHWM"]
    r["kib_per_target"] = (st["VmRSS"] - base_rss) / max(1, n - 1)
    ms, done = run.cycle(timeout)
    r["routine"] = dict(ms=ms, done=done)
    for i, u in enumerate(renewed):
        tb.renew(u, f"{tag}{i}")
    ms, done = run.cycle(timeout, acks=len(renewed))
    r["renewals"] = dict(ms=ms, done=done, count=len(renewed))
    r["metrics"] = {l.split()[0]: l.split()[1] for l in
                    urllib_text(run.side.url("/metrics")).splitlines()
                    if l.startswith("certswap_api_") and not l.startswith("certswap_api_errors")}
    r["emulator_peak_in_flight"] = tb.call("GET", "/_testbed/concurrency")["peak"]
    r["threads"] = int(bench.proc_status(run.side.pid).get("Threads", 0))
    run.side.stop()
    return r


def targets_bench(tb, certswap, sizes, renew_share, timeout, work, key_type="rsa", only_modes=None,
                  kube=None):
    """key_type "ec": the emulator issues EC P-256 keys instead of Aiven's RSA-3072, because
    making 1,000 RSA-3072 keys takes the emulator minutes on a loaded 2-core machine."""
    sizes = sorted(set(sizes))
    users = [f"bench-many-{key_type}-{i}" for i in range(max(sizes))]
    if kube:  # fresh users: each Secret starts empty, as each directory does
        users = [f"bench-secret-{key_type}-{int(time.time())}-{i}" for i in range(max(sizes))]
    settings = tb.call("GET", "/_testbed/settings")
    tb.call("POST", "/_testbed/settings", dict(key_type=key_type))
    start = time.perf_counter()
    for u in users:
        tb.create_user(u)
    created_s = time.perf_counter() - start
    tb.call("POST", "/_testbed/faults", dict(method="*", path_regex=".*", count=10 ** 9,
                                            fault=dict(kind="delay", ms=DELAY_MS)))
    res = dict(sizes={}, delay_ms=DELAY_MS, goals=GOALS, users_created_s=created_s, key_type=key_type)
    try:
        # A one-target sidecar: what memory the rest adds.
        one = Run(tb, certswap, work, "many-one", users[:1], [], kube)
        one.wait_steps("swap", 1, timeout)
        time.sleep(0.2)
        base_rss = bench.proc_status(one.side.pid)["VmRSS"]
        one.side.stop()
        res["base_rss_kib"] = base_rss
        for n in sizes:
            # Spread over the file, so that the cycle is not over once the first ones are.
            renewed = users[:n][:: max(1, round(1 / renew_share))]
            modes = {}
            for mode, extra in [m for m in MODES if only_modes is None or m[0] in only_modes]:
                tb.call("DELETE", "/_testbed/concurrency")
                r = measure(tb, certswap, work, users[:n], extra, f"many-{n}-{mode}", renewed,
                            base_rss, timeout, f"{n}{mode}", kube)
                modes[mode] = r
                print(f"  many targets {n} {mode}: install {r['install']['ms'] / 1000:.1f} s, routine "
                      f"{r['routine']['ms'] / 1000:.1f} s, renewals {r['renewals']['ms'] / 1000:.1f} s, "
                      f"{r['kib_per_target']:.1f} KiB/target", file=sys.stderr)
            res["sizes"][n] = dict(n=n, renewed=len(renewed), modes=modes)
    finally:
        tb.call("DELETE", "/_testbed/faults")
        tb.call("POST", "/_testbed/settings", dict(key_type=settings["key_type"]))

    def fmt(m):
        return f"{m['ms'] / 1000:.1f} s" + ("" if m["done"] else f" (**not finished in {timeout:.0f} s**)")

    rows = []
    prev = None
    for n, size in res["sizes"].items():
        for mode, r in size["modes"].items():
            slope = "–"
            if prev and mode in prev[1]:
                slope = f"{(r['rss_kib'] - prev[1][mode]['rss_kib']) / (n - prev[0]):.1f}"
            rows.append([n, mode, fmt(r["routine"]), fmt(r["install"]),
                         fmt(r["renewals"]) + f" ({size['renewed']})",
                         f"{r['kib_per_target']:.1f}", slope, f"{bench.mib(r['hwm_kib']):.1f}",
                         f"{r['metrics'].get('certswap_api_peak_in_flight', '?')} / "
                         f"{r['emulator_peak_in_flight']}", r["threads"]])
        prev = (n, size["modes"])
    what = ("Kubernetes Secrets on the test bed's kube-apiserver (one Secret each, watched)" if kube
            else "output directories")
    bench.table(f"{'4b' if kube else '4'}. Many targets into {what}: users in one project, every API "
                f"call {DELAY_MS} ms late",
                "`certswap run --config many-N.json --api-rate 0` with `--concurrency 1 --live-concurrency 1` "
                "(sequential) and `--concurrency 8 --live-concurrency 4` (concurrent), SIGHUP per cycle",
                ["N", "mode", "routine cycle (nothing new)", "install all N", "cycle with renewals (how many)",
                 "RSS growth KiB/target", "RSS slope KiB/target", "sidecar peak RSS MiB",
                 "peak API requests in flight (certswap / emulator)", "threads"], rows,
                ["*Routine cycle*: SIGHUP until every target logged `compare` (one GET of the user each; the "
                 "project CA once per pass). *Install*: from start until every target logged `swap` (fetch, "
                 "validate offline and against the broker, swap). *Renewals*: the emulator renews every 10th "
                 "user, SIGHUP until every target logged `compare` and each renewal is acknowledged. *RSS "
                 "growth*: (VmRSS after the install - VmRSS of a one-target sidecar) / (N - 1); *RSS slope*: "
                 "Δ VmRSS / Δ N from the row of the same mode at the previous N (fixed costs cancel out). "
                 f"Issue 14's goals at 1,000 targets: routine < {GOALS['routine_s']} s, install < "
                 f"{GOALS['install_s']} s, 100 renewals < {GOALS['renewals_s']} s, < {GOALS['kib_per_target']} "
                 f"KiB per target. Keys: {'RSA-3072 (as Aiven issues)' if key_type == 'rsa' else 'EC P-256 (`--targets-key-type ec`; Aiven issues RSA-3072)'}; "
                 f"creating {max(sizes)} users took {created_s:.0f} s (not measured above)."])
    return res


def urllib_text(url):
    import urllib.request
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()
