"""bench.py --only big-service: certswap's peak memory while one service grows.

Aiven's GET of a service and the answers to the user PUTs list every user with
its certificate and, until March 2027, its key: ~4.5 KiB a user. For each size,
a service of its own on the test bed's broker is padded with that many users
(the emulator's /_testbed/padding-users), keys shown as before March 2027, and
one `certswap rotate` of a pending renewal is measured: its peak RSS (wait4)
and how much it grows over the smallest service. Prints a table, asserts nothing.
"""
import os, time, urllib.request

from bench import Testbed, mib, run_measured, table


def answer_bytes(tb, path):
    """The size of an API answer, counted as it is read: parsing 40 MiB of JSON here
    would grow this process by ~150 MiB, and wait4 counts a child's RSS from fork on."""
    req = urllib.request.Request(tb["api_url"] + path, headers={"Authorization": "aivenv1 " + tb.token})
    n = 0
    with urllib.request.urlopen(req, context=tb.ctx, timeout=120) as r:
        while chunk := r.read(1 << 16):
            n += len(chunk)
    return n


def big_service(tb: Testbed, certswap, sizes, work):
    settings = tb.call("GET", "/_testbed/settings")
    # Keys in every answer, as Aiven sends them until March 2027: the larger case.
    tb.call("POST", "/_testbed/settings", dict(redact_by_default=False))
    port = int(tb["bootstrap"].rsplit(":", 1)[1])
    rows, results, base = [], [], None
    try:
        for n in sizes:
            service = f"kafka-big-{n}-{int(time.time())}"
            user = "big-bench"
            where = dict(project=tb["project"], service=service)
            tb.call("POST", "/_testbed/service", dict(where, host="127.0.0.1", port=port))
            tb.call("POST", "/_testbed/users", dict(where, username=user))
            tb.call("POST", "/_testbed/padding-users", dict(where, count=n))
            answer = answer_bytes(tb, f"/v1/project/{tb['project']}/service/{service}")
            out = os.path.join(work, f"big-{n}")
            env = dict(tb.env(user, out), CERTSWAP_SERVICE=service)
            init = run_measured([certswap, "init"], env)
            if init["rc"] != 0:
                raise RuntimeError(f"init on {n} users exited {init['rc']}: {init['stdout'][-2000:]}")
            tb.call("POST", "/_testbed/renew", dict(where, username=user, ou="big"))
            # GNU time forks certswap itself and reports that child's peak RSS: a
            # child of this process would start from this process's RSS (wait4
            # counts the forked image before exec).
            rss_file = os.path.join(work, f"big-{n}.rss")
            run = run_measured(["/usr/bin/time", "-f", "%M", "-o", rss_file, certswap, "rotate"], env)
            if run["rc"] != 0:
                raise RuntimeError(f"rotate on {n} users exited {run['rc']}: {run['stdout'][-2000:]}")
            wall_ms, cpu_ms = run["wall_ms"], run["cpu_ms"]
            rss_kib = int(open(rss_file).read().split()[-1])
            base = rss_kib if base is None else base
            results.append(dict(users=n, answer_bytes=answer, peak_rss_kib=rss_kib, wall_ms=wall_ms,
                                cpu_ms=cpu_ms))
            rows.append([n, f"{answer / 2**20:.1f}", f"{mib(rss_kib):.1f}", f"{mib(rss_kib - base):+.1f}",
                         f"{wall_ms:.0f}", f"{cpu_ms:.0f}"])
            tb.call("POST", "/_testbed/padding-users", dict(where, count=0))
    finally:
        tb.call("POST", "/_testbed/settings", dict(redact_by_default=settings["redact_by_default"]))
    table("Peak memory of one rotation as the service grows",
          "`/usr/bin/time -f %M certswap rotate` (pending renewal; init before it), keys in every answer",
          ["users in the service", "GET service answer (MiB)", "peak RSS (MiB)", "growth (MiB)",
           "wall (ms)", "CPU (ms)"], rows,
          ["Growth is over the first row. The GET of the service (locate) and the acknowledgement's "
           "answer are read as they arrive and only the listeners (or the error) are built."])
    return results
