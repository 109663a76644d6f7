"""`certswap doctor` and `certswap exec` on real processes (no fake /proc).

doctor must tell the cases apart that decide whether no-code reload works:
Debian's python3-confluent-kafka (shared OpenSSL 3) without and with the preload
library, the PyPI wheel of confluent-kafka (OpenSSL linked into its bundled
librdkafka: the silent failure mode, even with LD_PRELOAD set), and a JVM
without and with the certswap Java agent (also behind a launcher script), and
Go binaries (Go's own TLS, cgo with the system's libssl.so.3, and
go-static-producer in confluent-kafka-go's two layouts: librdkafka and OpenSSL
linked into the executable, or the shared librdkafka.so.1); and a helper
pointed at a directory certswap does not write, or at another one than --dir,
is inactive, which doctor must say. exec must hand the app the environment
those verdicts ask for.

Run through ctest, which sets CERTSWAP_BIN, CERTSWAP_PRELOAD_LIB,
CERTSWAP_JAVA_AGENT (the jar examples.java-agent.build makes) and
CERTSWAP_GO_STATIC_DIR (build-go-static.sh's executables).
"""
import json
import os
import shutil
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


def managed_dir(path):
    """A directory in certswap's output layout (atomic_store.cpp): ..data links
    to a generation holding the files the helpers read."""
    generation = path / "..2026_01_01_00_00_00.000000000"
    generation.mkdir(parents=True)
    for name in ("service.cert", "service.key", "ca.pem", "client.keystore.p12"):
        (generation / name).write_text("not read by doctor\n")
        (path / name).symlink_to(f"..data/{name}")
    (path / "..data").symlink_to(generation.name)
    return path


def test_doctor_debian_python_without_preload_will_not_work(running):
    app = running(["/usr/bin/python3", "-c", PRODUCER], clean_env())
    r = app.doctor()
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will NOT work")
    assert "libcertswap-preload.so is not" in r.stdout


def test_doctor_debian_python_with_preload_will_work(running, tmp_path):
    out = managed_dir(tmp_path / "out")
    app = running(["/usr/bin/python3", "-c", PRODUCER],
                  clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out)))
    r = app.doctor()
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will work")
    # --dir naming the same directory agrees.
    r = app.doctor("--dir", str(out))
    assert r.returncode == 0, r.stdout + r.stderr


# The library is inactive in each case (plugins/preload: it serves only a
# directory certswap writes), so "will work" would be a false promise.
@pytest.mark.parametrize("case,why", [
    ("missing", "no such directory"),
    ("empty", "no ..data link in it: not a directory certswap writes"),
    ("no-key", "has no service.key"),
])
def test_doctor_preload_with_a_reload_dir_certswap_does_not_write_will_not_work(
        running, tmp_path, case, why):
    out = tmp_path / "out"
    if case == "empty":
        out.mkdir()
    if case == "no-key":
        managed_dir(out)
        (out / "..data" / "service.key").unlink()
    app = running(["/usr/bin/python3", "-c", PRODUCER],
                  clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out)))
    r = app.doctor()
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will NOT work: libcertswap-preload.so is loaded but "
                               f"inactive: CERTSWAP_RELOAD_DIR={out}: "), r.stdout
    assert why in r.stdout.splitlines()[0]


