#!/usr/bin/python3
"""An ordinary confluent-kafka consumer with no reload logic at all, the
consumer counterpart of plain_producer.py (test_preload_reload.py).

    plain_consumer.py --bootstrap H:P --topic T --partitions N --group G --dir D

It reads every partition from the beginning (assigned, no rebalancing, like
`kcat -C`) until SIGTERM and prints "<partition> <value>" per message on
stdout. The certificate and key are ssl.certificate.location /
ssl.key.location in D.
"""
import argparse
import os
import signal

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    c = Consumer({"bootstrap.servers": args.bootstrap, "security.protocol": "ssl",
                  "ssl.ca.location": os.path.join(args.dir, "ca.pem"),
                  "ssl.certificate.location": os.path.join(args.dir, "service.cert"),
                  "ssl.key.location": os.path.join(args.dir, "service.key"),
                  "group.id": args.group, "enable.auto.commit": False,
                  "reconnect.backoff.ms": 100})
    c.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in range(args.partitions)])
    state = {"stop": False}
    signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))
    while not state["stop"]:
        msg = c.poll(0.1)
        if msg is not None and msg.error() is None:
            print(f"{msg.partition()} {msg.value().decode()}", flush=True)
    c.close()


if __name__ == "__main__":
    main()
