#!/usr/bin/env python3
"""A confluent-kafka producer that takes a renewed client certificate on SIGHUP.

    producer.py --credentials DIR --bootstrap HOST:PORT --topic T [--rate 200] [--no-reload]

confluent-kafka (librdkafka underneath) reads its certificate once, when the
Producer is built, so a new certificate needs a new Producer. On SIGHUP (sent by
certswap's signal notifier after a swap) this app:
  1. builds a new Producer from the generation DIR/..data points at and checks
     that it can describe the topic, on a thread of its own, while the old one
     keeps sending; if the check fails, it keeps the old one and retries;
  2. stops giving the old Producer messages and holds new ones in a list until
     every message the old one took is delivered (order per partition holds);
     the loop keeps polling meanwhile, it does not block in flush();
  3. sends the held messages and the next ones on the new Producer, and hands
     the old one to a thread that flushes and destroys it.
Building and checking a Producer (TLS context, connection, handshake, metadata)
took 35 to 744 ms on a busy 2-core machine: on the producing loop it delayed
every message scheduled meanwhile (tests/bench/python_recipe_bench.py).
When the old producer is handed over, it has nothing left in flight, so its
delivery callbacks never run on the retiring thread.

Stdout is JSON lines, like the C++ examples: started, reloaded, summary.
"""
import argparse
import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import confluent_kafka
from confluent_kafka import KafkaException, Producer

CHANGE_WINDOW_S = 2.0   # "during": from the signal until this long after the switch
AFTER_WINDOW_S = 3.0    # "after": the next few seconds; "later": the rest


def read_pem_set(directory):
    """The three PEMs of one generation, read through the resolved ..data target
    so that a swap between two reads cannot pair a new key with an old cert."""
    for _ in range(5):
        data = os.path.join(directory, "..data")
        generation = os.readlink(data) if os.path.islink(data) else ""
        base = os.path.join(directory, generation)
        pems = {}
        for name in ("service.cert", "service.key", "ca.pem"):
            with open(os.path.join(base, name), encoding="ascii") as f:
                pems[name] = f.read()
        if not os.path.islink(data) or os.readlink(data) == generation:
            return generation, pems
    raise RuntimeError(f"{directory}/..data kept changing while it was read")


NATIVE_RELOAD = "ssl.certificate.refresh.interval.ms"


def has_native_reload():
    """librdkafka's own certificate reload (PR #5483, in no release up to 2.16):
    asked of the librdkafka this runs with, so an upgraded wheel switches the app
    over by itself. With it, the client re-reads its ssl.*.location files and no
    second Producer is needed."""
    try:
        Producer({NATIVE_RELOAD: 10000, "log_level": 0})
        return True
    except KafkaException:
        return False