def test_doctor_dir_flag_other_than_the_process_has_will_not_work(running, tmp_path):
    app_dir, other = managed_dir(tmp_path / "app"), managed_dir(tmp_path / "other")
    app = running(["/usr/bin/python3", "-c", PRODUCER],
                  clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(app_dir)))
    r = app.doctor("--dir", str(other))
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith(
        f"hot reload: will NOT work: libcertswap-preload.so is loaded but inactive: the process "
        f"reads CERTSWAP_RELOAD_DIR={app_dir}, not --dir {other}"), r.stdout
    unset = running(["/usr/bin/python3", "-c", PRODUCER], clean_env(LD_PRELOAD=PRELOAD))
    r = unset.doctor("--dir", str(other))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the process has no CERTSWAP_RELOAD_DIR (--dir" in r.stdout.splitlines()[0]


# sys.executable is the examples' venv, whose confluent-kafka is the PyPI wheel:
# OpenSSL linked into its librdkafka, which the preload library's static path
# redirects (plugins/preload/static_librdkafka.c).
def test_doctor_pypi_wheel_with_preload_will_work(running, tmp_path):
    out = managed_dir(tmp_path / "out")
    app = running([sys.executable, "-c", PRODUCER],
                  clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out)))
    r = app.doctor()
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will work: OpenSSL linked statically into "), r.stdout
    assert "confluent_kafka" in r.stdout and "redirected" in r.stdout


@pytest.mark.parametrize("case,why", [
    ("no-preload", "OpenSSL is linked statically into "),
    ("static-off", "CERTSWAP_RELOAD_STATIC=0 turns the preload library's static path off"),
    ("unmanaged-dir", "libcertswap-preload.so is loaded but inactive: CERTSWAP_RELOAD_DIR="),
])
def test_doctor_pypi_wheel_will_not_work_says_why(running, tmp_path, case, why):
    out = managed_dir(tmp_path / "out") if case != "unmanaged-dir" else tmp_path
    env = {"no-preload": clean_env(),
           "static-off": clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out),
                                   CERTSWAP_RELOAD_STATIC="0"),
           "unmanaged-dir": clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out))}[case]
    app = running([sys.executable, "-c", PRODUCER], env)
    r = app.doctor()
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will NOT work: "), r.stdout
    assert why in r.stdout.splitlines()[0]
    if case == "no-preload":
        assert "certswap exec" in r.stdout and "confluent_kafka" in r.stdout


# Everything in place but a librdkafka the static path does not recognise (a
# stripped copy of the wheel's: no .symtab), so nothing was redirected:
# "will work" would be a false promise.
def test_doctor_pypi_wheel_not_recognised_will_not_work(running, tmp_path):
    site = Path(__import__("confluent_kafka").__file__).resolve().parent.parent
    root = tmp_path / "site"
    for name in ("confluent_kafka", "confluent_kafka.libs"):
        shutil.copytree(site / name, root / name)
    (lib,) = (root / "confluent_kafka.libs").glob("librdkafka*.so*")
    subprocess.run(["strip", str(lib)], check=True)
    out = managed_dir(tmp_path / "out")
    app = running([sys.executable, "-c", PRODUCER],
                  clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out), PYTHONPATH=str(root)))
    r = app.doctor()
    assert r.returncode == 1, r.stdout + r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith(f"hot reload: will NOT work: OpenSSL is linked statically into {lib}"), first
    assert "did not redirect its broker connections" in first and "CERTSWAP_RELOAD_LOG=stderr" in first, first


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
    out = managed_dir(tmp_path / "out")
    r = doctor_command(["/usr/bin/python3", "-c", QUIET_PRODUCER],
                       clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will work")


def test_doctor_command_catches_the_static_openssl_of_a_wheel(tmp_path):
    # The venv's Python maps libcrypto.so.3 for hashlib before it imports the
    # wheel, whose librdkafka carries its own OpenSSL: the verdict is drawn on
    # that, not on the shared libcrypto.
    out = managed_dir(tmp_path / "out")
    r = doctor_command([sys.executable, "-c", "import hashlib; " + QUIET_PRODUCER],
                       clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will work: OpenSSL linked statically into "), r.stdout
    r = doctor_command([sys.executable, "-c", "import hashlib; " + QUIET_PRODUCER],
                       clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out),
                                 CERTSWAP_RELOAD_STATIC="0"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "CERTSWAP_RELOAD_STATIC=0" in r.stdout.splitlines()[0]


# Debian's kcat (librdkafka 2.0.2 on the system's libssl.so.3): a consumer that
# keeps trying a broker that is not there, inspected through `doctor -- cmd`.
KCAT = ["kcat", "-C", "-b", "127.0.0.1:1", "-t", "t", "-X", "security.protocol=ssl",
        "-X", "log_level=0"]


@pytest.mark.parametrize("preload", [False, True], ids=["without_preload", "with_preload"])
def test_doctor_kcat(tmp_path, preload):
    out = managed_dir(tmp_path / "out")
    env = clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out)) if preload else clean_env()
    r = doctor_command(KCAT, env)
    first = r.stdout.splitlines()[0] if r.stdout else ""
    if preload:
        assert r.returncode == 0, r.stdout + r.stderr
        assert first == "hot reload: will work: OpenSSL 3 shared library with libcertswap-preload.so"
    else:
        assert r.returncode == 1, r.stdout + r.stderr
        assert first.startswith("hot reload: will NOT work: OpenSSL 3 is loaded as a shared "
                                "library but libcertswap-preload.so is not"), first
    assert "librdkafka  /usr/lib/x86_64-linux-gnu/librdkafka.so.1 2.0.2;" in r.stdout, r.stdout


