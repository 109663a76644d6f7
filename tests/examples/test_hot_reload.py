"""The examples take a renewed certificate without losing a message: proven on a
real broker with the standard KRaft authorizer.

Each test starts its own broker (authorizer on, ACLs per principal) next to the
shared test bed's API emulator, and registers it as a service of its own. The
emulator renews the user's certificate with another OU, so the broker sees a new
principal. While the example streams numbered messages, certswap rotates (swap,
SIGHUP, acknowledge); then the old principal loses its ACLs and the broker
restarts, so every connection authenticates again. Only an app that really moved
to the new certificate keeps its stream complete. The same test with reloading
switched off must fail, and does (the *_without_reload tests).

Run through ctest (tests/examples/run.sh), which sets CERTSWAP_TESTBED_DIR,
CERTSWAP_BIN, CERTSWAP_EXAMPLES_BIN and CERTSWAP_GO_PRODUCER.
"""
import json
import os
import queue
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation,
                                   AclPermissionType, AdminClient, NewTopic,
                                   ResourcePatternType, ResourceType)

ROOT = Path(__file__).resolve().parents[2]
BROKER_SH = ROOT / "tests/testbed/kafka/kafka-broker.sh"
# Messages per second; tests/bench/app_load_bench.py runs the same scenario at
# higher rates (a benchmark, never a timed test).
RATE = int(os.environ.get("CERTSWAP_EXAMPLES_RATE", "200"))
PARTITIONS = 2
# The phases of a scenario are windows of delivered (or consumed) messages, not
# of seconds: a stalled app or a busy machine cannot pass a phase by waiting it
# out. The counts are what the former fixed phases carried at RATE, so the
# latency report's phases (before, during, after, later) keep their size.
BEFORE_RENEWAL = 2 * RATE  # steady traffic on the old certificate
AFTER_SWAP = 6 * RATE  # traffic on the new certificate before the old principal's ACLs go
AFTER_RESTART = 2 * RATE  # traffic once every connection had to authenticate again
PHASE_TIMEOUT = 90
# The latency windows (see windows()): the steady window starts this long after
# the first delivery, past the producer's start-up queue; the swap and restart
# windows last this long after certswap rotate returned / the broker was back.
STARTUP_S = 1.0
SWAP_WINDOW_S = 2.0
RESTART_WINDOW_S = 2.0
# The examples that write a per-message latency log (--latency-log).
LATENCY_LOG_KINDS = ("cpp", "java", "go", "python")


def wait_until(cond, timeout, what):
    """Polls cond until it returns something true, and returns that."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def testbed():
    with open(Path(os.environ["CERTSWAP_TESTBED_DIR"]) / "testbed.json") as f:
        return json.load(f)


class Emulator:
    """The emulator's control API (tests/testbed/README.md)."""

    def __init__(self, tb):
        self.tb = tb
        self.ctx = ssl.create_default_context(cafile=tb["api_ca"])

    def post(self, path, body):
        req = urllib.request.Request(self.tb["api_url"] + path, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
            return json.loads(r.read() or b"{}")

    def get(self, path):
        with urllib.request.urlopen(self.tb["api_url"] + path, context=self.ctx, timeout=30) as r:
            return json.loads(r.read())


class AuthzBroker:
    """A broker of its own with the StandardAuthorizer; super users are the
    broker itself and the test bed's admin certificate."""

    def __init__(self, tb, workdir):
        self.tb = tb
        self.dir = workdir / "kafka-authz"
        self.start()
        with open(self.dir / "broker.json") as f:
            self.bootstrap = json.load(f)["bootstrap"]

    def start(self):
        emu = Path(self.tb["emulator_dir"])
        subprocess.run([str(BROKER_SH), "start", str(self.dir), "--ca", self.tb["project_ca"],
                        "--cert", str(emu / "broker.pem"), "--key", str(emu / "broker.key"),
                        "--authorizer", "--super-user", "User:CN=testbed-admin"],
                       check=True, stdout=sys.stderr)

    def restart(self):
        self.start()

    def log_size(self):
        return (self.dir / "server.log").stat().st_size

    def log_since(self, offset):
        with open(self.dir / "server.log", errors="replace") as f:
            f.seek(offset)
            return f.read()

    def denied(self, principal, offset):
        """Whether the authorizer refused principal since offset in the log."""
        return f"Principal = {principal} is Denied" in self.log_since(offset)

    def stop(self):
        subprocess.run([str(BROKER_SH), "stop", str(self.dir)], check=False)

    def admin_config(self):
        return {"bootstrap.servers": self.bootstrap, "security.protocol": "ssl",
                "ssl.ca.location": self.tb["project_ca"],
                "ssl.certificate.location": self.tb["admin_cert"],
                "ssl.key.location": self.tb["admin_key"]}


def principal_of(cert_path):
    """Kafka's default SSL principal: the subject in RFC 2253 form."""
    out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253",
                          "-in", str(cert_path)], check=True, capture_output=True, text=True)
    return "User:" + out.stdout.strip().removeprefix("subject=")


