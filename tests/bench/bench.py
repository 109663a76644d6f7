#!/usr/bin/env python3
"""certswap benchmarks on the local test bed; prints Markdown tables, asserts nothing.

  bench.py TESTBED_DIR CERTSWAP_BIN [--rotations N] [--idle-seconds S] [--cycles K]
           [--scale 1,10,100,1000] [--scale-timeout SECONDS] [--avn PATH] [--json FILE]
           [--targets 100,1000] [--chart PNG]

One function per measurement:

1. rotation_latency: N times (emulator renews, `certswap rotate --notify-exec
   /bin/true`), the duration of every pipeline step (from --log-format json),
   the whole process, and the agent's own overhead (defined in the table).
2. footprint: `certswap run` beside the baseline a user would otherwise run
   (baseline-loop.sh: `avn service user-creds-download` + an app restart), idle
   and during a check and a rotation; binary sizes.
3. scale: 1..1000 targets in one `--config` file against the emulator.
4. targets (targets_bench.py): many targets with a 50 ms API, sequential beside concurrent.
5. big-service (big_service_bench.py): peak RSS of a rotation as one service grows
   to --big-service users (only with --only big-service: it pads the emulator's state).

--chart draws chart.py's PNG from the results (matplotlib: run under the venv of
setup-venv.sh, as run-bench.sh does).

Percentiles are nearest-rank: with 50 samples the p99 is the largest sample.
"""
import argparse, json, math, os, platform, re, shutil, socket, ssl, statistics, subprocess, sys, \
    tempfile, time, urllib.error, urllib.request

HZ = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- helpers