SLEEPER = "class Sleep { public static void main(String[] a) throws Exception { " \
          "System.out.println(\"ready\"); Thread.sleep(120000); } }"


@pytest.mark.parametrize("with_agent", [False, True])
def test_doctor_jvm(running, tmp_path, with_agent):
    (tmp_path / "Sleep.java").write_text(SLEEPER)
    env = clean_env(CERTSWAP_RELOAD_DIR=str(managed_dir(tmp_path / "out")))
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


def test_doctor_jvm_with_the_agent_and_a_missing_dir_will_not_work(running, tmp_path):
    (tmp_path / "Sleep.java").write_text(SLEEPER)
    missing = tmp_path / "missing"
    env = clean_env(CERTSWAP_RELOAD_DIR=str(missing), JAVA_TOOL_OPTIONS=f"-javaagent:{AGENT}")
    r = running(["java", "Sleep.java"], env, cwd=tmp_path).doctor()
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will NOT work: the certswap Java agent is attached "
                               f"but inactive: CERTSWAP_RELOAD_DIR={missing}: no such directory")


@pytest.mark.parametrize("java_agent_flag", [False, True])
def test_doctor_jvm_started_by_exec_through_a_launcher_script(running, tmp_path,
                                                              java_agent_flag):
    # What a packaged Java app looks like (bin/kafka-console-producer.sh and
    # the like): a script that ends in `exec java ...`. exec cannot see a JVM
    # in it; --java-agent says so, and without it doctor says what to add.
    (tmp_path / "Sleep.java").write_text(SLEEPER)
    launcher = tmp_path / "launch.sh"
    launcher.write_text("#!/bin/sh\nexec java Sleep.java\n")
    launcher.chmod(0o755)
    out = managed_dir(tmp_path / "out")
    flags = ["--java-agent", AGENT] if java_agent_flag else []
    app = running([CERTSWAP, "exec", "--dir", str(out), "--preload", PRELOAD, *flags, "--",
                   str(launcher)], clean_env(), cwd=tmp_path)
    r = app.doctor()
    if java_agent_flag:
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("hot reload: will work: JVM with the certswap Java agent "
                                   "(from JAVA_TOOL_OPTIONS)"), r.stdout
    else:
        assert r.returncode == 1, r.stdout + r.stderr
        assert r.stdout.startswith("hot reload: will NOT work: JVM without the certswap Java "
                                   "agent, though started with certswap's environment"), r.stdout
        assert "certswap exec --java-agent" in r.stdout


