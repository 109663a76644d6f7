"""Unmodified apps take the renewed certificate through libcertswap-preload.so.

The scenario of test_hot_reload.py (its own broker with the authorizer, a
renewal to a new principal, a broker restart, the old principal's ACLs
removed; the restart first, as for the Java example, since the library
switches new connections only), run against apps with no reload code and no certswap-specific Kafka
settings: Debian's kcat and Debian's python3-confluent-kafka (run with
/usr/bin/python3, which loads the system librdkafka and OpenSSL 3), and a
producer and a consumer on PyPI's confluent-kafka wheel (the venv's python;
OpenSSL linked into its librdkafka, reached by the library's static path), and
a Go producer with librdkafka and OpenSSL linked into its executable
(go-static-producer, confluent-kafka-go's default layout). With
LD_PRELOAD the reconnections after the restart present the new certificate and
the stream stays complete; the same app without it loses messages (the
*no_preload tests, which must find problems).

Run through ctest, which sets CERTSWAP_TESTBED_DIR, CERTSWAP_BIN,
CERTSWAP_PRELOAD_LIB and CERTSWAP_GO_STATIC_DIR.
"""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from test_hot_reload import (PARTITIONS, PHASE_TIMEOUT, RATE, App, BackgroundNumbers,  # noqa: F401
                             scenario, stream_intact, wait_for_traffic_after, wait_until)

HERE = Path(__file__).resolve().parent


def preload_env(s, preload):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if preload:
        env.update(LD_PRELOAD=os.environ["CERTSWAP_PRELOAD_LIB"], CERTSWAP_RELOAD_DIR=str(s.out),
                   CERTSWAP_RELOAD_LOG="stderr")
    return env


def log_has(path, text):
    return text in Path(path).read_text(errors="replace")


class KcatProducer:
    """kcat -P fed numbered lines on stdin at RATE; sent counts lines written."""

    def __init__(self, s, preload):
        self.log_path = s.tmp / "kcat-producer.log"
        self.log = open(self.log_path, "w")
        # -E: keep running through the broker restart (kcat exits on "all
        # brokers down" otherwise), as a long-running kcat pipeline would be run.
        argv = ["kcat", "-P", "-E", "-b", s.broker.bootstrap, "-t", s.topic,
                "-X", "security.protocol=ssl", "-X", f"ssl.ca.location={s.out}/ca.pem",
                "-X", f"ssl.certificate.location={s.out}/service.cert",
                "-X", f"ssl.key.location={s.out}/service.key",
                "-X", "enable.idempotence=true", "-X", "acks=all", "-X", "reconnect.backoff.ms=100"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=self.log, text=True,
                                     env=preload_env(s, preload), bufsize=1)
        self.sent = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        start = time.monotonic()
        try:
            while not self.stop_flag.is_set():
                while start + self.sent / RATE <= time.monotonic():
                    self.proc.stdin.write(f"{self.sent}\n")
                    self.sent += 1
                self.proc.stdin.flush()
                time.sleep(0.005)
        except (BrokenPipeError, ValueError):
            pass  # kcat gave up (the control); what reached the topic tells

    def stop(self):
        self.stop_flag.set()
        self.thread.join()
        try:
            self.proc.stdin.close()  # end of input: kcat flushes and exits
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        return self.sent


