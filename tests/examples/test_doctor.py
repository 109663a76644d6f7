"""`certswap doctor` and `certswap exec` on real processes (no fake /proc).

doctor must tell the cases apart that decide whether no-code reload works:
Debian's python3-confluent-kafka (shared OpenSSL 3) without and with the preload
library, the PyPI wheel of confluent-kafka (OpenSSL linked into its bundled
librdkafka: the silent failure mode, even with LD_PRELOAD set), and a JVM
without and with the certswap Java agent. exec must hand the app the
environment those verdicts ask for.

Run through ctest, which sets CERTSWAP_BIN, CERTSWAP_PRELOAD_LIB and
CERTSWAP_JAVA_AGENT (the jar examples.java-agent.build makes).
"""
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

CERTSWAP = os.environ["CERTSWAP_BIN"]
PRELOAD = os.environ["CERTSWAP_PRELOAD_LIB"]
AGENT = os.environ["CERTSWAP_JAVA_AGENT"]

# A Kafka client that builds its TLS context and then waits: a Producer with SSL
# loads librdkafka's OpenSSL at creation.
PRODUCER = ("import sys, time; from confluent_kafka import Producer; "
            "p = Producer({'bootstrap.servers': '127.0.0.1:1', 'security.protocol': 'ssl'}); "
            "print('ready', flush=True); time.sleep(120)")


class Running:
    def __init__(self, argv, env=None, cwd=None):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=env, cwd=cwd)
        line = self.proc.stdout.readline()
        assert line.startswith("ready"), f"{argv[0]} did not start: {line}"

    def doctor(self, *extra):
        return subprocess.run([CERTSWAP, "doctor", "--pid", str(self.proc.pid), *extra],
                              capture_output=True, text=True, timeout=60)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def running():
    started = []

    def start(argv, env=None, cwd=None):
        started.append(Running(argv, env, cwd))
        return started[-1]
    yield start
    for r in started:
        r.stop()


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "CERTSWAP_RELOAD_DIR", "JAVA_TOOL_OPTIONS")}
    env.update(extra)
    return env


def test_doctor_debian_python_without_preload_will_not_work(running):
    app = running(["/usr/bin/python3", "-c", PRODUCER], clean_env())
    r = app.doctor()
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will NOT work")
    assert "libcertswap-preload.so is not" in r.stdout


def test_doctor_debian_python_with_preload_will_work(running, tmp_path):
    app = running(["/usr/bin/python3", "-c", PRODUCER],
                  clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(tmp_path)))
    r = app.doctor()
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will work")


def test_doctor_pypi_wheel_static_openssl_will_not_work_even_with_preload(running, tmp_path):
    # sys.executable is the examples' venv, whose confluent-kafka is the PyPI wheel.
    app = running([sys.executable, "-c", PRODUCER],
                  clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(tmp_path)))
    r = app.doctor()
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will NOT work: OpenSSL is linked statically")
    assert "confluent_kafka" in r.stdout


# The command shares doctor's stdout: no "ready" line before the verdict.
QUIET_PRODUCER = PRODUCER.replace("print('ready', flush=True); ", "")
assert QUIET_PRODUCER != PRODUCER


def doctor_command(argv, env):
    # doctor passes its environment, LD_PRELOAD included, to the command, so
    # certswap starts with it too; the suite's ASan build would refuse a library
    # ahead of its runtime, which says nothing of doctor.
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = dict(env, ASAN_OPTIONS=f"{asan}:verify_asan_link_order=0".lstrip(":"))
    return subprocess.run([CERTSWAP, "doctor", "--wait", "60s", "--", *argv], capture_output=True,
                          text=True, timeout=120, env=env)


def test_doctor_command_waits_for_the_kafka_client_not_for_the_preload_library(tmp_path):
    # LD_PRELOAD maps the library at exec, long before the app imports its
    # Kafka client: a verdict drawn then would say "unknown" (or miss a static
    # OpenSSL still to come).
    r = doctor_command(["/usr/bin/python3", "-c", QUIET_PRODUCER],
                       clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will work")


def test_doctor_command_catches_the_static_openssl_of_a_wheel(tmp_path):
    # The venv's Python maps libcrypto.so.3 for hashlib before it imports the
    # wheel, whose librdkafka carries its own OpenSSL.
    r = doctor_command([sys.executable, "-c", "import hashlib; " + QUIET_PRODUCER],
                       clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(tmp_path)))
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will NOT work: OpenSSL is linked statically")