def go_toolchain():
    # As tests/examples/build-go.sh finds it.
    cache = Path(os.environ.get("CERTSWAP_CACHE_DIR", Path.home() / ".cache/certswap"))
    for go in (shutil.which("go"), "/usr/local/go/bin/go", cache / "go-1.26.8/bin/go"):
        if go and os.access(go, os.X_OK):
            return str(go)
    pytest.fail("no Go toolchain (go on PATH, /usr/local/go/bin/go or the one "
                "tests/testbed/kubernetes/build-kube.sh fetches)")


GO_SLEEPER = """package main

import ("fmt"; "time")

func main() { fmt.Println("ready"); time.Sleep(120 * time.Second) }
"""

# What confluent-kafka-go built with -tags dynamic is to the loader: a cgo
# binary whose NEEDED entries name the system's libssl.so.3.
GO_CGO_OPENSSL = """package main

// #cgo LDFLAGS: -lssl -lcrypto
// #include <openssl/ssl.h>
import "C"
import ("fmt"; "time")

func main() { C.OPENSSL_init_ssl(0, nil); fmt.Println("ready"); time.Sleep(120 * time.Second) }
"""


def build_go(tmp_path, name, source, cgo):
    src = tmp_path / f"{name}.go"
    src.write_text(source)
    env = dict(os.environ, CGO_ENABLED="1" if cgo else "0", GOTOOLCHAIN="local", GOFLAGS="",
               GO111MODULE="off", GOCACHE=str(tmp_path / "go-cache"))
    r = subprocess.run([go_toolchain(), "build", "-o", str(tmp_path / name), str(src)],
                       capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return str(tmp_path / name)


def test_doctor_go_binary_will_not_work_and_gives_the_recipe(running, tmp_path):
    binary = build_go(tmp_path, "sleeper", GO_SLEEPER, cgo=False)
    out = managed_dir(tmp_path / "out")
    app = running([binary], clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out)))
    # `doctor -- cmd` shares its stdout with the program's "ready".
    for r in (app.doctor(), doctor_command([binary], clean_env())):
        assert r.returncode == 1, r.stdout + r.stderr
        verdict = r.stdout.removeprefix("ready\n")
        assert verdict.startswith("hot reload: will NOT work: Go binary using Go's crypto/tls"), \
            r.stdout
        assert "examples/go-franz/certreload.go" in verdict


def test_doctor_go_binary_on_the_systems_libssl_is_the_shared_path(running, tmp_path):
    binary = build_go(tmp_path, "cgo-openssl", GO_CGO_OPENSSL, cgo=True)
    out = managed_dir(tmp_path / "out")
    app = running([binary], clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out)))
    r = app.doctor()
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will work: OpenSSL 3 shared library with "
                               "libcertswap-preload.so"), r.stdout
    assert "go          a Go binary" in r.stdout
    r = running([binary], clean_env()).doctor()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "libcertswap-preload.so is not" in r.stdout


def go_static_dir():
    return Path(os.environ["CERTSWAP_GO_STATIC_DIR"])


def pem_dir(path):
    """managed_dir() holding a real (self-signed) certificate, key and CA, so
    go-static-producer can build its producer from them."""
    out = managed_dir(path)
    generation = out / os.readlink(out / "..data")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-subj", "/CN=doctor", "-days", "1",
                    "-keyout", str(generation / "service.key"), "-out", str(generation / "service.cert")],
                   check=True, capture_output=True)
    shutil.copy(generation / "service.cert", generation / "ca.pem")
    return out


