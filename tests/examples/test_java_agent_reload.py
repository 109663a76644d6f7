"""An unmodified Java producer takes the renewed certificate through the certswap
Java agent (plugins/java-agent), with no code change and no Kafka setting changed.

The app is examples/java-client's NumberedProducer with --no-reload: plain
kafka-clients 4.x settings (ssl.keystore.location=<dir>/client.keystore.p12, the
built-in engine factory, no ssl.keymanager.algorithm). The agent comes only
through JAVA_TOOL_OPTIONS and CERTSWAP_RELOAD_DIR. The scenario is
test_hot_reload.py's: rotation to a new OU principal, then a broker restart and
the old principal's ACLs removed. Without the agent the same run must fail.

Run through ctest (tests/examples/run.sh with this file), which sets
CERTSWAP_TESTBED_DIR, CERTSWAP_BIN and CERTSWAP_EXAMPLES_BIN.
"""
import os
import time

from test_hot_reload import (BEFORE_RENEWAL, PHASE_TIMEOUT, RATE, ROOT, App,  # noqa: F401
                             report, scenario, stream_intact, wait_for_traffic_after, wait_until)

AGENT_JAR = ROOT / "plugins/java-agent/target/certswap-agent.jar"


def producer(s, agent):
    jar_dir = ROOT / "examples/java-client/target"
    argv = ["java", "-cp", f"{jar_dir}/classes:{jar_dir}/lib/*",
            "io.certswap.examples.NumberedProducer", "--credentials", str(s.out),
            "--bootstrap", s.broker.bootstrap, "--topic", s.topic, "--rate", str(RATE),
            "--password-file", str(s.password_file), "--no-reload"]
    env = {k: v for k, v in os.environ.items()
           if k not in ("JAVA_TOOL_OPTIONS", "CERTSWAP_RELOAD_DIR", "CERTSWAP_RELOAD_LOG")}
    if agent:
        env.update(JAVA_TOOL_OPTIONS=f"-javaagent:{AGENT_JAR}", CERTSWAP_RELOAD_DIR=str(s.out),
                   CERTSWAP_RELOAD_LOG="stderr")
    log = s.tmp / ("java-agent-producer.log" if agent else "java-plain-producer.log")
    return App(argv, log, env=env), log


def agent_lines(log, word):
    return [line for line in log.read_text(errors="replace").splitlines()
            if line.startswith("certswap-agent: ") and word in line]


def run_rotation(s, agent):
    assert s.certswap("init").returncode == 0
    old = s.current_principal()
    s.acls.grant(old, s.topic)
    app, log = producer(s, agent)
    try:
        assert app.wait_for("started", 60), "the producer never delivered a message"
        if agent:
            assert agent_lines(log, "following"), "the agent did not take the producer's key store"
        wait_until(lambda: s.watch.count() >= BEFORE_RENEWAL, PHASE_TIMEOUT,
                   f"{BEFORE_RENEWAL} messages on the old certificate before the renewal")
        s.renew()
        new = s.current_principal()
        assert new != old
        s.acls.grant(new, s.topic)
        r = s.certswap("rotate")
        assert r.returncode == 0, "certswap rotate failed"
        assert s.ack_count() == 1, "certswap did not acknowledge the renewal exactly once"
        # Open connections keep their certificate: the restart makes every one
        # authenticate again, and only new connections can show the new certificate.
        s.broker.restart()
        restarted_at_ms = time.time() * 1000
        deadline = time.monotonic() + 30
        while agent and not agent_lines(log, "switched") and time.monotonic() < deadline:
            time.sleep(0.2)
        # Traffic on the connections made since the restart (with the agent, on the
        # new certificate) before the old principal loses its ACLs.
        wait_until(lambda: s.watch.count(restarted_at_ms) >= RATE, PHASE_TIMEOUT,
                   f"{RATE} messages after the broker restart, before the revocation")
        log_mark = s.broker.log_size()
        s.acls.revoke(old)
        revoked_at_ms = time.time() * 1000
        wait_for_traffic_after(s, old, revoked_at_ms, log_mark, expect_traffic=agent)
    finally:
        summary = app.stop()
    assert summary, "the producer printed no summary"
    report("java-agent-producer" if agent else "java-plain-producer (no agent)", summary)
    got = s.read_all()
    values = {p: [v for v, _ in recs] for p, recs in got.items()}
    problems = stream_intact(values, summary["sent"])
    if summary["failed"]:
        problems.append(f"{summary['failed']} deliveries failed")
    after = sum(1 for recs in got.values() for _, ts in recs if ts > revoked_at_ms)
    if after < RATE:
        problems.append(f"only {after} messages after the old principal lost its ACLs")
    return problems, log


def test_unmodified_producer_keeps_every_message_with_agent(scenario):
    s = scenario("pkcs12")
    problems, log = run_rotation(s, agent=True)
    assert not problems, "; ".join(problems)
    switched = agent_lines(log, "switched")
    assert len(switched) == 1, f"expected one switch, agent said {switched}"
    text = log.read_text(errors="replace")
    assert s.password_file.read_text().strip() not in text, "the password reached the log"


def test_unmodified_producer_without_agent_loses_the_stream(scenario):
    """The control: the same app and settings without the agent must fail."""
    s = scenario("pkcs12")
    problems, _ = run_rotation(s, agent=False)
    assert problems, "the stream survived without the agent: the test cannot tell"