class ConsumerApp:
    """kcat -C (simple consumer, every partition from the beginning) printing
    "<partition> <value>" per message; with `python`, plain_consumer.py run by
    that python instead, printing the same."""

    def __init__(self, s, preload, python=None):
        self.log_path = s.tmp / "consumer.log"
        self.log = open(self.log_path, "w")
        argv = ["kcat", "-C", "-E", "-u", "-o", "beginning", "-f", "%p %s\\n",
                "-b", s.broker.bootstrap, "-t", s.topic,
                "-X", "security.protocol=ssl", "-X", f"ssl.ca.location={s.out}/ca.pem",
                "-X", f"ssl.certificate.location={s.out}/service.cert",
                "-X", f"ssl.key.location={s.out}/service.key", "-X", "reconnect.backoff.ms=100"]
        if python:
            argv = [python, str(HERE / "plain_consumer.py"), "--bootstrap", s.broker.bootstrap,
                    "--topic", s.topic, "--partitions", str(PARTITIONS), "--group", s.group,
                    "--dir", str(s.out)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env=preload_env(s, preload))
        self.values = {p: [] for p in range(PARTITIONS)}
        self.count = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) == 2 and all(x.isdigit() for x in parts):
                self.values[int(parts[0])].append(int(parts[1]))
                self.count += 1

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def rotate_restart(s, old, app_log, preload, progress, group=None):
    """Renew to a new principal, swap, restart the broker, remove the old
    principal's ACLs; returns the time (ms) the old principal lost them.
    progress() counts the messages the app has delivered (or consumed): each
    phase is a number of them, so only the app's real progress ends it.

    The restart comes before the revocation, as in the Java example's test: the
    library switches new connections only, and the restart makes every
    connection of the app a new one."""
    s.renew()
    new = s.current_principal()
    assert new != old
    s.acls.grant(new, s.topic, group)
    r = s.certswap("rotate")
    assert r.returncode == 0, "certswap rotate failed"
    assert s.ack_count() == 1, "certswap did not acknowledge the renewal exactly once"
    mark = progress()
    wait_until(lambda: progress() >= mark + 2 * RATE, PHASE_TIMEOUT,
               f"{2 * RATE} messages after the swap, before the restart")
    s.broker.restart()
    if preload:
        wait_until(lambda: log_has(app_log, "switched to generation"), 60,
                   "the preload library's switch on reconnection")
    mark = progress()
    wait_until(lambda: progress() >= mark + RATE, PHASE_TIMEOUT,
               f"{RATE} messages after the restart, before the revocation")
    log_mark = s.broker.log_size()
    s.acls.revoke(old)
    revoked_at_ms = time.time() * 1000
    mark = progress()
    wait_for_traffic_after(s, old, revoked_at_ms, log_mark, expect_traffic=preload,
                           count=lambda: progress() - mark, n=4 * RATE)
    return revoked_at_ms


def check_topic(s, sent, revoked_at_ms):
    got = s.read_all()
    values = {p: [v for v, _ in recs] for p, recs in got.items()}
    problems = stream_intact(values, sent)
    after = sum(1 for recs in got.values() for _, ts in recs if ts > revoked_at_ms)
    if after < RATE:  # the last phase waited for four times as many
        problems.append(f"only {after} messages after the old principal lost its ACLs")
    return problems


def run_kcat_producer(s, preload):
    assert s.certswap("init").returncode == 0
    old = s.current_principal()
    s.acls.grant(old, s.topic)
    app = KcatProducer(s, preload)
    try:
        wait_until(lambda: s.watch.count() > 0, 60, "kcat's first message on the topic")
        revoked_at_ms = rotate_restart(s, old, app.log_path, preload, s.watch.count)
    finally:
        sent = app.stop()
    print(Path(app.log_path).read_text(errors="replace")[-2000:])
    return check_topic(s, sent, revoked_at_ms)


def run_python_producer(s, preload, in_memory, python="/usr/bin/python3", preload_says=None):
    argv = [python, str(HERE / "plain_producer.py")] + (["--in-memory"] if in_memory else [])
    return run_producer(s, preload, argv, preload_says)


def run_producer(s, preload, argv, preload_says=None):
    """argv: a producer taking plain_producer.py's arguments and printing its
    events. preload_says: a line the library must have logged when preloaded."""
    assert s.certswap("init").returncode == 0
    old = s.current_principal()
    s.acls.grant(old, s.topic)
    argv = argv + ["--bootstrap", s.broker.bootstrap, "--topic", s.topic, "--rate", str(RATE),
                   "--dir", str(s.out)]
    log_path = s.tmp / "producer.log"
    app = App(argv, log_path, env=preload_env(s, preload))
    try:
        assert app.wait_for("started", 60), "the producer never delivered a message"
        revoked_at_ms = rotate_restart(s, old, log_path, preload, s.watch.count)
    finally:
        summary = app.stop()
    log = Path(log_path).read_text(errors="replace")
    print(log[-2000:])
    assert summary, "the producer printed no summary"
    if preload and preload_says:
        assert preload_says in log, f"the preload library did not log {preload_says!r}"
    problems = check_topic(s, summary["sent"], revoked_at_ms)
    if summary["failed"]:
        problems.append(f"{summary['failed']} deliveries failed")
    return problems


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "no_preload"])
def test_kcat_producer(scenario, preload):
    problems = run_kcat_producer(scenario(), preload)
    if preload:
        assert not problems, "; ".join(problems)
    else:
        assert problems, "kcat kept its stream without the preload library: the test cannot tell"


