"""The preload library's static-OpenSSL path hooks the PyPI wheel's librdkafka
and a Go executable with librdkafka linked in, and refuses, saying why, every
library it does not recognise without doubt.

Each case imports (never connects) a copy of the wheel's package in a temporary
directory, or loads Debian's shared librdkafka, with the venv's python under
LD_PRELOAD and CERTSWAP_RELOAD_LOG=stderr, or starts (without arguments, so it
exits at once) one of build-go-static.sh's executables or a changed copy, and
reads the library's log. The broker proofs are test_preload_reload.py's
test_wheel_producer and test_go_static_producer.

Run through ctest, which sets CERTSWAP_PRELOAD_LIB and CERTSWAP_GO_STATIC_DIR.
"""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import confluent_kafka
import pytest

SITE = Path(confluent_kafka.__file__).resolve().parent.parent
DEBIAN_LIBRDKAFKA = "/usr/lib/x86_64-linux-gnu/librdkafka.so.1"


def run(code, tmp, pythonpath=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSWAP_RELOAD")}
    env.update(LD_PRELOAD=os.environ["CERTSWAP_PRELOAD_LIB"], CERTSWAP_RELOAD_DIR=str(tmp / "out"),
               CERTSWAP_RELOAD_LOG="stderr", **extra)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stderr


def wheel_copy(tmp):
    """The wheel's package and its bundled librdkafka, copied; returns the
    directory to put first on PYTHONPATH and the copied librdkafka."""
    root = tmp / "site"
    for name in ("confluent_kafka", "confluent_kafka.libs"):
        shutil.copytree(SITE / name, root / name)
    (lib,) = (root / "confluent_kafka.libs").glob("librdkafka*.so*")
    return root, lib


def symbol(lib, name):
    """(value, size) of the one FUNC symbol `name` in lib's .symtab."""
    out = subprocess.run(["readelf", "-sW", str(lib)], capture_output=True, text=True,
                         check=True).stdout
    rows = [line.split() for line in out.splitlines()]
    (hit,) = {(int(r[1], 16), int(r[2])) for r in rows if len(r) >= 8 and r[3] == "FUNC" and r[7] == name}
    return hit


IMPORT = "import confluent_kafka.cimpl as c; print(c.__file__)"


def test_the_wheels_librdkafka_is_hooked(tmp_path):
    log = run(IMPORT, tmp_path)
    assert "hooked (static OpenSSL 0x3" in log, log


def test_a_stripped_copy_is_refused(tmp_path):
    root, lib = wheel_copy(tmp_path)
    subprocess.run(["strip", str(lib)], check=True)
    log = run(IMPORT, tmp_path, pythonpath=root)
    assert f"librdkafka {root}" in log and "not hooked: no .symtab (stripped)" in log, log
    assert "hooked (" not in log, log


def test_a_copy_whose_call_to_ssl_new_goes_elsewhere_is_refused(tmp_path):
    root, lib = wheel_copy(tmp_path)
    fn, size = symbol(lib, "rd_kafka_transport_ssl_connect")
    ssl_new, _ = symbol(lib, "SSL_new")
    data = bytearray(lib.read_bytes())
    # In this file the executable segment's file offsets equal its addresses
    # (readelf -l: offset 0xba000, address 0xba000); asserted by the search.
    sites = [i for i in range(fn, fn + size - 4)
             if data[i] == 0xE8 and i + 5 + int.from_bytes(data[i + 1:i + 5], "little", signed=True) == ssl_new]
    assert len(sites) == 1, sites
    # Aim the call at the next instruction instead (never run: nothing connects).
    data[sites[0] + 1:sites[0] + 5] = (0).to_bytes(4, "little")
    lib.write_bytes(bytes(data))
    log = run(IMPORT, tmp_path, pythonpath=root)
    assert "not hooked: 0 calls to SSL_new in rd_kafka_transport_ssl_connect, not exactly one" in log, log


def test_debians_shared_librdkafka_is_left_to_the_interposition(tmp_path):
    if not Path(DEBIAN_LIBRDKAFKA).exists():
        pytest.fail(f"{DEBIAN_LIBRDKAFKA} missing: install librdkafka1")
    log = run(f"import ctypes; ctypes.CDLL('{DEBIAN_LIBRDKAFKA}')", tmp_path)
    assert f"librdkafka {DEBIAN_LIBRDKAFKA} not hooked: it uses a shared OpenSSL" in log, log


def go_dir():
    return Path(os.environ["CERTSWAP_GO_STATIC_DIR"])


def run_exe(exe, tmp, **extra):
    """Starts `exe` with no arguments (go-static-producer then exits at once,
    after the library's constructor ran); returns its stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSWAP_RELOAD")}
    env.update(LD_PRELOAD=os.environ["CERTSWAP_PRELOAD_LIB"], CERTSWAP_RELOAD_DIR=str(tmp / "out"),
               CERTSWAP_RELOAD_LOG="stderr", **extra)
    r = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=60)
    assert "are required" in r.stderr, r.stderr
    return r.stderr


@pytest.mark.parametrize("exe", ["go-static-producer", "go-static-producer-pie"])
def test_a_go_executable_with_librdkafka_linked_in_is_hooked(tmp_path, exe):
    path = go_dir() / exe
    log = run_exe(path, tmp_path)
    assert f"librdkafka linked into the executable {path} hooked (static OpenSSL 0x3" in log, log


def file_offset(exe, vaddr):
    """The file offset of `vaddr` in exe's executable PT_LOAD (readelf -lW)."""
    out = subprocess.run(["readelf", "-lW", str(exe)], capture_output=True, text=True,
                         check=True).stdout
    for r in (line.split() for line in out.splitlines()):
        if len(r) >= 7 and r[0] == "LOAD" and "E" in r[6:-1]:
            offset, start, size = int(r[1], 16), int(r[2], 16), int(r[4], 16)
            if start <= vaddr < start + size:
                return vaddr - start + offset
    raise AssertionError(f"{vaddr:#x} is in no executable segment of {exe}")


def test_a_go_executable_whose_call_to_ssl_new_goes_elsewhere_is_refused(tmp_path):
    exe = tmp_path / "go-static-producer"
    shutil.copy(go_dir() / "go-static-producer", exe)
    fn, size = symbol(exe, "rd_kafka_transport_ssl_connect")
    ssl_new, _ = symbol(exe, "SSL_new")
    data = bytearray(exe.read_bytes())
    start = file_offset(exe, fn)
    sites = [i for i in range(size - 4)
             if data[start + i] == 0xE8
             and fn + i + 5 + int.from_bytes(data[start + i + 1:start + i + 5], "little", signed=True) == ssl_new]
    assert len(sites) == 1, sites
    data[start + sites[0] + 1:start + sites[0] + 5] = (0).to_bytes(4, "little")
    exe.write_bytes(bytes(data))
    log = run_exe(exe, tmp_path)
    assert (f"librdkafka linked into the executable {exe} not hooked: 0 calls to SSL_new in "
            "rd_kafka_transport_ssl_connect, not exactly one") in log, log


def test_a_stripped_go_executable_is_not_taken_for_a_librdkafka(tmp_path):
    """Without .symtab nothing says librdkafka is inside: left alone, like
    any other program."""
    exe = tmp_path / "go-static-producer"
    shutil.copy(go_dir() / "go-static-producer", exe)
    subprocess.run(["strip", str(exe)], check=True)
    log = run_exe(exe, tmp_path)
    assert "hooked" not in log, log


def test_a_go_executable_on_the_shared_librdkafka_is_left_to_the_interposition(tmp_path):
    log = run_exe(go_dir() / "go-dynamic-producer", tmp_path)
    assert "not hooked: it uses a shared OpenSSL" in log and "linked into the executable" not in log, log


def test_switched_off_it_hooks_nothing(tmp_path):
    log = run(IMPORT, tmp_path, CERTSWAP_RELOAD_STATIC="0")
    assert "static librdkafka hook off (CERTSWAP_RELOAD_STATIC=0)" in log, log
    assert "hooked (" not in log, log


def test_without_a_directory_it_is_silent(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSWAP_RELOAD")}
    env.update(LD_PRELOAD=os.environ["CERTSWAP_PRELOAD_LIB"], CERTSWAP_RELOAD_LOG="stderr")
    r = subprocess.run([sys.executable, "-c", IMPORT], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "certswap-preload" not in r.stderr, r.stderr


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    """A CA, a server certificate, and client certificates a, b, c and
    foreign, each with its own key, all under d."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=test CA", "-days", "2", cwd=d)
    for name in ("server", "a", "b", "foreign"):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", cwd=d)


def der(path):
    return ssl.PEM_cert_to_DER_cert(Path(path).read_text())


def write_generation(out, gen, cert, key):
    """A generation the way certswap lays one out: ..<digits>/ with the files,
    ..data naming it, the top-level names through ..data."""
    g = out / gen
    g.mkdir(parents=True)
    shutil.copy(cert, g / "service.cert")
    shutil.copy(key, g / "service.key")
    shutil.copy(out.parent / "ca.pem", g / "ca.pem")
    tmp = out / "..data.tmp"
    tmp.symlink_to(gen)
    tmp.rename(out / "..data")
    for name in ("service.cert", "service.key", "ca.pem"):
        if not (out / name).is_symlink():
            (out / name).symlink_to(f"..data/{name}")


class TlsServer:
    """Accepts TLS connections requiring a client certificate, remembers the
    certificate each presented (DER), and closes them: the client reconnects,
    so every connection is a new SSL of the client."""

    def __init__(self, d):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(d / "server.pem", d / "server.key")
        ctx.load_verify_locations(d / "ca.pem")
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, args=(ctx,), daemon=True).start()

    def _serve(self, ctx):
        while True:
            conn, _ = self.sock.accept()
            # A thread each: a client stuck before its ClientHello holds up no other.
            threading.Thread(target=self._handshake, args=(ctx, conn), daemon=True).start()

    def _handshake(self, ctx, conn):
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                with self.lock:
                    self.seen.append(tls.getpeercert(binary_form=True))
        except (ssl.SSLError, OSError):
            conn.close()

    def count(self, cert):
        with self.lock:
            return self.seen.count(cert)

    def wait_for(self, cert, after, *others):
        """Waits until `cert` (or one of `others`) was presented by a connection
        after the first `after`."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with self.lock:
                if any(c in self.seen[after:] for c in (cert, *others)):
                    return
            time.sleep(0.05)
        raise AssertionError("no connection presented the expected certificate within 60 s")

    def mark(self):
        with self.lock:
            return len(self.seen)


CLIENT = """
import os, sys
from confluent_kafka import Producer
port, ca, managed_dir, foreign = sys.argv[1:5]
def conf(cert, key):
    return {"bootstrap.servers": f"127.0.0.1:{port}", "security.protocol": "ssl",
            "ssl.ca.location": ca, "ssl.certificate.location": cert, "ssl.key.location": key,
            "ssl.endpoint.identification.algorithm": "none",
            "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200}
producers = [Producer(conf(f"{managed_dir}/service.cert", f"{managed_dir}/service.key")),
             Producer(conf(f"{foreign}.pem", f"{foreign}.key"))]
for line in sys.stdin:
    if line.strip() == "fork":
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        print("forked", flush=True)
"""


def start_client(tmp_path, server, out):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSWAP_RELOAD")}
    env.update(LD_PRELOAD=os.environ["CERTSWAP_PRELOAD_LIB"], CERTSWAP_RELOAD_DIR=str(out),
               CERTSWAP_RELOAD_LOG="stderr")
    with open(tmp_path / "client.log", "w") as log:
        return subprocess.Popen([sys.executable, "-c", CLIENT, str(server.port), str(tmp_path / "ca.pem"),
                                 str(out), str(tmp_path / "foreign")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                                text=True)


def test_new_connections_present_the_live_generation_and_a_mismatched_key_is_refused(tmp_path):
    make_certs(tmp_path)
    out = tmp_path / "out"
    write_generation(out, "..1", tmp_path / "a.pem", tmp_path / "a.key")
    server = TlsServer(tmp_path)
    a, b, foreign = (der(tmp_path / f"{n}.pem") for n in ("a", "b", "foreign"))
    log_path = tmp_path / "client.log"
    client = start_client(tmp_path, server, out)
    try:
        server.wait_for(a, 0)
        server.wait_for(foreign, 0)
        write_generation(out, "..2", tmp_path / "b.pem", tmp_path / "b.key")
        mark = server.mark()
        server.wait_for(b, mark)
        # b's certificate with a's key: refused; new connections keep b.
        write_generation(out, "..3", tmp_path / "b.pem", tmp_path / "a.key")
        mark = server.mark()
        server.wait_for(b, mark)
        # The other producer's context is not the directory's: it keeps its own.
        server.wait_for(foreign, mark)
        mark = server.mark()
        server.wait_for(b, mark)
        assert server.count(a) > 0 and server.seen[mark:].count(a) == 0
    finally:
        client.stdin.close()
        client.kill()
        client.wait()
    text = log_path.read_text(errors="replace")
    assert "switched to generation ..2 (static librdkafka)" in text, text[-3000:]
    assert "refused generation ..3: key does not match certificate; keeping ..2" in text, text[-3000:]


def test_a_fork_while_a_generation_read_is_stuck_does_not_wait_for_it(tmp_path):
    """The hook reads a new generation outside its lock: a fork (whose
    handlers take the lock) while a read is stuck goes on, and other new
    connections are not held up meanwhile."""
    make_certs(tmp_path)
    out = tmp_path / "out"
    write_generation(out, "..1", tmp_path / "a.pem", tmp_path / "a.key")
    server = TlsServer(tmp_path)
    a, b, foreign = (der(tmp_path / f"{n}.pem") for n in ("a", "b", "foreign"))
    client = start_client(tmp_path, server, out)
    fifo = out / "..3" / "service.cert"
    writer = None
    try:
        server.wait_for(a, 0)
        write_generation(out, "..2", tmp_path / "b.pem", tmp_path / "b.key")
        server.wait_for(b, server.mark())
        # ..3's certificate is a FIFO: the next connection's read of it blocks.
        (out / "..3").mkdir()
        os.mkfifo(fifo)
        shutil.copy(tmp_path / "b.key", out / "..3" / "service.key")
        tmp = out / "..data.tmp"
        tmp.symlink_to("..3")
        tmp.rename(out / "..data")
        # A non-blocking open for writing succeeds once a reader has it open;
        # the reader then blocks in read() while this end stays open.
        deadline = time.monotonic() + 60
        while writer is None:
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                assert time.monotonic() < deadline, "no connection read ..3"
                time.sleep(0.05)
        # The other producer's new connections go through the hook too (one
        # of the two is stuck, whichever read ..3 first) and are not held up.
        server.wait_for(foreign, server.mark(), b)
        client.stdin.write("fork\n")
        client.stdin.flush()
        answer = []
        reader = threading.Thread(target=lambda: answer.append(client.stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        assert answer == ["forked\n"], "fork waited for the stuck read (or the client died)"
    finally:
        if writer is not None:
            os.close(writer)
        client.stdin.close()
        client.kill()
        client.wait()
    text = (tmp_path / "client.log").read_text(errors="replace")
    assert "switched to generation ..2 (static librdkafka)" in text, text[-3000:]