class Acls:
    def __init__(self, admin):
        self.admin = admin

    def bindings(self, principal, topic, group):
        ops = [(ResourceType.TOPIC, topic, AclOperation.WRITE),
               (ResourceType.TOPIC, topic, AclOperation.DESCRIBE)]
        if group:
            ops = [(ResourceType.TOPIC, topic, AclOperation.READ),
                   (ResourceType.GROUP, group, AclOperation.READ)]
        return [AclBinding(rt, name, ResourcePatternType.LITERAL, principal, "*", op,
                           AclPermissionType.ALLOW) for rt, name, op in ops]

    def grant(self, principal, topic, group=None):
        bindings = self.bindings(principal, topic, group)
        for f in self.admin.create_acls(bindings).values():
            f.result(timeout=30)
        # The controller has committed them, but the broker's authorizer takes them
        # from the metadata log a moment later; an app that connects before that
        # is refused its topic and gives up. The broker answers DescribeAcls
        # from its own authorizer, so this sees what the app will see.
        flt = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, principal, None,
                               AclOperation.ANY, AclPermissionType.ANY)
        wait_until(lambda: len(self.admin.describe_acls(flt).result(timeout=30)) >= len(bindings),
                   30, f"the broker's authorizer to apply the ACLs of {principal}")

    def revoke(self, principal):
        flt = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, principal, None,
                               AclOperation.ANY, AclPermissionType.ANY)
        deleted = self.admin.delete_acls([flt])[flt].result(timeout=30)
        assert deleted, f"no ACLs of {principal} to delete"


class TopicWatch:
    """The topic read as the admin while the scenario runs: what the app really
    delivered, with the producer's timestamps (as read_all sees them later)."""

    def __init__(self, admin_config, topic):
        self.c = Consumer({**admin_config, "group.id": f"watch-{secrets.token_hex(4)}",
                           "enable.auto.commit": False, "reconnect.backoff.ms": 100})
        self.c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        self.stamps = []
        self.values = []

    def _read(self, budget_s):
        """Reads for at most budget_s, so a producer that keeps pace with the
        watch cannot hold the caller (and its timeout) off."""
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline:
            batch = [m for m in self.c.consume(500, timeout=0.1) if m.error() is None]
            self.stamps.extend(m.timestamp()[1] for m in batch)
            self.values.extend(int(m.value()) for m in batch)
            if len(batch) < 500:
                break

    def count(self, since_ms=0, budget_s=1.0):
        """Records on the topic with a timestamp after since_ms, as far as the
        watch has read."""
        self._read(budget_s)
        return sum(1 for ts in self.stamps if ts > since_ms)

    def count_due_after(self, since_ms, budget_s=1.0):
        """Records of a numbered stream at RATE that were due after since_ms.
        Message n is due n/RATE after the start, which is at most its timestamp
        minus n/RATE (a message is never sent early): an app still working off
        a backlog has sent late messages after since_ms, but not yet the ones
        due then."""
        self._read(budget_s)
        if not self.values:
            return 0
        start_ms = min(ts - v * 1000 / RATE for v, ts in zip(self.values, self.stamps))
        first = (since_ms - start_ms) * RATE / 1000
        return sum(1 for v in self.values if v > first)

    def close(self):
        self.c.close()