@pytest.mark.parametrize("in_memory", [False, True], ids=["file_paths", "in_memory_pem"])
@pytest.mark.parametrize("preload", [True, False], ids=["preload", "no_preload"])
def test_python_producer(scenario, preload, in_memory):
    problems = run_python_producer(scenario(), preload, in_memory)
    if preload:
        assert not problems, "; ".join(problems)
    else:
        assert problems, "the producer kept its stream without the preload library: the test cannot tell"


def wheel_python():
    """The pinned venv's python (this test runs in it) with PyPI's confluent-kafka
    wheel: librdkafka and OpenSSL linked statically, so only the library's
    static path can reach it."""
    probe = subprocess.run([sys.executable, "-c", "import confluent_kafka.cimpl as c; print(c.__file__)"],
                           capture_output=True, text=True, check=True)
    assert "site-packages" in probe.stdout and not probe.stdout.startswith("/usr/lib/python3"), probe.stdout
    return sys.executable


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "no_preload"])
def test_wheel_producer(scenario, preload):
    problems = run_python_producer(scenario(), preload, in_memory=False, python=wheel_python(),
                                   preload_says="hooked (static OpenSSL 0x3")
    if preload:
        assert not problems, "; ".join(problems)
    else:
        assert problems, "the wheel's producer kept its stream without the preload library: the test cannot tell"


def go_static_producer():
    """tests/examples/go-static-producer as confluent-kafka-go builds by default:
    librdkafka and OpenSSL linked into the (non-PIE) executable, which exports
    neither (build-go-static.sh checks the layout)."""
    exe = Path(os.environ["CERTSWAP_GO_STATIC_DIR"]) / "go-static-producer"
    assert exe.is_file(), f"{exe} missing: run the examples.preload.go-static-build test first"
    return exe


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "no_preload"])
def test_go_static_producer(scenario, preload):
    exe = go_static_producer()
    problems = run_producer(scenario(), preload, [str(exe)],
                            preload_says=f"librdkafka linked into the executable {exe} hooked (static OpenSSL 0x3")
    if preload:
        assert not problems, "; ".join(problems)
    else:
        assert problems, "the Go producer kept its stream without the preload library: the test cannot tell"


def run_consumer(s, preload, python=None):
    assert s.certswap("init").returncode == 0
    old = s.current_principal()
    s.acls.grant(old, s.topic, s.group)
    app = ConsumerApp(s, preload, python)
    numbers = BackgroundNumbers(s)
    try:
        wait_until(lambda: app.count > 0, 60, "the consumer's first message")
        rotate_restart(s, old, app.log_path, preload, lambda: app.count, group=s.group)
        # Two more seconds of numbers after the old principal was refused: a
        # refusal may be seen (the broker's log) before the ACL change reached
        # the fetches, and a control that stopped there found its consumer
        # holding every number sent so far (seen once in CI).
        mark = numbers.sent
        wait_until(lambda: numbers.sent >= mark + 2 * RATE, PHASE_TIMEOUT,
                   f"{2 * RATE} more numbers sent after the revocation")
        sent = numbers.stop()
        # Let the consumer catch up with the last messages, while it makes progress.
        seen, last_progress = -1, time.monotonic()
        while app.count < sent and time.monotonic() - last_progress < 8:
            if app.count != seen:
                seen, last_progress = app.count, time.monotonic()
            time.sleep(0.2)
    finally:
        if not numbers.stop_flag.is_set():
            numbers.stop_flag.set()
        app.stop()
    log = Path(app.log_path).read_text(errors="replace")
    print(log[-2000:])
    problems = stream_intact(app.values, sent)
    if preload and python and "hooked (static OpenSSL 0x3" not in log:
        problems.append("the preload library did not hook the wheel's librdkafka")
    return problems


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "no_preload"])
def test_kcat_consumer(scenario, preload):
    problems = run_consumer(scenario(), preload)
    if preload:
        assert not problems, "; ".join(problems)
    else:
        assert problems, "kcat kept reading without the preload library: the test cannot tell"


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "no_preload"])
def test_wheel_consumer(scenario, preload):
    problems = run_consumer(scenario(), preload, python=wheel_python())
    if preload:
        assert not problems, "; ".join(problems)
    else:
        assert problems, "the wheel's consumer kept reading without the preload library: the test cannot tell"