def start_go_producer(exe, out, env):
    """go-static-producer (or its -tags dynamic build) connecting to a closed
    port with the files in `out`; returned once librdkafka's threads run (it
    prints nothing before a delivery)."""
    proc = subprocess.Popen([str(exe), "--bootstrap", "127.0.0.1:1", "--topic", "t", "--rate", "1",
                             "--dir", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while not any(Path(f"/proc/{proc.pid}/task/{t}/comm").read_text().startswith("rdk:")
                  for t in os.listdir(f"/proc/{proc.pid}/task")):
        assert proc.poll() is None and time.monotonic() < deadline, f"{exe} did not start librdkafka"
        time.sleep(0.05)
    return proc


def doctor_pid(proc):
    return subprocess.run([CERTSWAP, "doctor", "--pid", str(proc.pid)], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def go_producers():
    started = []

    def start(exe, out, env):
        started.append(start_go_producer(exe, out, env))
        return started[-1]
    yield start
    for p in started:
        p.kill()
        p.wait()


# confluent-kafka-go's default build: librdkafka and OpenSSL linked into the Go
# executable (build-go-static.sh reproduces it with Debian's archives). The
# preload library's static path redirects it, as it does the wheel's.
@pytest.mark.parametrize("exe", ["go-static-producer", "go-static-producer-pie"])
def test_doctor_go_binary_with_librdkafka_linked_in_is_the_static_path(go_producers, tmp_path, exe):
    binary = go_static_dir() / exe
    out = pem_dir(tmp_path / "out")
    app = go_producers(binary, out, clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out)))
    r = doctor_pid(app)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"hot reload: will work: OpenSSL linked statically into {binary} "
                               "(OpenSSL 3."), r.stdout
    assert "redirected (its static path)" in r.stdout and "go          a Go binary" in r.stdout
    for env, why in ((clean_env(), f"OpenSSL is linked statically into {binary}"),
                     (clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out), CERTSWAP_RELOAD_STATIC="0"),
                      "CERTSWAP_RELOAD_STATIC=0 turns the preload library's static path off")):
        r = doctor_pid(go_producers(binary, out, env))
        assert r.returncode == 1, r.stdout + r.stderr
        assert why in r.stdout.splitlines()[0], r.stdout
        assert "go-franz" not in r.stdout.splitlines()[0], r.stdout


def test_doctor_command_on_a_go_binary_with_librdkafka_linked_in(tmp_path):
    binary = go_static_dir() / "go-static-producer"
    out = pem_dir(tmp_path / "out")
    argv = [str(binary), "--bootstrap", "127.0.0.1:1", "--topic", "t", "--rate", "1", "--dir", str(out)]
    r = doctor_command(argv, clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out)))
    assert r.returncode == 0, r.stdout + r.stderr
    # The producer shares doctor's stdout: its summary (at doctor's SIGTERM) may come first.
    verdict = "".join(line for line in r.stdout.splitlines(keepends=True) if not line.startswith("{"))
    assert verdict.startswith(f"hot reload: will work: OpenSSL linked statically into {binary} "), r.stdout


def test_doctor_a_stripped_go_binary_with_librdkafka_linked_in_is_not_the_static_path(go_producers,
                                                                                      tmp_path):
    binary = tmp_path / "go-static-producer"
    shutil.copy(go_static_dir() / "go-static-producer", binary)
    subprocess.run(["strip", str(binary)], check=True)
    out = pem_dir(tmp_path / "out")
    r = doctor_pid(go_producers(binary, out, clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out))))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "and no librdkafka symbols (stripped" in r.stdout.splitlines()[0], r.stdout


# confluent-kafka-go with -tags dynamic: the system's librdkafka.so.1 and libssl.so.3.
def test_doctor_go_binary_on_the_shared_librdkafka_is_the_shared_path(go_producers, tmp_path):
    binary = go_static_dir() / "go-dynamic-producer"
    out = pem_dir(tmp_path / "out")
    r = doctor_pid(go_producers(binary, out, clean_env(LD_PRELOAD=PRELOAD, CERTSWAP_RELOAD_DIR=str(out))))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("hot reload: will work: OpenSSL 3 shared library with "
                               "libcertswap-preload.so"), r.stdout
    assert "librdkafka.so.1" not in r.stdout.splitlines()[0] and "go          a Go binary" in r.stdout
    r = doctor_pid(go_producers(binary, out, clean_env()))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "OpenSSL 3 is loaded as a shared library but libcertswap-preload.so is not" in r.stdout


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