class App:
    """An example process; its stdout JSON lines are collected as events."""

    def __init__(self, argv, log_path, env=None):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env=env)
        self.events = queue.Queue()
        self.all = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            event["_t"] = time.time()
            self.all.append(event)
            self.events.put(event)

    def wait_for(self, name, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if event["event"] == name:
                return event
        return None

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # The reader ends at EOF: after it, every line the app printed is in self.all.
        self.reader.join(timeout=30)
        assert not self.reader.is_alive(), "the example's stdout stayed open after it exited"
        self.log.close()
        return next((e for e in self.all if e["event"] == "summary"), None)


class Scenario:
    """One user, one certswap output directory, one topic on the authz broker."""

    def __init__(self, tmp_path, fmt="pem"):
        self.tb = testbed()
        self.emulator = Emulator(self.tb)
        self.tmp = tmp_path
        self.broker = AuthzBroker(self.tb, tmp_path)
        suffix = secrets.token_hex(4)
        self.service = f"kafka-authz-{suffix}"
        self.user = f"app-{suffix}"
        self.topic = f"numbers-{suffix}"
        self.group = f"group-{suffix}"
        host, port = self.broker.bootstrap.split(":")
        self.emulator.post("/_testbed/service", {"project": self.tb["project"], "service": self.service,
                                                 "host": host, "port": int(port)})
        self.emulator.post("/_testbed/users", {"project": self.tb["project"], "service": self.service,
                                               "username": self.user})
        self.out = tmp_path / "creds"
        self.fmt = fmt
        self.password_file = tmp_path / "keystore-password"
        self.password_file.write_text(secrets.token_hex(12) + "\n")
        self.password_file.chmod(0o600)
        self.admin = AdminClient(self.broker.admin_config())
        self.acls = Acls(self.admin)
        fs = self.admin.create_topics([NewTopic(self.topic, PARTITIONS, 1)])
        fs[self.topic].result(timeout=30)
        self.watch = TopicWatch(self.broker.admin_config(), self.topic)

    def certswap(self, *args):
        env = dict(os.environ,
                   CERTSWAP_API_URL=self.tb["api_url"], CERTSWAP_API_CA_FILE=self.tb["api_ca"],
                   CERTSWAP_TOKEN_FILE=self.tb["token_file"], CERTSWAP_PROJECT=self.tb["project"],
                   CERTSWAP_SERVICE=self.service, CERTSWAP_USER=self.user,
                   CERTSWAP_OUTPUT_DIR=str(self.out))
        extra = []
        if self.fmt == "pkcs12":
            extra = ["--format", "pkcs12", "--pkcs12-password-file", str(self.password_file)]
        r = subprocess.run([os.environ["CERTSWAP_BIN"], *args, *extra], env=env,
                           capture_output=True, text=True, timeout=120)
        print(f"certswap {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}", file=sys.stderr)
        return r

    def current_principal(self):
        """The principal of the certificate the API serves now (as the operator sees it)."""
        path = f"/v1/project/{self.tb['project']}/service/{self.service}/user/{self.user}"
        token = Path(self.tb["token_file"]).read_text().strip()
        req = urllib.request.Request(self.tb["api_url"] + path,
                                     headers={"authorization": f"aivenv1 {token}"})
        with urllib.request.urlopen(req, context=self.emulator.ctx, timeout=30) as r:
            cert = json.loads(r.read())["user"]["access_cert"]
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
            f.write(cert)
            f.flush()
            return principal_of(f.name)

    def renew(self):
        self.emulator.post("/_testbed/renew", {"project": self.tb["project"], "service": self.service,
                                               "username": self.user, "ou": f"renewed-{secrets.token_hex(3)}"})

    def ack_count(self):
        q = f"project={self.tb['project']}&service={self.service}&username={self.user}"
        return self.emulator.get(f"/_testbed/acks?{q}")["count"]

    def read_all(self, timeout=60):
        """Every record of the topic up to its high watermark, read as the admin:
        {partition: [(value, timestamp_ms)]}."""
        c = Consumer({**self.broker.admin_config(), "group.id": f"verify-{secrets.token_hex(4)}",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        ends = {p: c.get_watermark_offsets(TopicPartition(self.topic, p), timeout=30)[1]
                for p in range(PARTITIONS)}
        c.assign([TopicPartition(self.topic, p, 0) for p in range(PARTITIONS)])
        got = {p: [] for p in range(PARTITIONS)}
        next_offset = {p: 0 for p in range(PARTITIONS)}
        deadline = time.monotonic() + timeout
        while any(next_offset[p] < ends[p] for p in ends) and time.monotonic() < deadline:
            for m in c.consume(500, timeout=1):
                if m.error() is None:
                    got[m.partition()].append((int(m.value()), m.timestamp()[1]))
                    next_offset[m.partition()] = m.offset() + 1
        c.close()
        return got

    def close(self):
        self.watch.close()
        self.broker.stop()


def stream_intact(values_by_partition, sent):
    """Every number 0..sent-1 exactly once, ascending within each partition."""
    problems = []
    seen = [v for part in values_by_partition.values() for v in part]
    if sorted(seen) != list(range(sent)):
        missing = sorted(set(range(sent)) - set(seen))
        dupes = len(seen) - len(set(seen))
        problems.append(f"{len(missing)} missing (first {missing[:5]}), {dupes} duplicates, "
                        f"{len(seen)} read of {sent} sent")
    for p, values in values_by_partition.items():
        if values != sorted(values):
            problems.append(f"partition {p} out of order")
    return problems


def read_latency_log(path):
    """The per-message log of an example (--latency-log): [(scheduled unix ms,
    latency ms or None when the message failed or was never reported)]."""
    records = []
    with open(path) as f:
        for line in f:
            at, outcome = line.split()
            records.append((float(at), None if outcome in ("failed", "undelivered") else float(outcome)))
    return records


def percentiles(values):
    v = sorted(values)
    if not v:
        return {"n": 0, "p50": None, "p99": None}
    return {"n": len(v), "p50": round(v[len(v) // 2], 2),
            "p99": round(v[min(len(v) - 1, len(v) * 99 // 100)], 2)}


def windows(records, timeline):
    """Produce latency per window, cut the same way for every example from the
    harness's own timeline (unix ms) and the messages' scheduled send times:
      steady:  from STARTUP_S after the first delivery until certswap rotate starts;
      swap:    from rotate until SWAP_WINDOW_S after it returned (or the restart);
      restart: from the broker's stop until RESTART_WINDOW_S after it was back;
      after:   from there until the app was stopped.
    Messages between the swap and restart windows (the producer running on the
    new certificate) are in none. A message in a window that failed or was
    never reported counts as "lost" there."""
    t = timeline
    bounds = {
        "steady": (t["started"] + STARTUP_S * 1000, t["rotate"]),
        "swap": (t["rotate"], min(t["rotated"] + SWAP_WINDOW_S * 1000, t["restart"])),
        "restart": (t["restart"], t["restarted"] + RESTART_WINDOW_S * 1000),
        "after": (t["restarted"] + RESTART_WINDOW_S * 1000, t["stop"]),
    }
    out = {}
    for name, (lo, hi) in bounds.items():
        inside = [ms for at, ms in records if lo <= at < hi]
        out[name] = {**percentiles([ms for ms in inside if ms is not None]),
                     "lost": sum(1 for ms in inside if ms is None), "seconds": round((hi - lo) / 1000, 1)}
    return out


def report(name, summary, timeline=None, latency_log=None):
    extra = {}
    if latency_log and Path(latency_log).exists():
        extra["windows"] = windows(read_latency_log(latency_log), timeline)
        rows = "\n".join(f"| {w} | {v['seconds']} | {v['n']} | {v['p50']} | {v['p99']} |"
                         for w, v in extra["windows"].items())
        print(f"\n{name}: produce latency per window (ms, scheduled send to delivery)\n"
              f"| window | s | messages | p50 | p99 |\n|---|---|---|---|---|\n{rows}\n",
              file=sys.stderr)
    out = os.environ.get("CERTSWAP_EXAMPLES_REPORT")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps({"example": name, "target_rate": RATE, **summary, **extra}) + "\n")


@pytest.fixture
def scenario(tmp_path):
    made = []

    def make(fmt="pem"):
        made.append(Scenario(tmp_path, fmt))
        return made[-1]
    yield make
    for s in made:
        s.close()


def producer_argv(kind, s, reload, latency_log):
    bins = Path(os.environ["CERTSWAP_EXAMPLES_BIN"])
    common = ["--credentials", str(s.out), "--bootstrap", s.broker.bootstrap, "--topic", s.topic,
              "--rate", str(RATE)]
    if kind in LATENCY_LOG_KINDS:
        common += ["--latency-log", str(latency_log)]
    if kind == "cpp":
        argv = [str(bins / "cpp-producer"), *common]
    elif kind == "python":
        argv = [sys.executable, str(ROOT / "examples/python/producer.py"), *common]
    elif kind == "go":
        argv = [os.environ["CERTSWAP_GO_PRODUCER"], *common]
    else:
        jar_dir = ROOT / "examples/java-client/target"
        argv = ["java", "-cp", f"{jar_dir}/classes:{jar_dir}/lib/*",
                "io.certswap.examples.NumberedProducer", *common,
                "--password-file", str(s.password_file)]
    return argv + ([] if reload else ["--no-reload"])


def wait_for_traffic_after(s, old, since_ms, log_mark, expect_traffic, count=None, what=None,
                           n=AFTER_RESTART):
    """The last phase: the old principal has lost its ACLs and every connection
    has authenticated again. An app that moved to the new certificate keeps
    delivering; one that did not is refused by the broker, which is as far as a
    control run needs to go (its stream is broken from there on)."""
    count = count or (lambda: s.watch.count(since_ms))
    what = what or f"{n} messages delivered after the old principal lost its ACLs"

    def traffic_or_refusal():
        if count() >= n:
            return "traffic"
        if not expect_traffic and s.broker.denied(old, log_mark):
            return "refused"
        return None
    return wait_until(traffic_or_refusal, PHASE_TIMEOUT,
                      what if expect_traffic else f"{what}, or the broker refusing {old}")


def run_producer_rotation(kind, s, reload):
    """The whole scenario for a producer; returns (problems, summary)."""
    # Java and Go take the certificate on each new connection, by themselves.
    per_handshake = kind in ("java", "go")
    assert s.certswap("init").returncode == 0
    old = s.current_principal()
    s.acls.grant(old, s.topic)

    latency_log = s.tmp / f"{kind}-latency.log"
    app = App(producer_argv(kind, s, reload, latency_log), s.tmp / f"{kind}-producer.log")
    timeline = {}  # unix ms of each step, for the latency windows
    now_ms = lambda: time.time() * 1000  # noqa: E731
    try:
        started = app.wait_for("started", 60)
        assert started, "the example never delivered a message"
        timeline["started"] = started["_t"] * 1000
        steady_ms = timeline["started"] + STARTUP_S * 1000
        wait_until(lambda: s.watch.count_due_after(steady_ms) >= BEFORE_RENEWAL, PHASE_TIMEOUT,
                   f"{BEFORE_RENEWAL} messages on the old certificate before the renewal")
        s.renew()
        new = s.current_principal()
        assert new != old
        s.acls.grant(new, s.topic)  # before the swap, as an operator would
        # Java and Go get no signal: their handshakes read ..data (and the JVM
        # would take SIGHUP as a shutdown).
        notify = [] if per_handshake else ["--notify-signal", "SIGHUP", "--notify-pid", str(app.proc.pid)]
        timeline["rotate"] = now_ms()
        r = s.certswap("rotate", *notify)
        timeline["rotated"] = now_ms()
        assert r.returncode == 0, "certswap rotate failed"
        assert s.ack_count() == 1, "certswap did not acknowledge the renewal exactly once"

        if per_handshake:
            # Java and Go keep established connections (new ones get the new set), so the
            # restart comes first: it makes every connection authenticate again.
            timeline["restart"] = now_ms()
            s.broker.restart()
            timeline["restarted"] = mark_ms = now_ms()
            reloaded = app.wait_for("reloaded", 30) if reload else None
            # Only connections made after the restart carry traffic now: with the
            # reload, that is the new certificate.
            wait_until(lambda: s.watch.count(mark_ms) >= RATE, PHASE_TIMEOUT,
                       f"{RATE} messages after the broker restart, before the revocation")
            log_mark = s.broker.log_size()
            s.acls.revoke(old)
        else:
            mark_ms = now_ms()
            reloaded = app.wait_for("reloaded", 30) if reload else None
            if reloaded:
                mark_ms = reloaded["_t"] * 1000
            # Steady traffic on the new certificate; without the reload, the old
            # certificate still has its ACLs here.
            wait_until(lambda: s.watch.count(mark_ms) >= AFTER_SWAP, PHASE_TIMEOUT,
                       f"{AFTER_SWAP} messages after the swap, before the revocation")
            s.acls.revoke(old)
            timeline["restart"] = now_ms()
            s.broker.restart()
            timeline["restarted"] = now_ms()
            log_mark = s.broker.log_size()
        if reload:
            assert reloaded, "the example did not report a reload"
        restarted_at_ms = time.time() * 1000
        # The "after" window begins RESTART_WINDOW_S after the broker was back:
        # wait for messages due in it, not for the backlog of the restart.
        # (For Java and Go the revocation comes later: wait past it too.)
        after_ms = max(timeline["restarted"] + RESTART_WINDOW_S * 1000, restarted_at_ms)
        wait_for_traffic_after(s, old, None, log_mark, expect_traffic=reload,
                               count=lambda: s.watch.count_due_after(after_ms),
                               what=f"{AFTER_RESTART} messages due after the restart window delivered")
    finally:
        timeline["stop"] = now_ms()
        summary = app.stop()
    assert summary, "the example printed no summary"

    got = s.read_all()
    values = {p: [v for v, _ in recs] for p, recs in got.items()}
    problems = stream_intact(values, summary["sent"])
    seen = [v for part in values.values() for v in part]
    stream = {"lost": len(set(range(summary["sent"])) - set(seen)),
              "duplicated": len(seen) - len(set(seen))}
    complete = all(k in timeline for k in ("started", "rotate", "rotated", "restart", "restarted"))
    report(f"{kind}-producer" + ("" if reload else " (reload off)"), {**summary, **stream}, timeline,
           latency_log if complete else None)
    if summary["failed"]:
        problems.append(f"{summary['failed']} deliveries failed")
    after_restart = sum(1 for recs in got.values() for _, ts in recs if ts > restarted_at_ms)
    if after_restart < RATE:  # the last phase waited for twice as many
        problems.append(f"only {after_restart} messages after the old principal lost its ACLs "
                        "and the broker restarted")
    return problems, summary


@pytest.mark.parametrize("kind", ["cpp", "python", "java", "go"])
def test_producer_keeps_every_message_across_rotation(scenario, kind):
    s = scenario("pkcs12" if kind == "java" else "pem")
    problems, summary = run_producer_rotation(kind, s, reload=True)
    assert not problems, "; ".join(problems)
    assert summary["reloads"] == 1


@pytest.mark.parametrize("kind", ["cpp", "python", "java", "go"])
def test_producer_without_reload_loses_the_stream(scenario, kind):
    """The control: the same scenario must fail when the app ignores the swap."""
    s = scenario("pkcs12" if kind == "java" else "pem")
    problems, _ = run_producer_rotation(kind, s, reload=False)
    assert problems, "the stream survived without a reload: the test cannot tell"


class BackgroundNumbers:
    """Numbered messages from the admin (a super user), at RATE, until stopped."""

    def __init__(self, s):
        self.p = Producer({**s.broker.admin_config(), "enable.idempotence": True, "acks": "all",
                           "reconnect.backoff.ms": 100})
        self.topic = s.topic
        self.sent = 0
        self.failed = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _on_delivery(self, err, _msg):
        if err is not None:
            self.failed += 1

    def _run(self):
        start = time.monotonic()
        while not self.stop_flag.is_set():
            while start + self.sent / RATE <= time.monotonic():
                self.p.produce(self.topic, key=f"k{self.sent % 4}", value=str(self.sent),
                               on_delivery=self._on_delivery)
                self.sent += 1
            self.p.poll(0.005)

    def stop(self):
        self.stop_flag.set()
        self.thread.join()
        assert self.p.flush(60) == 0
        assert self.failed == 0
        return self.sent


def run_consumer_rotation(s, reload):
    assert s.certswap("init").returncode == 0
    old = s.current_principal()
    s.acls.grant(old, s.topic, s.group)
    bins = Path(os.environ["CERTSWAP_EXAMPLES_BIN"])
    argv = [str(bins / "cpp-consumer"), "--credentials", str(s.out), "--bootstrap", s.broker.bootstrap,
            "--topic", s.topic, "--group", s.group, "--instance-id", "consumer-1"]
    app = App(argv + ([] if reload else ["--no-reload"]), s.tmp / "cpp-consumer.log")
    numbers = BackgroundNumbers(s)

    def consumed(since=0):
        """Messages the example consumed among those numbered since or later."""
        return sum(1 for e in list(app.all) if e["event"] == "message" and int(e["value"]) >= since)
    try:
        assert app.wait_for("message", 60), "the example consumed nothing"
        wait_until(lambda: consumed() >= BEFORE_RENEWAL, PHASE_TIMEOUT,
                   f"{BEFORE_RENEWAL} messages consumed on the old certificate before the renewal")
        s.renew()
        new = s.current_principal()
        assert new != old
        s.acls.grant(new, s.topic, s.group)
        log_mark = s.broker.log_size()
        r = s.certswap("rotate", "--notify-signal", "SIGHUP", "--notify-pid", str(app.proc.pid))
        assert r.returncode == 0, "certswap rotate failed"
        assert s.ack_count() == 1
        reloaded = app.wait_for("reloaded", 30) if reload else None
        # Messages produced from here on can only reach a reloaded example through
        # its new consumer, which must have joined (or rebalanced) by then.
        mark = numbers.sent
        wait_until(lambda: consumed(mark) >= 2 * RATE, PHASE_TIMEOUT,
                   f"{2 * RATE} messages produced after the swap consumed")
        window = s.broker.log_since(log_mark)
        rebalances = window.count(f"Preparing to rebalance group {s.group}")
        rejoined = f"joins group {s.group} in Stable state. Replacing previously mapped member" in window
        s.acls.revoke(old)
        s.broker.restart()
        restart_mark, restart_log_mark = numbers.sent, s.broker.log_size()
        if reload:
            assert reloaded, "the example did not report a reload"
        wait_for_traffic_after(s, old, None, restart_log_mark, expect_traffic=reload,
                               count=lambda: consumed(restart_mark),
                               what=f"{AFTER_RESTART} messages produced after the restart consumed")
        sent = numbers.stop()
        # Let the consumer catch up with the last messages, while it makes progress.
        seen, last_progress = -1, time.monotonic()
        while time.monotonic() - last_progress < 8:
            now_seen = sum(1 for e in app.all if e["event"] == "message")
            if now_seen >= sent:
                break
            if now_seen != seen:
                seen, last_progress = now_seen, time.monotonic()
            time.sleep(0.2)
    finally:
        if not numbers.stop_flag.is_set():
            numbers.stop_flag.set()
        # Without a reload the consumer's last commit waits for a coordinator
        # that refuses it until the 45 s session times out; its summary is not
        # needed to see the broken stream.
        summary = app.stop(timeout=60 if reload else 5)
    if reload:
        assert summary, "the example printed no summary"
    values = {p: [] for p in range(PARTITIONS)}
    for e in app.all:
        if e["event"] == "message":
            values[e["partition"]].append(int(e["value"]))
    problems = stream_intact(values, sent)
    if reload and rebalances:
        problems.append(f"the group rebalanced {rebalances} time(s) during the reload")
    if reload and not rejoined:
        problems.append("the new consumer did not take the place of the static member")
    return problems, summary


def test_consumer_reads_every_message_once_without_rebalance_across_rotation(scenario):
    s = scenario()
    problems, summary = run_consumer_rotation(s, reload=True)
    assert not problems, "; ".join(problems)
    assert summary["reloads"] == 1


def test_consumer_without_reload_stops_reading(scenario):
    s = scenario()
    problems, _ = run_consumer_rotation(s, reload=False)
    assert problems, "the consumer kept reading without a reload: the test cannot tell"
