#!/usr/bin/env python3
"""Produce latency and recovery after a broker restart, per librdkafka build and setting.

    librdkafka_versions_bench.py TESTBED_DIR [--python NAME=PATH ...] [--variant NAME=k=v,k=v ...]
                                 [--rounds 3] [--steady 20] [--rate 200] [--json FILE]

Apps on Debian's librdkafka 2.0.2 (python3-confluent-kafka, run by
/usr/bin/python3) showed a steady produce latency about ten times that of the
same app on PyPI's confluent-kafka wheel (librdkafka 2.16), and came back
seconds later after a broker restart. This script runs the same producer under
each python and each set of settings, all at once against one broker of its own
(tests/testbed/kafka/kafka-broker.sh, certificates from the test bed's
emulator), so that every client sees the same machine and the same restart:

1. each client streams numbered messages at --rate (2 partitions, idempotent,
   acks=all, reconnect.backoff.ms=100: the settings of the examples' unmodified
   apps), polling every millisecond;
2. after a 3 s warm-up, a --steady window: latency from the scheduled send to
   the delivery report, p50 and p99;
3. the broker restarts (SIGTERM, start again on the same port and data); for
   each client, how long after the broker was ready again its first message was
   delivered, and the longest latency of the round.

Rounds repeat the whole thing. Prints Markdown tables; asserts nothing.
The default pythons are Debian's (/usr/bin/python3) and the examples' venv
(tests/examples/setup-venv.sh); the default variants are the library's
defaults, socket.nagle.disable=true (the default since librdkafka 2.10.0), and
that plus reconnect.backoff.max.ms=1000.

The script runs itself as the producer (--child) under each python.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import pct, table as markdown_table  # noqa: E402 (beside this file)

ROOT = Path(__file__).resolve().parents[2]
BROKER_SH = ROOT / "tests/testbed/kafka/kafka-broker.sh"
WARMUP_S = 3.0
PARTITIONS = 2
DEFAULT_VARIANTS = [
    "defaults=",
    "nagle off=socket.nagle.disable=true",
    "nagle off, backoff max 1 s=socket.nagle.disable=true,reconnect.backoff.max.ms=1000",
]


# ---------------------------------------------------------------- the producer (--child)

def child(args):
    """Streams numbered messages until SIGTERM; then writes one JSON object to
    --out: the librdkafka version and [scheduled, delivered or null] per message,
    in CLOCK_MONOTONIC seconds (the parent's clock too)."""
    from confluent_kafka import KafkaException, Producer, libversion
    conf = {"bootstrap.servers": args.bootstrap, "security.protocol": "ssl",
            "ssl.ca.location": args.ca, "ssl.certificate.location": args.cert,
            "ssl.key.location": args.key, "enable.idempotence": True, "acks": "all",
            "reconnect.backoff.ms": 100}
    for setting in filter(None, args.set.split(",")):
        key, value = setting.split("=", 1)
        conf[key] = value
    producer = Producer(conf)
    scheduled, delivered = [], []
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    def report(seq):
        def on_delivery(err, _msg):
            if err is None:
                delivered[seq] = time.monotonic()
        return on_delivery

    interval = 1.0 / args.rate
    start = time.monotonic()
    print(json.dumps({"event": "ready"}), flush=True)
    while not stop:
        now = time.monotonic()
        while start + interval * len(scheduled) <= now:
            seq = len(scheduled)
            scheduled.append(start + interval * seq)
            delivered.append(None)
            try:
                producer.produce(args.topic, key=f"k{seq % 4}", value=str(seq),
                                 on_delivery=report(seq))
            except (KafkaException, BufferError):
                pass  # counted as not delivered
        producer.poll(0.001)
    producer.flush(30)
    with open(args.out, "w") as f:
        json.dump({"librdkafka": libversion()[0], "messages": list(zip(scheduled, delivered))}, f)


# ---------------------------------------------------------------- the bench

def table(title, header, rows, notes=()):
    markdown_table(title, None, header, rows, notes)


def load():
    return "{:.1f}".format(os.getloadavg()[0])


class Broker:
    def __init__(self, tb, directory):
        emu = Path(tb["emulator_dir"])
        self.argv = [str(BROKER_SH), "start", str(directory), "--ca", tb["project_ca"],
                     "--cert", str(emu / "broker.pem"), "--key", str(emu / "broker.key")]
        self.dir = directory
        self.start()
        self.bootstrap = json.loads((directory / "broker.json").read_text())["bootstrap"]

    def start(self):
        subprocess.run(self.argv, check=True, stdout=sys.stderr)

    def restart(self):
        """(stop began, ready again) in CLOCK_MONOTONIC seconds."""
        began = time.monotonic()
        self.start()  # kafka-broker.sh start stops a running broker first
        return began, time.monotonic()

    def stop(self):
        subprocess.run([str(BROKER_SH), "stop", str(self.dir)], check=False)


def create_topic(tb, bootstrap, topic):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap, "security.protocol": "ssl",
                         "ssl.ca.location": tb["project_ca"], "ssl.certificate.location": tb["admin_cert"],
                         "ssl.key.location": tb["admin_key"]})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=30)