SLEEPER = "class Sleep { public static void main(String[] a) throws Exception { " \
          "System.out.println(\"ready\"); Thread.sleep(120000); } }"


@pytest.mark.parametrize("with_agent", [False, True])
def test_doctor_jvm(running, tmp_path, with_agent):
    (tmp_path / "Sleep.java").write_text(SLEEPER)
    env = clean_env(CERTSWAP_RELOAD_DIR=str(tmp_path))
    if with_agent:
        env["JAVA_TOOL_OPTIONS"] = f"-javaagent:{AGENT}"
    app = running(["java", "Sleep.java"], env, cwd=tmp_path)
    r = app.doctor()
    if with_agent:
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("hot reload: will work: JVM with the certswap Java agent")
    else:
        assert r.returncode == 1, r.stdout + r.stderr
        assert r.stdout.startswith("hot reload: will NOT work: JVM without the certswap Java agent")


def exec_env(*args, env=None):
    r = subprocess.run([CERTSWAP, "exec", *args, "--", "/usr/bin/env"], capture_output=True,
                       text=True, timeout=60, env=env or clean_env())
    assert r.returncode == 0, r.stderr
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def test_exec_sets_the_preload_and_the_reload_dir_once(tmp_path):
    seen = exec_env("--dir", str(tmp_path), "--preload", PRELOAD)
    assert seen["LD_PRELOAD"] == PRELOAD
    assert seen["CERTSWAP_RELOAD_DIR"] == str(tmp_path)
    # certswap itself starts with that LD_PRELOAD here; the suite's ASan build
    # would refuse a library ahead of its runtime, which says nothing of exec.
    asan = os.environ.get("ASAN_OPTIONS", "")
    again = exec_env("--dir", str(tmp_path), "--preload", PRELOAD,
                     env=clean_env(LD_PRELOAD=PRELOAD,
                                   ASAN_OPTIONS=f"{asan}:verify_asan_link_order=0".lstrip(":")))
    assert again["LD_PRELOAD"].split() == [PRELOAD]


def test_exec_gives_a_jvm_the_agent(tmp_path):
    r = subprocess.run([CERTSWAP, "exec", "--dir", str(tmp_path), "--java-agent", AGENT,
                        "--preload", PRELOAD, "--", "java", "-version"],
                       capture_output=True, text=True, timeout=60, env=clean_env())
    assert r.returncode == 0, r.stderr
    assert f"Picked up JAVA_TOOL_OPTIONS: -javaagent:{AGENT}" in r.stderr


def test_exec_without_the_library_fails_clearly(tmp_path):
    r = subprocess.run([CERTSWAP, "exec", "--dir", str(tmp_path), "--preload",
                        str(tmp_path / "missing.so"), "--", "/usr/bin/env"],
                       capture_output=True, text=True, timeout=60, env=clean_env())
    assert r.returncode != 0
    assert "missing.so" in r.stderr


def test_init_install_preload_copies_the_library_and_the_store_keeps_it(tmp_path):
    tb = json.loads((Path(os.environ["CERTSWAP_TESTBED_DIR"]) / "testbed.json").read_text())
    out, state = tmp_path / "out", tmp_path / "state"
    env = clean_env(CERTSWAP_API_URL=tb["api_url"], CERTSWAP_API_CA_FILE=tb["api_ca"],
                    CERTSWAP_TOKEN_FILE=tb["token_file"], CERTSWAP_PRELOAD_LIB=PRELOAD,
                    CERTSWAP_JAVA_AGENT=AGENT)
    target = ["--project", tb["project"], "--service", tb["service"], "--user", "app",
              "--output-dir", str(out), "--state-dir", str(state)]
    r = subprocess.run([CERTSWAP, "init", "--install-preload", *target], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    installed = out / ".certswap-reload"
    for source in (PRELOAD, AGENT):
        copy = installed / Path(source).name
        assert copy.read_bytes() == Path(source).read_bytes()
        assert stat.S_IMODE(copy.stat().st_mode) == 0o644
    # Swaps and pruning leave the app's copy alone.
    for _ in range(3):
        r = subprocess.run([CERTSWAP, "rotate", "--force", *target], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    assert (installed / Path(PRELOAD).name).read_bytes() == Path(PRELOAD).read_bytes()
