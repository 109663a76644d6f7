#!/usr/bin/env python3
"""How fast the test bed's emulator answers, apart from certswap; prints, asserts nothing.

  emulator_bench.py EMULATOR_BIN STATE_DIR USERS

Starts the emulator on STATE_DIR (made with USERS users with EC keys when it holds no
state yet, so that two emulator builds can be compared on the same state), then times
GETs of a user with one client and with eight (keep-alive connections each), without
and with a 50 ms delay fault, and GETs of the service (which lists every user).
"""
import http.client, json, os, signal, ssl, subprocess, sys, threading, time


def main():
    emu, d, nusers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(d, exist_ok=True)
    fresh = not os.path.exists(os.path.join(d, "state.json"))
    ready = os.path.join(d, "ready.json")
    if os.path.exists(ready):
        os.remove(ready)
    proc = subprocess.Popen([emu, "--state-dir", d, "--ready-file", ready], stderr=subprocess.DEVNULL)
    try:
        while not os.path.exists(ready):
            time.sleep(0.05)
        port = json.load(open(ready))["port"]
        ctx = ssl.create_default_context(cafile=os.path.join(d, "api-ca.pem"))
        token = open(os.path.join(d, "token")).read().strip()

        def conn():
            return http.client.HTTPSConnection("localhost", port, context=ctx)

        def call(c, method, path, body=None):
            c = c or conn()
            c.request(method, path, body=json.dumps(body) if body is not None else None,
                      headers={"Content-Type": "application/json", "Authorization": "aivenv1 " + token})
            r = c.getresponse()
            return r.status, r.read()

        if fresh:
            call(None, "POST", "/_testbed/settings", {"key_type": "ec"})
            c = conn()
            for i in range(nusers):
                call(c, "POST", "/_testbed/users", {"username": f"u{i}"})
        print(f"{nusers} users, state.json {os.path.getsize(os.path.join(d, 'state.json')) / 1e6:.2f} MB")
        base = "/v1/project/test-project/service/kafka-test"

        def run(clients, per, path_of, delay_ms):
            call(None, "DELETE", "/_testbed/faults")
            if delay_ms:
                call(None, "POST", "/_testbed/faults", {"method": "*", "path_regex": ".*", "count": 10 ** 9,
                                                        "fault": {"kind": "delay", "ms": delay_ms}})
            latencies = []

            def worker(k):
                c = conn()
                for j in range(per):
                    start = time.perf_counter()
                    status, _ = call(c, "GET", path_of(k * per + j))
                    latencies.append(time.perf_counter() - start)
                    if status != 200:
                        raise SystemExit(f"GET answered {status}")
            start = time.perf_counter()
            threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - start
            latencies.sort()
            return clients * per / elapsed, latencies[len(latencies) // 2] * 1000

        user = lambda i: f"{base}/user/u{i % nusers}?include_secrets=true"
        for delay in (0, 50):
            for clients in (1, 8):
                rps, p50 = run(clients, 40 if clients == 1 else 25, user, delay)
                print(f"GET user, delay {delay:2} ms, {clients} client(s): {rps:7.1f} req/s, p50 {p50:6.1f} ms")
        _, p50 = run(1, 5, lambda i: base, 0)
        print(f"GET service (every user listed), 1 client: p50 {p50:.1f} ms")
        rps, p50 = run(8, 3, lambda i: base, 0)
        print(f"GET service, 8 clients: {rps:.1f} req/s, p50 {p50:.1f} ms")
        call(None, "DELETE", "/_testbed/faults")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


if __name__ == "__main__":
    main()
