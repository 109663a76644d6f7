#!/usr/bin/env python3
"""A confluent-kafka producer that takes a renewed client certificate on SIGHUP.

    producer.py --credentials DIR --bootstrap HOST:PORT --topic T [--rate 200] [--no-reload]

confluent-kafka (librdkafka underneath) reads its certificate once, when the
Producer is built, so a new certificate needs a new Producer. On SIGHUP (sent by
certswap's signal notifier after a swap) this app:
  1. builds a new Producer from the generation DIR/..data points at and checks
     that it can describe the topic; if not, it keeps the old one and retries;
  2. stops sending and flushes the old Producer, so every message in flight is
     delivered before the new one sends (order per partition holds);
  3. sends on the new one.

Stdout is JSON lines, like the C++ examples: started, reloaded, summary.
"""
import argparse
import json
import os
import signal
import sys
import time

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


class NumberedProducer:
    def __init__(self, args):
        self.args = args
        self.scheduled = []      # scheduled send time per sequence number
        self.latency = {}        # sequence number -> ms from scheduled send to delivery
        self.failed = 0
        self.started = False

    def make_producer(self):
        generation, pems = read_pem_set(self.args.credentials)
        producer = Producer({
            "bootstrap.servers": self.args.bootstrap,
            "security.protocol": "ssl",
            "ssl.certificate.pem": pems["service.cert"],
            "ssl.key.pem": pems["service.key"],
            "ssl.ca.pem": pems["ca.pem"],
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": 30000,
            "reconnect.backoff.ms": 100,
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
                print(f"delivery failed for {seq}: {err}", file=sys.stderr, flush=True)
                return
            self.latency[seq] = (time.monotonic() - self.scheduled[seq]) * 1000
            if not self.started:
                self.started = True
                emit({"event": "started"})
        return report

    def run(self):
        hup = []
        stop = []
        signal.signal(signal.SIGHUP, lambda *_: hup.append(1))
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))

        _, producer = self.make_producer()
        interval = 1.0 / self.args.rate
        start = time.monotonic()
        pending = None   # when a change was signalled and not yet switched to
        retry_at = 0.0
        reloads = []     # (signalled, switched)
        while not stop:
            if hup and not self.args.no_reload:
                hup.clear()
                pending = pending or time.monotonic()
            if pending and time.monotonic() >= retry_at:
                try:
                    generation, fresh = self.make_producer()
                except (KafkaException, OSError, RuntimeError) as e:
                    print(f"producer.py: keeping the current certificate: {e}", file=sys.stderr, flush=True)
                    retry_at = time.monotonic() + 2
                else:
                    producer.flush(30)
                    producer = fresh
                    reloads.append((pending, time.monotonic()))
                    pending = None
                    emit({"event": "reloaded", "generation": generation})
            # Catch up on the schedule, so a pause shows up as latency, not as fewer messages.
            now = time.monotonic()
            while start + interval * len(self.scheduled) <= now:
                seq = len(self.scheduled)
                self.scheduled.append(start + interval * seq)
                try:
                    producer.produce(self.args.topic, key=f"k{seq % 4}", value=str(seq),
                                     on_delivery=self.on_delivery(seq))
                except (KafkaException, BufferError) as e:
                    self.failed += 1
                    print(f"delivery failed for {seq}: {e}", file=sys.stderr, flush=True)
            producer.poll(0.001)

        left = producer.flush(30)
        if left:
            print(f"producer.py: {left} messages not delivered within 30 s", file=sys.stderr, flush=True)
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
        emit({"event": "summary", "sent": len(self.scheduled), "delivered": len(self.latency),
              "failed": self.failed, "reloads": len(reloads),
              "latency_ms": {k: percentiles(v) for k, v in phases.items()}})


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
    NumberedProducer(parser.parse_args()).run()


if __name__ == "__main__":
    main()