class Testbed:
    def __init__(self, directory):
        self.tb = json.load(open(os.path.join(directory, "testbed.json")))
        self.ctx = ssl.create_default_context(cafile=self.tb["api_ca"])
        self.token = open(self.tb["token_file"]).read().strip()

    def __getitem__(self, key):
        return self.tb[key]

    def call(self, method, path, body=None, auth=False):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = "aivenv1 " + self.token
        req = urllib.request.Request(self.tb["api_url"] + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(req, context=self.ctx, timeout=60) as r:
            return json.loads(r.read() or b"{}")

    def user(self, name, **extra):
        return dict(project=self.tb["project"], service=self.tb["service"], username=name, **extra)

    def create_user(self, name):
        self.call("POST", "/_testbed/users", self.user(name))

    def renew(self, name, i):
        self.call("POST", "/_testbed/renew", self.user(name, ou=f"bench{i}"))

    def acks(self, name):
        q = f"project={self['project']}&service={self['service']}&username={name}"
        return self.call("GET", "/_testbed/acks?" + q)["count"]

    def env(self, user, out):
        return dict(os.environ, CERTSWAP_API_URL=self["api_url"], CERTSWAP_API_CA_FILE=self["api_ca"],
                    CERTSWAP_TOKEN_FILE=self["token_file"], CERTSWAP_PROJECT=self["project"],
                    CERTSWAP_SERVICE=self["service"], CERTSWAP_USER=user, CERTSWAP_OUTPUT_DIR=out)


def run_measured(cmd, env, timeout=None):
    """Runs cmd; returns rc, stdout, wall ms, CPU ms (user+sys) and peak RSS (KiB) of the
    process and the children it waited for, from wait4(2), so earlier runs never mix in."""
    out = tempfile.TemporaryFile(mode="w+")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = None if timeout is None else start + timeout
    while True:
        # Without a deadline, block: polling every 2 ms added up to 2 ms (more
        # on a busy machine) to every wall time measured.
        pid, status, ru = os.wait4(proc.pid, 0 if deadline is None else os.WNOHANG)
        if pid:
            break
        if deadline and time.perf_counter() > deadline:
            proc.kill()
            pid, status, ru = os.wait4(proc.pid, 0)
            status = None
            break
        time.sleep(0.002)
    wall = (time.perf_counter() - start) * 1000
    proc.returncode = 0  # reaped above; keep Popen from waiting again
    out.seek(0)
    rc = None if status is None else os.waitstatus_to_exitcode(status)
    return dict(rc=rc, stdout=out.read(), wall_ms=wall,
                cpu_ms=(ru.ru_utime + ru.ru_stime) * 1000, maxrss_kib=ru.ru_maxrss)


LIVE_PARTS = re.compile(r"client setup ([\d.]+) ms, broker ([\d.]+) ms, teardown ([\d.]+) ms")
CHECK_FSYNC = re.compile(r"(\d+) fsync calls, (\d+) us in fsync")


def steps_of(stdout):
    """Step name -> ms (summed if a step appears more than once) from --log-format json
    (the "us" field where the agent gives it). validate-live's detail splits the step into
    live:setup, live:broker and live:teardown; "check" is the whole check's wall time inside
    the process, and its detail gives "fsync" (ms) and "fsync:calls" within the steps."""
    steps = {}
    for line in stdout.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if "step" in e and "ms" in e:
            ms = e["us"] / 1000 if "us" in e else e["ms"]
            steps[e["step"]] = steps.get(e["step"], 0.0) + ms
            m = LIVE_PARTS.search(e.get("detail", "")) if e["step"] == "validate-live" else None
            if m:
                for k, v in zip(("live:setup", "live:broker", "live:teardown"), m.groups()):
                    steps[k] = steps.get(k, 0.0) + float(v)
            if e["step"] == "fsync":  # an agent from before the `check` line: a line of its own
                steps["fsync:calls"] = float(e["detail"].split()[0])
            m = CHECK_FSYNC.search(e.get("detail", "")) if e["step"] == "check" else None
            if m:
                steps["fsync:calls"] = steps.get("fsync:calls", 0.0) + float(m.group(1))
                steps["fsync"] = steps.get("fsync", 0.0) + float(m.group(2)) / 1000
    return steps


def proc_status(pid):
    s = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status") if ":" in l)
    return {k: int(s[k].split()[0]) for k in ("VmRSS", "VmHWM", "Threads")}


def proc_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def ctxt_switches(pid):
    """Voluntary + involuntary context switches of every thread: a sleeping thread that
    wakes up counts at least one, so a flat count means no wakeups."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            for l in open(f"/proc/{pid}/task/{task}/status"):
                if l.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(l.split()[1])
        except FileNotFoundError:
            pass
    return total


def memory_profile(pid):
    """Threads, RSS, anonymous RSS, PSS (smaps_rollup) and what each mapped file contributes
    (smaps: Rss, Pss, and Anonymous = pages the process copied, e.g. relocations)."""
    st = {l.split(":")[0]: l.split(":")[1].split()[0] for l in open(f"/proc/{pid}/status") if ":" in l}
    roll = {l.split(":")[0]: int(l.split()[1]) for l in open(f"/proc/{pid}/smaps_rollup")
            if ":" in l and l.split()[1].isdigit()}
    files, cur = {}, None
    for l in open(f"/proc/{pid}/smaps"):
        p = l.split()
        if not p[0].endswith(":"):
            cur = p[5] if len(p) > 5 else "[anon]"
            files.setdefault(cur, dict(rss=0, pss=0, anon=0))
        elif p[0] in ("Rss:", "Pss:", "Anonymous:"):
            files[cur][dict(zip(("Rss:", "Pss:", "Anonymous:"), ("rss", "pss", "anon")))[p[0]]] += int(p[1])
    libs = {k: v for k, v in files.items() if ".so" in os.path.basename(k)}
    return dict(threads=len(os.listdir(f"/proc/{pid}/task")), rss_kib=int(st["VmRSS"]),
                anon_kib=int(st["RssAnon"]), pss_kib=roll["Pss"],
                libs=len(libs), libs_rss_kib=sum(v["rss"] for v in libs.values()),
                libs_pss_kib=sum(v["pss"] for v in libs.values()),
                libs_anon_kib=sum(v["anon"] for v in libs.values()),
                top_libs=sorted(((os.path.basename(k), v) for k, v in libs.items()),
                                key=lambda kv: -kv[1]["pss"])[:6])


def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:  # "5": reset VmHWM to VmRSS
        f.write("5")


def descendants(pid):
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            kids = open(f"/proc/{pid}/task/{task}/children").read().split()
        except FileNotFoundError:
            continue
        for k in map(int, kids):
            out += [k] + descendants(k)
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, timeout=5):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def wait_until(predicate, timeout, step=0.002):
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def mib(kib):
    return kib / 1024


def pct(values, q):
    """The q-th percentile (nearest rank); NaN for no values."""
    v = sorted(values)
    return v[max(0, math.ceil(q / 100 * len(v)) - 1)] if v else float("nan")


def table(title, command, header, rows, notes=()):
    print(f"\n### {title}\n")
    if command:
        print(f"Command: {command}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    for n in notes:
        print(f"\n{n}")
    sys.stdout.flush()


# ---------------------------------------------------------------- 1. rotation latency

STEPS = ["open", "inspect", "fetch", "compare", "stage", "validate-offline", "locate", "validate-live",
         "live:setup", "live:broker", "live:teardown", "swap", "notify", "acknowledge", "prune"]
NOT_STEPS = ["live:setup", "live:broker", "live:teardown", "fsync", "fsync:calls", "check"]


def stat_row(name, values, unit, digits):
    """Median, p99, min and max of one measure as a table row."""
    return [name] + [f"{v:.{digits}f}" for v in (statistics.median(values), pct(values, 99),
                                                  min(values), max(values))] + [unit]


def step_rows(runs, row):
    """A row per step that any run reported, in pipeline order."""
    return [row(k, [r["steps"][k] for r in runs if k in r["steps"]])
            for k in STEPS if any(k in r["steps"] for r in runs)]


def waiting_of(s):
    """Wall time spent waiting on the API (fetch, locate, acknowledge) and the broker
    (validate-live less its client setup and teardown; an older agent without the split:
    the whole step, and locate inside it)."""
    broker = s.get("live:broker", s.get("validate-live", 0.0))
    return s.get("fetch", 0.0) + s.get("locate", 0.0) + s.get("acknowledge", 0.0) + broker


def rotation_latency(tb, certswap, rotations, work):
    user = f"bench-rot-{os.getpid()}"
    tb.create_user(user)
    out = os.path.join(work, "rotation")
    env = tb.env(user, out)
    subprocess.run([certswap, "init"], env=env, check=True, capture_output=True)
    cmd = [certswap, "rotate", "--log-format", "json", "--notify-exec", "/bin/true"]
    runs = []
    for i in range(rotations):
        tb.renew(user, i)
        r = run_measured(cmd, env)
        if r["rc"] != 0:
            raise SystemExit(f"rotate failed ({r['rc']}):\n{r['stdout']}")
        s = steps_of(r["stdout"])
        waiting = waiting_of(s)
        fsync = s.get("fsync", 0.0)
        runs.append(dict(steps=s, wall_ms=r["wall_ms"], cpu_ms=r["cpu_ms"], maxrss_kib=r["maxrss_kib"],
                         waiting_ms=waiting, overhead_ms=r["wall_ms"] - waiting,
                         own_ms=r["wall_ms"] - waiting - fsync, fsync_ms=fsync,
                         check_own_ms=s["check"] - waiting - fsync if "check" in s else None,
                         fsync_calls=s.get("fsync:calls", 0.0),
                         untimed_ms=r["wall_ms"] - sum(v for k, v in s.items() if k not in NOT_STEPS)))

    def row(name, values, unit="ms"):
        return stat_row(name, values, unit, 1)

    rows = step_rows(runs, row)
    rows += [row("**end to end** (wall time of the `certswap rotate` process)", [r["wall_ms"] for r in runs]),
             row("waiting = fetch + locate + live:broker + acknowledge", [r["waiting_ms"] for r in runs]),
             row("**agent's own overhead** = end to end − waiting", [r["overhead_ms"] for r in runs]),
             row("… of which fsync (the disk's time, inside the steps)", [r["fsync_ms"] for r in runs]),
             row("fsync calls", [r["fsync_calls"] for r in runs], "calls"),
             row("**agent's own time** = end to end − waiting − fsync", [r["own_ms"] for r in runs]),
             row("… of which outside any step (exec, config, exit)", [r["untimed_ms"] for r in runs]),
    ]
    if all(r["check_own_ms"] is not None for r in runs):  # an agent from before the `check` line has none
        rows.append(row("… of which inside the check (`check` line − waiting − fsync)",
                        [r["check_own_ms"] for r in runs]))
    rows += [row("CPU time of the process (user+sys)", [r["cpu_ms"] for r in runs]),
             row("peak RSS of the process", [mib(r["maxrss_kib"]) for r in runs], "MiB")]
    table(f"1. One rotation, step by step ({rotations} rotations)",
          f"`POST /_testbed/renew`, then `certswap rotate --log-format json --notify-exec /bin/true` (x{rotations})",
          ["step", "median", "p99", "min", "max", "unit"], rows,
          ["Steps are certswap's own timings (`--log-format json`, field `us`). *Waiting* is the wall time "
           "of the steps that talk to the emulator (fetch: two HTTPS GETs; locate: the GET of the service "
           "for its brokers; acknowledge: one PUT) or the broker (live:broker, validate-live from the "
           "client's creation to the verdict: mTLS handshake, metadata request; live:setup, building the "
           "client, and live:teardown, rd_kafka_destroy, count as the agent's); it includes "
           "certswap's own TLS and parsing work inside those steps, so the overhead is a lower bound of "
           "the agent's cost. *Overhead* is everything else: process start, config, compare, stage, "
           "offline validation, swap (fsyncs), the notifier (fork+exec of /bin/true), prune, exit. "
           f"p99 is nearest-rank: with {rotations} samples it is sample number "
           f"{math.ceil(0.99 * rotations)} of {rotations} in ascending order."])
    return dict(rotations=rotations, runs=runs)


# ---------------------------------------------------------------- 2. footprint vs baseline

def binary_sizes(certswap, work):
    stripped = os.path.join(work, "certswap.stripped")
    subprocess.run(["strip", "-o", stripped, certswap], check=True)
    libs = subprocess.run(["ldd", certswap], capture_output=True, text=True).stdout
    return dict(unstripped=os.path.getsize(certswap), stripped=os.path.getsize(stripped),
                shared_libs=len([l for l in libs.splitlines() if "=>" in l]))


def dir_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs
               if not os.path.islink(os.path.join(d, f)))


def avn_env(tb, avn):
    return dict(os.environ, AVN=avn, AIVEN_WEB_URL=tb["api_url"], AIVEN_AUTH_TOKEN=tb.token,
                REQUESTS_CA_BUNDLE=tb["api_ca"], PROJECT=tb["project"], SERVICE=tb["service"],
                AIVEN_CONFIG_DIR=tempfile.mkdtemp(prefix="avn-config-"))


def check_avn(tb, avn, user, work):
    """One `avn service user-creds-download` against the emulator; returns the requests it made."""
    tb.call("DELETE", "/_testbed/requests")
    env = avn_env(tb, avn)
    d = os.path.join(work, "avn-check")
    r = subprocess.run([avn, "service", "user-creds-download", "--project", tb["project"],
                        "--username", user, "-d", d, tb["service"]], env=env, capture_output=True, text=True)
    reqs = tb.call("GET", "/_testbed/requests")
    reqs = reqs.get("requests", reqs) if isinstance(reqs, dict) else reqs
    ok = r.returncode == 0 and all(os.path.exists(os.path.join(d, f)) for f in ("ca.pem", "service.cert", "service.key"))
    return ok, r, reqs


class Sidecar:
    """`certswap run` with the rotate endpoint and a JSON log to follow."""

    def __init__(self, certswap, env, work, name, extra=()):
        self.port = free_port()
        self.log = os.path.join(work, f"{name}.log")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen([certswap, "run", "--log-format", "json", "--poll-interval", "10h",
                                      "--renewal-poll-interval", "10h", "--listen", f"127.0.0.1:{self.port}",
                                      "--enable-rotate-endpoint", *extra],
                                     env=env, stdout=self.logf, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def ready(self):
        return http("GET", self.url("/readyz")) == 200

    def lines(self):
        return open(self.log).read().splitlines()

    def check_now(self, last_step, timeout=60):
        """POST /rotate; waits for the log line of `last_step`; returns wall ms, CPU ms, step ms."""
        n = len(self.lines())
        reset_peak(self.pid)
        t0 = proc_ticks(self.pid)
        start = time.perf_counter()
        http("POST", self.url("/rotate"))
        done = wait_until(lambda: any(f'"step":"{last_step}"' in l.replace(" ", "")
                                      for l in self.lines()[n:]), timeout)
        wall = (time.perf_counter() - start) * 1000
        time.sleep(0.05)
        st = proc_status(self.pid)
        return dict(done=done, wall_ms=wall, cpu_ms=(proc_ticks(self.pid) - t0) * 1000 / HZ,
                    hwm_kib=st["VmHWM"], steps=steps_of("\n".join(self.lines()[n:])))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.logf.close()


def sidecar_rotation(tb, certswap, rotations, work):
    """The same rotation inside `certswap run` (POST /rotate after each renewal): no process
    start or exit, so the check's own time is all of certswap's time."""
    user = f"bench-srot-{os.getpid()}"
    tb.create_user(user)
    env = tb.env(user, os.path.join(work, "sidecar-rotation"))
    subprocess.run([certswap, "init"], env=env, check=True, capture_output=True)
    sc = Sidecar(certswap, env, work, "sidecar-rotation", ("--notify-exec", "/bin/true"))
    runs = []
    try:
        if not wait_until(sc.ready, 60):
            raise SystemExit("the sidecar did not become ready:\n" + "\n".join(sc.lines()))
        for i in range(rotations):
            tb.renew(user, 1000 + i)
            n = len(sc.lines())
            http("POST", sc.url("/rotate"))
            def rotated():
                return next((j for j, l in enumerate(sc.lines()[n:]) if '"step":"check"' in l
                             and '"detail":"rotated' in l), None)
            if not wait_until(lambda: rotated() is not None, 60):
                raise SystemExit("no rotation in the sidecar:\n" + "\n".join(sc.lines()[n:]))
            lines = sc.lines()[n:][:rotated() + 1]
            first = max(j for j, l in enumerate(lines) if '"step":"open"' in l)
            st = steps_of("\n".join(lines[first:]))
            waiting = waiting_of(st)
            runs.append(dict(steps=st, check_ms=st["check"], waiting_ms=waiting, fsync_ms=st["fsync"],
                             fsync_calls=st["fsync:calls"], own_ms=st["check"] - waiting - st["fsync"]))
    finally:
        sc.stop()

    def row(name, values, unit="ms"):
        return stat_row(name, values, unit, 2)

    rows = step_rows(runs, row)
    rows += [row("**the check** (`check` line: open to the last step)", [r["check_ms"] for r in runs]),
             row("waiting = fetch + locate + live:broker + acknowledge", [r["waiting_ms"] for r in runs]),
             row("fsync (the disk's time, inside the steps)", [r["fsync_ms"] for r in runs]),
             row("fsync calls", [r["fsync_calls"] for r in runs], "calls"),
             row("**certswap's own time** = check − waiting − fsync", [r["own_ms"] for r in runs])]
    table(f"1b. One rotation inside the sidecar ({rotations} rotations)",
          f"`certswap run --notify-exec /bin/true --enable-rotate-endpoint`; `POST /_testbed/renew`, then "
          f"`POST /rotate` (x{rotations})",
          ["step", "median", "p99", "min", "max", "unit"], rows,
          ["The same steps and definitions as table 1, from the sidecar's JSON log; there is no process "
           "start or exit in a sidecar's rotation."])
    return dict(rotations=rotations, runs=runs)


def footprint(tb, certswap, avn, idle_seconds, cycles, work):
    res = dict(binary=binary_sizes(certswap, work), idle_seconds=idle_seconds, cycles=cycles)
    user = f"bench-side-{os.getpid()}"
    base_user = f"bench-base-{os.getpid()}"
    tb.create_user(user)
    tb.create_user(base_user)

    # Does the baseline work against the emulator at all?
    ok, r, reqs = check_avn(tb, avn, base_user, work)
    res["avn_requests"] = [f"{q.get('method')} {q.get('path')} -> {q.get('status')}" for q in reqs]
    res["avn_ok"] = ok
    if not ok:
        print(f"\n**`avn service user-creds-download` failed against the emulator** (exit {r.returncode}):\n"
              f"```\n{r.stdout}{r.stderr}\n```\nrequests: {res['avn_requests']}")
        return res
    res["venv_bytes"] = dir_size(os.path.dirname(os.path.dirname(avn)))

    # certswap sidecar, with an installed set, and the baseline loop, started side by side.
    out = os.path.join(work, "sidecar")
    env = tb.env(user, out)
    subprocess.run([certswap, "init"], env=env, check=True, capture_output=True)
    side = Sidecar(certswap, env, work, "sidecar", ["--notify-exec", "/bin/true"])
    benv = avn_env(tb, avn)
    benv.update(USERNAME=base_user, APP_PIDFILE=os.path.join(work, "baseline-app.pid"))
    bdir = os.path.join(work, "baseline")
    loop_log = open(os.path.join(work, "baseline-loop.log"), "w")
    loop = subprocess.Popen(["bash", os.path.join(HERE, "baseline-loop.sh"), bdir, "36000"], env=benv,
                            stdout=loop_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(side.ready, 60, 0.05)
        wait_until(lambda: "cycle done" in open(loop_log.name).read(), 60, 0.05)
        time.sleep(2)

        def loop_pids():
            app = open(benv["APP_PIDFILE"]).read().strip()
            return [p for p in [loop.pid] + descendants(loop.pid) if str(p) != app]

        # Idle: both asleep, same window.
        c_t0, b_t0 = proc_ticks(side.pid), {p: proc_ticks(p) for p in loop_pids()}
        c_w0 = ctxt_switches(side.pid)
        time.sleep(idle_seconds)
        c_t1 = proc_ticks(side.pid)
        c_w1 = ctxt_switches(side.pid)
        res["idle_profile"] = dict(memory_profile(side.pid), wakeups=c_w1 - c_w0)
        b_pids = loop_pids()
        b_t1 = sum(proc_ticks(p) - b_t0.get(p, 0) for p in b_pids)
        res["idle"] = dict(certswap_ticks=c_t1 - c_t0, certswap_rss_kib=proc_status(side.pid)["VmRSS"],
                           baseline_ticks=b_t1, baseline_rss_kib=sum(proc_status(p)["VmRSS"] for p in b_pids),
                           baseline_processes=len(b_pids))

        # A routine check with nothing new (certswap: GET + compare; baseline: a download, no restart).
        c_checks = [side.check_now("compare") for _ in range(cycles)]
        b_checks = [run_measured(["bash", os.path.join(HERE, "baseline-loop.sh"), "--once", bdir, "0"], benv)
                    for _ in range(cycles)]
        # A renewal (certswap: the whole pipeline + notify /bin/true + ack; baseline: download + restart).
        c_rot, b_rot = [], []
        for i in range(cycles):
            tb.renew(user, i)
            c_rot.append(side.check_now("prune"))
            tb.renew(base_user, i)
            b_rot.append(run_measured(["bash", os.path.join(HERE, "baseline-loop.sh"), "--once", bdir, "0"], benv))
        res.update(certswap_checks=c_checks, baseline_checks=b_checks, certswap_rotations=c_rot,
                   baseline_rotations=b_rot)
        res["rotations_done"] = sum(1 for c in c_rot if c["done"])
    finally:
        side.stop()
        os.killpg(loop.pid, 15)  # the loop and its `sleep`
        loop.wait()
        try:
            os.kill(int(open(benv["APP_PIDFILE"]).read()), 15)
        except (OSError, ValueError):
            pass

    med = lambda xs, k: statistics.median(x[k] for x in xs)
    worst = lambda xs, k: max(x[k] for x in xs)
    ratio = lambda b, c: f"{b / c:.1f}×" if c else ("–" if not b else "∞ (certswap 0)")
    i = res["idle"]
    rows = []

    def add(name, c, b, unit, fmt="{:.1f}"):
        rows.append([name, fmt.format(c) + f" {unit}", fmt.format(b) + f" {unit}", ratio(b, c)])

    bs = res["binary"]
    add("on disk: certswap binary stripped / aiven-client venv", mib(bs["stripped"] / 1024), mib(res["venv_bytes"] / 1024), "MiB")
    rows.append(["on disk: certswap binary unstripped (RelWithDebInfo, -g)", f"{mib(bs['unstripped'] / 1024):.1f} MiB", "–", "–"])
    add(f"CPU over {idle_seconds} s idle", i["certswap_ticks"], i["baseline_ticks"], "ticks", "{:.0f}")
    add("RSS idle", mib(i["certswap_rss_kib"]), mib(i["baseline_rss_kib"]), "MiB")
    ip = res["idle_profile"]
    rows.append([f"idle: threads / wakeups over {idle_seconds} s (all threads' context switches)",
                 f"{ip['threads']} / {ip['wakeups']}", "–", "–"])
    rows.append(["idle: anonymous RSS / PSS", f"{mib(ip['anon_kib']):.1f} / {mib(ip['pss_kib']):.1f} MiB", "–", "–"])
    rows.append([f"idle: {ip['libs']} shared libraries: RSS / PSS / copied (anonymous) pages",
                 f"{mib(ip['libs_rss_kib']):.1f} / {mib(ip['libs_pss_kib']):.1f} / {mib(ip['libs_anon_kib']):.1f} MiB",
                 "–", "–"])
    add("routine check, nothing new: time (median)", med(c_checks, "wall_ms"), med(b_checks, "wall_ms"), "ms")
    add("routine check: CPU time (median)", med(c_checks, "cpu_ms"), med(b_checks, "cpu_ms"), "ms")
    add("routine check: peak RSS (max)", mib(worst(c_checks, "hwm_kib")), mib(worst(b_checks, "maxrss_kib")), "MiB")
    add("renewal cycle: time (median)", med(c_rot, "wall_ms"), med(b_rot, "wall_ms"), "ms")
    add("renewal cycle: CPU time (median)", med(c_rot, "cpu_ms"), med(b_rot, "cpu_ms"), "ms")
    add("renewal cycle: peak RSS (max)", mib(worst(c_rot, "hwm_kib")), mib(worst(b_rot, "maxrss_kib")), "MiB")
    table(f"2. Footprint: the sidecar vs the shell loop a user would otherwise run ({cycles} cycles each)",
          "`certswap run --poll-interval 10h --enable-rotate-endpoint --notify-exec /bin/true` + `POST /rotate`  vs  "
          "`bash tests/bench/baseline-loop.sh` (`avn service user-creds-download` + restart of a stand-in app)",
          ["measure", "certswap run", "baseline loop", "baseline / certswap"], rows,
          [f"certswap: {bs['shared_libs']} shared libraries (not counted in the size). Baseline install: the "
           "aiven-client venv (the system python3 not counted). "
           f"Baseline idle = the bash loop and its `sleep` ({i['baseline_processes']} processes), the app excluded "
           "on both sides. certswap figures are of the sidecar process (/proc: utime+stime ticks at "
           f"{HZ} Hz, VmRSS; VmHWM reset through clear_refs before each cycle, so the peak is of that cycle); "
           "time = POST /rotate until the log line of the last step (`compare` for a check, `prune` for a "
           "renewal). Baseline figures are of one `baseline-loop.sh --once` process tree (wait4: wall, "
           "user+sys CPU, ru_maxrss = the largest process, i.e. avn's python). ",
           "The baseline does less per renewal: no validation (offline or against the broker), no atomic "
           "swap, no acknowledgement; every app restart (stand-in: kill + spawn of `sleep`) means downtime "
           "that a real app adds on top.",
           "Shared libraries of the idle sidecar with the largest PSS (KiB RSS/PSS/anonymous): " +
           ", ".join(f"{n} {v['rss']}/{v['pss']}/{v['anon']}" for n, v in ip["top_libs"]) + ".",
           f"avn's requests to the emulator: {', '.join(res['avn_requests'])}. Renewals done by the "
           f"sidecar: {res['rotations_done']}/{cycles}."])
    return res


# ---------------------------------------------------------------- 3. scale

def write_config(tb, path, users, work, n):
    os.makedirs(os.path.join(work, f"scale-{n}"), exist_ok=True)
    targets = [dict(name=u, project=tb["project"], service=tb["service"], user=u,
                    output_dir=os.path.join(work, f"scale-{n}", u)) for u in users]
    json.dump(dict(api=dict(url=tb["api_url"], token_file=tb["token_file"], ca_file=tb["api_ca"]),
                   targets=targets), open(path, "w"), indent=1)


def emulator_get_ms(tb, user, samples=10):
    """Median time of one GET of the user with curl (libcurl, new TLS connection each)."""
    url = f"{tb['api_url']}/v1/project/{tb['project']}/service/{tb['service']}/user/{user}"
    times = []
    for _ in range(samples):
        r = subprocess.run(["curl", "-sf", "-o", "/dev/null", "--cacert", tb["api_ca"], "-H",
                            "Authorization: aivenv1 " + tb.token, "-w", "%{time_total}", url],
                           capture_output=True, text=True, check=True)
        times.append(float(r.stdout) * 1000)
    return statistics.median(times)


def scale(tb, certswap, sizes, timeout, work):
    users = [f"bench-scale-{i}" for i in range(max(sizes))]
    t = time.perf_counter()
    for u in users:
        tb.create_user(u)
    created_s = time.perf_counter() - t
    res = dict(sizes={}, users_created_s=created_s)
    for n in sizes:
        cfg = os.path.join(work, f"scale-{n}.json")
        write_config(tb, cfg, users[:n], work, n)
        base = [certswap, "rotate", "--config", cfg, "--log-format", "json"]
        install = run_measured(base, dict(os.environ), timeout=timeout)
        installed = [json.loads(l)["target"] for l in install["stdout"].splitlines()
                     if '"swap"' in l and json.loads(l).get("status", "ok") == "ok"]
        r = dict(install=dict((k, install[k]) for k in ("rc", "wall_ms", "cpu_ms", "maxrss_kib")),
                 installed=len(installed), checked=n)
        if install["rc"] is None:  # timed out: check only what got installed
            r["checked"] = len(installed)
            write_config(tb, cfg, [u for u in users[:n] if u in set(installed)], work, n)
        check = run_measured(base, dict(os.environ), timeout=timeout)
        r["check"] = dict((k, check[k]) for k in ("rc", "wall_ms", "cpu_ms", "maxrss_kib"))
        r["check"]["gets"] = sum(1 for l in check["stdout"].splitlines() if '"fetch"' in l)
        r["emulator_get_ms"] = emulator_get_ms(tb, users[0])
        # The sidecar on the same config: its first pass is the same check of every target.
        side = Sidecar(certswap, dict(os.environ), work, f"scale-{n}", ["--config", cfg])
        start = time.perf_counter()
        passed = lambda: sum(1 for l in side.lines() if '"step":"compare"' in l.replace(" ", "")) >= r["checked"]
        ready = wait_until(passed, timeout, 0.02)
        elapsed = (time.perf_counter() - start) * 1000
        time.sleep(0.2)
        st = proc_status(side.pid)
        r["sidecar"] = dict(ready=ready, ready_ms=elapsed, readyz=side.ready(),
                            rss_kib=st["VmRSS"], hwm_kib=st["VmHWM"])
        side.stop()
        res["sizes"][n] = r
        print(f"  scale {n}: install {install['wall_ms'] / 1000:.1f} s (rc {install['rc']}), "
              f"check {check['wall_ms'] / 1000:.1f} s", file=sys.stderr)

    rows, prev = [], None
    for n, r in res["sizes"].items():
        c, ins, s = r["check"], r["install"], r["sidecar"]
        slope = "–" if prev is None else \
            f"{(s['hwm_kib'] - prev[1]) / (r['checked'] - prev[0]):.1f} / " \
            f"{(c['maxrss_kib'] - prev[2]) / (r['checked'] - prev[0]):.1f}"
        inst = f"{ins['wall_ms'] / 1000:.1f} s" + ("" if ins["rc"] is not None else
                                                    f" (**stopped at {timeout} s**, {r['installed']} installed)")
        rows.append([n, r["checked"], inst, f"{c['wall_ms'] / 1000:.2f} s",
                     f"{c['wall_ms'] / max(1, r['checked']):.1f}", f"{r['emulator_get_ms']:.1f}",
                     f"{c['cpu_ms'] / max(1, r['checked']):.2f}",
                     f"{mib(c['maxrss_kib']):.1f}", f"{s['ready_ms'] / 1000:.2f} s" + ("" if s["ready"] else " (not finished)"),
                     f"{mib(s['hwm_kib']):.1f}", f"{s['hwm_kib'] / max(1, r['checked']):.0f}", slope])
        prev = (r["checked"], s["hwm_kib"], c["maxrss_kib"])
    table(f"3. Scale: N targets in one `--config`, one service user each, one test bed",
          "`certswap rotate --config scale-N.json --log-format json` twice (install, then check), then "
          "`certswap run --config scale-N.json` for its first pass",
          ["N", "checked", "install cycle (fetch+validate-live+swap each)", "**check cycle**",
           "check ms/target", "emulator GET ms", "check CPU ms/target", "check peak RSS MiB",
           "sidecar first pass", "sidecar peak RSS MiB", "KiB/target (sidecar peak / N)",
           "slope KiB/target (sidecar / rotate)"], rows,
          ["**Check cycle** = the second `certswap rotate --config`: every target checked once, nothing new "
           "(per target the fetch step's two GETs, the user and the project CA; no broker connection). *Sidecar first pass*: `certswap run --config` from "
           "start until every target logged `compare` (the same check; its /readyz answers 200 before that, "
           "from the live sets on disk); peak RSS = VmHWM after the pass. Slope = Δ peak RSS / Δ N from the previous row. *emulator GET ms*: median of 10 GETs of one "
           "user with curl (new TLS connection each) at that N (the emulator rewrites and fsyncs its whole "
           "state.json on every successful API call, so it may grow with N). About 40 ms of every emulator "
           "answer is a stall before its response bytes arrive (curl sees it too; with TLS 1.2 the first byte "
           "comes in ~6 ms and the rest ~40 ms later): the test bed's, not certswap's. Creating {max(sizes)} users took "
           f"{created_s:.1f} s."])
    return res


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser()
    p.add_argument("testbed_dir")
    p.add_argument("certswap")
    p.add_argument("--rotations", type=int, default=50)
    p.add_argument("--idle-seconds", type=int, default=60)
    p.add_argument("--cycles", type=int, default=5, help="check and renewal cycles in the footprint comparison")
    p.add_argument("--scale", default="1,10,100,1000")
    p.add_argument("--scale-timeout", type=float, default=300)
    p.add_argument("--avn", default=os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                                                "certswap", "venv-bench", "bin", "avn"))
    p.add_argument("--json", default=None)
    p.add_argument("--only", default="rotation,sidecar-rotation,footprint,scale,targets,load")
    p.add_argument("--targets", default="100,1000", help="users in the many-targets benchmark, one run each")
    p.add_argument("--chart", default=None, help="PNG to draw (chart.py) from the results")
    p.add_argument("--targets-modes", default="sequential,concurrent",
                   help="which of the many-targets modes to run")
    p.add_argument("--targets-key-type", default="rsa", choices=["rsa", "ec"],
                   help="keys of the many-targets users (ec: quicker to make on a slow machine)")
    p.add_argument("--load-runs", default="cpp:10000,java:5000",
                   help="example producers (cpp, java, go, python) and msg/s, one rotation each")
    p.add_argument("--examples-bin", default=None, help="directory with cpp-producer (for --only load)")
    p.add_argument("--go-producer", default=None, help="the built go-producer (for --only load go:RATE)")
    p.add_argument("--big-service", default="0,1000,10000", help="users in the service, one rotation each")
    p.add_argument("--kube-dir", default=None,
                   help="a running kube test bed (tests/testbed/kubernetes, kube.json) for --only secrets")
    args = p.parse_args()

    tb = Testbed(args.testbed_dir)
    work = tempfile.mkdtemp(prefix="certswap-bench-")
    only = args.only.split(",")
    res = dict(command="tests/bench/bench.py TESTBED CERTSWAP " + " ".join(sys.argv[3:]), started=time.strftime("%FT%T%z"),
               machine=dict(cpus=os.cpu_count(), kernel=platform.release(), load_before=os.getloadavg()),
               certswap=args.certswap)
    print(f"## certswap benchmarks\n\n`{res['command']}` — {os.cpu_count()} CPUs, Linux {platform.release()}, "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if "rotation" in only:
        res["rotation"] = rotation_latency(tb, args.certswap, args.rotations, work)
    if "sidecar-rotation" in only:
        res["sidecar_rotation"] = sidecar_rotation(tb, args.certswap, args.rotations, work)
    if "footprint" in only:
        res["footprint"] = footprint(tb, args.certswap, args.avn, args.idle_seconds, args.cycles, work)
    if "scale" in only:
        res["scale"] = scale(tb, args.certswap, [int(x) for x in args.scale.split(",")], args.scale_timeout, work)
    if "targets" in only:
        import targets_bench
        res["targets"] = targets_bench.targets_bench(tb, args.certswap, [int(x) for x in args.targets.split(",")],
                                                     0.1, args.scale_timeout, work, args.targets_key_type,
                                                     args.targets_modes.split(","))
    if "secrets" in only:
        import targets_bench
        kube = json.load(open(os.path.join(args.kube_dir, "kube.json")))
        res["secrets"] = targets_bench.targets_bench(
            tb, args.certswap, [int(x) for x in args.targets.split(",")], 0.1, args.scale_timeout, work,
            args.targets_key_type, ["concurrent"],
            dict(namespace=kube["namespace"], kubeconfig=kube["admin_kubeconfig"]))
    if "load" in only:
        import app_load_bench
        runs = [(kind, int(rate)) for kind, rate in (r.split(":") for r in args.load_runs.split(","))]
        res["load"] = app_load_bench.app_load(args.testbed_dir, args.certswap, args.examples_bin,
                                              runs, table, args.go_producer)
    if "big-service" in only:
        import big_service_bench
        res["big_service"] = big_service_bench.big_service(tb, args.certswap,
                                                           [int(x) for x in args.big_service.split(",")], work)
    res["machine"]["load_after"] = os.getloadavg()
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"(on {os.cpu_count()} CPUs; other jobs on the machine make the numbers noisy)")
    if args.json:
        json.dump(res, open(args.json, "w"), indent=1, default=str)
        print(f"\nJSON: {args.json}")
    if args.chart:
        import chart
        chart.draw(json.loads(json.dumps(res, default=str)), args.chart)
        print(f"\nChart: {args.chart}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
