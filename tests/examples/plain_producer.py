#!/usr/bin/python3
"""An ordinary confluent-kafka producer with no reload logic at all: the app the
preload library must serve unchanged (test_preload_reload.py).

    plain_producer.py --bootstrap H:P --topic T --rate N --dir D [--in-memory]

It streams numbered messages until SIGTERM. With --in-memory it passes the
certificate and key as ssl.certificate.pem / ssl.key.pem (read once at start),
otherwise as ssl.certificate.location / ssl.key.location. Stdout is JSON lines:
started (first delivery), summary {sent, failed}.
"""
import argparse
import json
import os
import signal
import time

from confluent_kafka import KafkaException, Producer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--in-memory", action="store_true")
    args = ap.parse_args()
    conf = {"bootstrap.servers": args.bootstrap, "security.protocol": "ssl",
            "ssl.ca.location": os.path.join(args.dir, "ca.pem"),
            "enable.idempotence": True, "acks": "all", "reconnect.backoff.ms": 100}
    if args.in_memory:
        with open(os.path.join(args.dir, "service.cert")) as f:
            conf["ssl.certificate.pem"] = f.read()
        with open(os.path.join(args.dir, "service.key")) as f:
            conf["ssl.key.pem"] = f.read()
    else:
        conf["ssl.certificate.location"] = os.path.join(args.dir, "service.cert")
        conf["ssl.key.location"] = os.path.join(args.dir, "service.key")
    p = Producer(conf)
    conf.clear()
    state = {"failed": 0, "started": False, "stop": False}

    def on_delivery(err, _msg):
        if err is not None:
            state["failed"] += 1
        elif not state["started"]:
            state["started"] = True
            print(json.dumps({"event": "started"}), flush=True)

    signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))
    sent, start = 0, time.monotonic()
    while not state["stop"]:
        while start + sent / args.rate <= time.monotonic():
            try:
                p.produce(args.topic, key=f"k{sent % 4}", value=str(sent), on_delivery=on_delivery)
            except KafkaException:
                state["failed"] += 1  # refused at once (e.g. not authorized): lost, go on
            sent += 1
        p.poll(0.005)
    left = p.flush(30)
    print(json.dumps({"event": "summary", "sent": sent, "failed": state["failed"] + left}), flush=True)


if __name__ == "__main__":
    main()