class NumberedProducer:
    def __init__(self, args):
        self.args = args
        self.scheduled = []      # scheduled send time per sequence number
        self.latency = {}        # sequence number -> ms from scheduled send to delivery
        self.failed = 0
        self.failed_seqs = set()
        self.stop = []           # non-empty once SIGTERM/SIGINT came
        self.started = False
        self.reloads = []        # (signalled, switched) per switch
        self.native = not args.no_reload and has_native_reload()
        print(f"producer.py: librdkafka {confluent_kafka.libversion()[0]}, "
              + ("reloads the files itself (" + NATIVE_RELOAD + ")" if self.native
                 else "no own reload: a new generation gets a new Producer"),
              file=sys.stderr, flush=True)

    def make_producer(self):
        directory = self.args.credentials
        if self.native:
            # The stable names through ..data: a swap is one rename, so a
            # re-read takes a whole set.
            generation = os.readlink(os.path.join(directory, "..data"))
            tls = {"ssl.certificate.location": os.path.join(directory, "service.cert"),
                   "ssl.key.location": os.path.join(directory, "service.key"),
                   "ssl.ca.location": os.path.join(directory, "ca.pem"),
                   NATIVE_RELOAD: 10000}
        else:
            generation, pems = read_pem_set(directory)
            tls = {"ssl.certificate.pem": pems["service.cert"], "ssl.key.pem": pems["service.key"],
                   "ssl.ca.pem": pems["ca.pem"]}
        producer = Producer({
            "bootstrap.servers": self.args.bootstrap,
            "security.protocol": "ssl",
            **tls,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            # 0: a message waits for the broker however long it is away (a
            # restart under load took more than 30 s) instead of failing; the
            # idempotent producer keeps order and sends it once.
            "message.timeout.ms": 0,
            "reconnect.backoff.ms": 100,
            # librdkafka doubles the wait between reconnections up to this
            # bound (default 10 s): after a broker restart, Debian's 2.0.2
            # resumed 2 to 9 s late with the default, under 1 s with 1 s
            # (tests/bench/librdkafka_versions_bench.py).
            "reconnect.backoff.max.ms": 1000,
            # Nagle's algorithm held produce requests back on 2.0.2 at high
            # rates (steady p50 70 ms at 5000 msg/s, 6.6 ms without it); off
            # by default since librdkafka 2.10.
            "socket.nagle.disable": True,
        })
        # Authorized for the topic with this certificate? Only then switch.
        topic = producer.list_topics(self.args.topic, timeout=10).topics[self.args.topic]
        if topic.error is not None:
            raise KafkaException(topic.error)
        return generation, producer

    def on_delivery(self, seq):
        def report(err, _msg):
            if err is not None:
                self.failed += 1
                self.failed_seqs.add(seq)
                print(f"delivery failed for {seq}: {err}", file=sys.stderr, flush=True)
                return
            self.latency[seq] = (time.monotonic() - self.scheduled[seq]) * 1000
            if not self.started:
                self.started = True
                emit({"event": "started"})
        return report

    def produce(self, producer, seq):
        while True:
            try:
                producer.produce(self.args.topic, key=f"k{seq % 4}", value=str(seq),
                                 on_delivery=self.on_delivery(seq))
                return
            except BufferError:
                # The local queue is full (the broker away, or slower than the
                # rate): serve delivery reports, which frees room, and offer the
                # same message again, so no rate or outage drops one. Asked to
                # stop meanwhile, it stays unsent ("undelivered" in the log).
                if self.stop:
                    return
                producer.poll(0.1)
            except KafkaException as e:
                self.failed += 1
                self.failed_seqs.add(seq)
                print(f"delivery failed for {seq}: {e}", file=sys.stderr, flush=True)
                return

    def run(self):
        hup = []
        stop = self.stop
        signal.signal(signal.SIGHUP, lambda *_: hup.append(1))
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))

        _, producer = self.make_producer()
        # One thread builds (and checks) new producers, one retires old ones:
        # neither may hold up the loop that sends.
        builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="build-producer")
        retirer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retire-producer")
        interval = 1.0 / self.args.rate
        start = time.monotonic()
        wall_start = time.time()
        pending = None   # when a change was signalled and not yet switched to
        retry_at = 0.0
        building = None  # the Future of make_producer()
        draining = None  # (generation, new producer) while the old one's messages are in flight
        held = []        # messages scheduled while draining, in order
        retired = []     # Futures of old producers being flushed and destroyed
        while not stop or draining:  # a switch under way is finished first
            if hup and self.native:  # librdkafka takes it within its interval
                hup.clear()
                self.reloads.append((time.monotonic(), time.monotonic()))
                emit({"event": "reloaded", "native": True,
                      "generation": os.readlink(os.path.join(self.args.credentials, "..data"))})
            if hup and not self.args.no_reload:
                hup.clear()
                pending = pending or time.monotonic()
            if pending and not building and not draining and time.monotonic() >= retry_at:
                building = builder.submit(self.make_producer)
            if building and building.done():
                try:
                    draining = building.result()
                except (KafkaException, OSError, RuntimeError) as e:
                    print(f"producer.py: keeping the current certificate: {e}", file=sys.stderr, flush=True)
                    retry_at = time.monotonic() + 2
                building = None
            # Catch up on the schedule, so a pause shows up as latency, not as fewer messages.
            now = time.monotonic()
            while not stop and start + interval * len(self.scheduled) <= now:
                seq = len(self.scheduled)
                self.scheduled.append(start + interval * seq)
                if draining:
                    held.append(seq)
                else:
                    self.produce(producer, seq)
            # len() counts the messages the old producer has not reported yet:
            # at 0, nothing it took can land after what the new one sends.
            if draining and len(producer) == 0:
                generation, fresh = draining
                retired.append(retirer.submit(retire, producer))
                producer, draining = fresh, None
                for seq in held:
                    self.produce(producer, seq)
                held.clear()
                self.reloads.append((pending, time.monotonic()))
                pending = None
                emit({"event": "reloaded", "generation": generation})
            producer.poll(0.001)

        if building and building.exception() is None:  # built for a switch that will not happen
            retired.append(retirer.submit(retire, building.result()[1]))
        for f in retired:
            f.result()
        builder.shutdown()
        retirer.shutdown()
        left = producer.flush(30)
        if left:
            print(f"producer.py: {left} messages not delivered within 30 s", file=sys.stderr, flush=True)
        reloads = self.reloads
        phases = {"before": [], "during": [], "after": [], "later": []}
        for seq, ms in self.latency.items():
            t = self.scheduled[seq]
            if not reloads or t < reloads[0][0]:
                phases["before"].append(ms)
            elif t <= reloads[0][1] + CHANGE_WINDOW_S:
                phases["during"].append(ms)
            elif t <= reloads[0][1] + CHANGE_WINDOW_S + AFTER_WINDOW_S:
                phases["after"].append(ms)
            else:
                phases["later"].append(ms)
        if self.args.latency_log:
            self.write_latency_log(self.args.latency_log, start, wall_start)
        emit({"event": "summary", "sent": len(self.scheduled), "delivered": len(self.latency),
              "failed": self.failed, "reloads": len(reloads),
              "latency_ms": {k: percentiles(v) for k, v in phases.items()}})


    def write_latency_log(self, path, start, wall_start):
        """One line per message, as the C++, Java and Go examples write it:
        "<scheduled unix ms> <ms to delivery report | failed | undelivered>"."""
        with open(path, "w") as f:
            for seq, at in enumerate(self.scheduled):
                ms = self.latency.get(seq)
                outcome = "failed" if seq in self.failed_seqs else \
                    "undelivered" if ms is None else f"{ms:.3f}"
                f.write(f"{(wall_start + at - start) * 1000:.3f} {outcome}\n")


def retire(producer):
    """Off the producing loop: deliver what is left, then destroy (when the last
    reference goes, at the end of this function)."""
    left = producer.flush(30)
    if left:
        print(f"producer.py: {left} messages of the previous producer not delivered within 30 s",
              file=sys.stderr, flush=True)


def percentiles(values):
    values = sorted(values)
    if not values:
        return {"n": 0, "p50": 0, "p99": 0}
    return {"n": len(values), "p50": round(values[len(values) // 2], 2),
            "p99": round(values[min(len(values) - 1, len(values) * 99 // 100)], 2)}


def emit(event):
    print(json.dumps(event), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credentials", required=True, help="certswap's output directory")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second")
    parser.add_argument("--no-reload", action="store_true", help="ignore SIGHUP (to show what breaks)")
    parser.add_argument("--latency-log", help="write each message's scheduled time and latency here")
    NumberedProducer(parser.parse_args()).run()


if __name__ == "__main__":
    main()