def test_init_install_preload_advice_is_a_command_line_that_works(tmp_path):
    # A certswap with nothing beside it (no install, no build tree): the error
    # names what to give, and giving it works.
    tb = json.loads((Path(os.environ["CERTSWAP_TESTBED_DIR"]) / "testbed.json").read_text())
    alone = tmp_path / "bin" / "certswap"
    alone.parent.mkdir()
    shutil.copy2(CERTSWAP, alone)
    out, state = tmp_path / "out", tmp_path / "state"
    env = clean_env(CERTSWAP_API_URL=tb["api_url"], CERTSWAP_API_CA_FILE=tb["api_ca"],
                    CERTSWAP_TOKEN_FILE=tb["token_file"])
    env.pop("CERTSWAP_PRELOAD_LIB", None)
    env.pop("CERTSWAP_JAVA_AGENT", None)
    command = [str(alone), "init", "--install-preload", "--project", tb["project"],
               "--service", tb["service"], "--user", "app", "--output-dir", str(out),
               "--state-dir", str(state)]
    r = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0, r.stderr
    assert "libcertswap-preload.so not found" in r.stderr
    assert "give --preload or set CERTSWAP_PRELOAD_LIB" in r.stderr
    r = subprocess.run([*command, "--preload", PRELOAD, "--java-agent", AGENT], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for source in (PRELOAD, AGENT):
        copy = out / ".certswap-reload" / Path(source).name
        assert copy.read_bytes() == Path(source).read_bytes()


# librdkafka's own reload (PR #5483, ssl.certificate.refresh.interval.ms) is
# preferred once a build has it: doctor reads each mapped librdkafka's version
# and whether its configuration table names the property. Each client here
# says itself which version it runs and whether it takes the property, and
# doctor must agree.
CLIENT_SAYS = """
import confluent_kafka as ck
try:
    ck.Producer({'ssl.certificate.refresh.interval.ms': 1000})
    native = True
except ck.KafkaException:
    native = False
print(ck.libversion()[0], native)
"""


@pytest.mark.parametrize("python", ["/usr/bin/python3", sys.executable],
                         ids=["debian", "pypi_wheel"])
def test_doctor_reads_each_librdkafkas_version_and_own_reload(running, python):
    version, native = subprocess.run([python, "-c", CLIENT_SAYS], capture_output=True, text=True,
                                     check=True, env=clean_env()).stdout.split()
    app = running([python, "-c", PRODUCER], clean_env())
    r = app.doctor("--json")
    report = json.loads(r.stdout)
    assert [(lib["version"], lib["native_reload"]) for lib in report["librdkafka"]] == \
        [(version, native == "True")], report["librdkafka"]
    text = app.doctor().stdout
    assert f"{version}; its own reload (ssl.certificate.refresh.interval.ms): " + \
        ("present" if native == "True" else "not in this build") in text, text
    assert ("preferred:" in text) == (native == "True"), text


# No release has the property yet, so a stand-in file (tests/unit/fake_librdkafka.c:
# a librdkafka 2.17.0 whose table names it), loaded by a real process, shows
# the advice doctor then gives first.
def test_doctor_prefers_a_librdkafka_that_reloads_by_itself(running, tmp_path):
    lib = tmp_path / "librdkafka.so.1"
    shutil.copy(os.environ["CERTSWAP_FAKE_NATIVE_LIBRDKAFKA"], lib)
    app = running(["/usr/bin/python3", "-c",
                   f"import ctypes, time; ctypes.CDLL({str(lib)!r}); "
                   + PRODUCER.replace("import sys, time; ", "import sys; ")], clean_env())
    r = app.doctor()
    first = r.stdout.splitlines()[0]
    assert first.startswith("hot reload: will NOT work: preferred: its librdkafka ("), first
    assert "2.17.0) reloads its certificate by itself: set " \
        "ssl.certificate.refresh.interval.ms=10000" in first, first
    assert "Until then: OpenSSL 3 is loaded as a shared library but" in first, first
