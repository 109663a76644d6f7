#!/usr/bin/env python3
"""certswap benchmarks on the local test bed; prints tables, asserts nothing.

  bench.py TESTBED_DIR CERTSWAP_BIN [--rotations N] [--idle-seconds S]

1. One rotation, step by step: N times (emulator renews, `certswap rotate`),
   the duration of every pipeline step (from --log-format json), the wall
   time and the peak RSS of the process.
2. The sidecar at rest: `certswap run` with nothing to do, CPU ticks and RSS
   over S seconds (from /proc/<pid>/stat and /proc/<pid>/status).
"""
import argparse, json, os, resource, ssl, statistics, subprocess, tempfile, time, urllib.request

p = argparse.ArgumentParser()
p.add_argument("testbed_dir")
p.add_argument("certswap")
p.add_argument("--rotations", type=int, default=10)
p.add_argument("--idle-seconds", type=int, default=30)
args = p.parse_args()

tb = json.load(open(os.path.join(args.testbed_dir, "testbed.json")))
ctx = ssl.create_default_context(cafile=tb["api_ca"])

def control(method, path, body=None):
    req = urllib.request.Request(tb["api_url"] + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.loads(r.read() or b"{}")

user = f"bench-{os.getpid()}"
control("POST", "/_testbed/users", {"project": tb["project"], "service": tb["service"], "username": user})
out = tempfile.mkdtemp(prefix="certswap-bench-")
env = dict(os.environ, CERTSWAP_API_URL=tb["api_url"], CERTSWAP_API_CA_FILE=tb["api_ca"],
           CERTSWAP_TOKEN_FILE=tb["token_file"], CERTSWAP_PROJECT=tb["project"],
           CERTSWAP_SERVICE=tb["service"], CERTSWAP_USER=user, CERTSWAP_OUTPUT_DIR=out)
subprocess.run([args.certswap, "init"], env=env, check=True, capture_output=True)

steps, walls, rss = {}, [], []
for i in range(args.rotations):
    control("POST", "/_testbed/renew", {"project": tb["project"], "service": tb["service"],
                                         "username": user, "ou": f"bench{i}"})
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    r = subprocess.run([args.certswap, "rotate", "--log-format", "json"], env=env, capture_output=True, text=True)
    walls.append((time.perf_counter() - start) * 1000)
    rss.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    if r.returncode != 0:
        raise SystemExit(f"rotate failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    for line in r.stdout.splitlines():
        e = json.loads(line)
        steps.setdefault(e["step"], []).append(e["ms"])

def row(name, values, unit="ms"):
    v = sorted(values)
    p50 = statistics.median(v)
    p90 = v[min(len(v) - 1, int(0.9 * len(v)))]
    print(f"| {name:<18} | {p50:>8.1f} | {p90:>8.1f} | {max(v):>8.1f} | {unit:<4} |")

print(f"\n### One rotation ({args.rotations} runs: renew, then `certswap rotate`)\n")
print("| step               |      p50 |      p90 |      max | unit |")
print("|--------------------|----------|----------|----------|------|")
for name, values in steps.items():
    row(name, values)
row("whole process", walls)
print(f"\npeak RSS of a `certswap rotate` process: {max(rss) / 1024:.1f} MiB (ru_maxrss of the children)")

# The sidecar at rest.
port_sock = __import__("socket").socket()
port_sock.bind(("127.0.0.1", 0))
port = port_sock.getsockname()[1]
port_sock.close()
proc = subprocess.Popen([args.certswap, "run", "--poll-interval", "10m", "--renewal-poll-interval", "10m",
                         "--listen", f"127.0.0.1:{port}"], env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def sample():
    fields = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    status = dict(l.split(":", 1) for l in open(f"/proc/{proc.pid}/status") if ":" in l)
    return ticks, int(status["VmRSS"].split()[0]), int(status["voluntary_ctxt_switches"])

time.sleep(3)  # start-up check done
t0, rss0, cs0 = sample()
time.sleep(args.idle_seconds)
t1, rss1, cs1 = sample()
proc.terminate()
proc.wait(timeout=30)
hz = os.sysconf("SC_CLK_TCK")
print(f"\n### The sidecar at rest (`certswap run`, one target, nothing to do, {args.idle_seconds} s)\n")
print("| measure                          |    value |")
print("|----------------------------------|----------|")
print(f"| CPU ticks used (utime+stime)     | {t1 - t0:>8} |")
print(f"| CPU time used                    | {(t1 - t0) / hz * 1000:>6.0f} ms |")
print(f"| voluntary context switches       | {cs1 - cs0:>8} |")
print(f"| RSS at start of window           | {rss0 / 1024:>5.1f} MiB |")
print(f"| RSS at end of window             | {rss1 / 1024:>5.1f} MiB |")