def run_round(tb, broker, clients, args, work, n):
    procs = []
    for i, (py_name, python, var_name, settings) in enumerate(clients):
        topic = f"latency-{n}-{i}"
        create_topic(tb, broker.bootstrap, topic)
        out = work / f"round{n}-client{i}.json"
        argv = [python, __file__, "--child", "--bootstrap", broker.bootstrap, "--topic", topic,
                "--ca", tb["project_ca"], "--cert", tb["admin_cert"], "--key", tb["admin_key"],
                "--rate", str(args.rate), "--set", settings, "--out", str(out)]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=dict(os.environ, LD_PRELOAD=""))
        procs.append((p, out))
    for p, _ in procs:
        p.stdout.readline()  # "ready": the producer exists
    started = time.monotonic()
    load_before = load()
    time.sleep(WARMUP_S + args.steady)
    steady_end = time.monotonic()
    down, ready = broker.restart()
    load_after = load()
    time.sleep(args.after)
    for p, _ in procs:
        p.send_signal(signal.SIGTERM)
    results = []
    for (p, out), client in zip(procs, clients):
        p.wait(timeout=60)
        data = json.loads(out.read_text())
        msgs = data["messages"]
        steady = [(d - s) * 1000 for s, d in msgs if started + WARMUP_S <= s < steady_end and d]
        after = [d for s, d in msgs if d and d >= ready]
        results.append({
            "round": n, "python": client[0], "variant": client[2], "librdkafka": data["librdkafka"],
            "steady_n": len(steady), "p50": statistics.median(steady) if steady else float("nan"),
            "p99": pct(steady, 99), "broker_down_s": ready - down,
            "resume_s": (min(after) - ready) if after else float("nan"),
            "max_latency_s": max(((d or s) - s) for s, d in msgs if s >= steady_end - 1),
            "lost": sum(1 for _, d in msgs if d is None), "load": f"{load_before} / {load_after}"})
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("testbed", nargs="?")
    ap.add_argument("--python", action="append", help="NAME=PATH of a python with confluent_kafka")
    ap.add_argument("--variant", action="append", help="NAME=key=value,key=value ('NAME=' for none)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steady", type=float, default=20.0, help="seconds in the steady window")
    ap.add_argument("--after", type=float, default=20.0, help="seconds kept after the restart")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--json", help="write every round's figures here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for opt in ("--bootstrap", "--topic", "--ca", "--cert", "--key", "--set", "--out"):
        ap.add_argument(opt, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    if not args.testbed:
        ap.error("TESTBED_DIR is required")

    tb = json.loads((Path(args.testbed) / "testbed.json").read_text())
    pythons = args.python or [
        "Debian python3-confluent-kafka=/usr/bin/python3",
        "PyPI wheel=" + subprocess.run(["bash", str(ROOT / "tests/examples/setup-venv.sh")],
                                       check=True, capture_output=True, text=True).stdout.strip()]
    variants = args.variant or DEFAULT_VARIANTS
    clients = []
    for p in pythons:
        py_name, python = p.split("=", 1)
        for v in variants:
            var_name, settings = v.split("=", 1)
            clients.append((py_name, python, var_name, settings))

    results = []
    with tempfile.TemporaryDirectory(prefix="certswap-rdkafka-") as tmp:
        work = Path(tmp)
        broker = Broker(tb, work / "kafka")
        try:
            for n in range(1, args.rounds + 1):
                print(f"round {n} of {args.rounds} ({len(clients)} clients)...", file=sys.stderr, flush=True)
                results.extend(run_round(tb, broker, clients, args, work, n))
        finally:
            broker.stop()

    rows = [[r["round"], r["python"], r["librdkafka"], r["variant"], r["steady_n"],
             f"{r['p50']:.1f}", f"{r['p99']:.1f}", f"{r['broker_down_s']:.1f}", f"{r['resume_s']:.2f}",
             f"{r['max_latency_s']:.1f}", r["lost"], r["load"]] for r in results]
    table("Every round", ["round", "client", "librdkafka", "settings", "steady msgs",
                          "steady p50 ms", "steady p99 ms", "broker down s",
                          "first delivery after ready s", "max latency s", "lost", "load 1-min (before / after)"],
          rows)
    summary = []
    for py_name, _, var_name, _ in clients:
        mine = [r for r in results if r["python"] == py_name and r["variant"] == var_name]
        summary.append([py_name, mine[0]["librdkafka"], var_name,
                        f"{statistics.median(r['p50'] for r in mine):.1f}",
                        f"{statistics.median(r['p99'] for r in mine):.1f}",
                        " / ".join(f"{r['resume_s']:.1f}" for r in mine),
                        sum(r["lost"] for r in mine)])
    table("Median over the rounds",
          ["client", "librdkafka", "settings", "steady p50 ms", "steady p99 ms",
           "first delivery after the broker was ready, s (each round)", "lost"], summary,
          notes=[f"{args.rate:g} msg/s per client, {len(clients)} clients at once, one broker; "
                 f"steady window {args.steady:g} s after a {WARMUP_S:g} s warm-up; latency from the "
                 "scheduled send to the delivery report."])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
