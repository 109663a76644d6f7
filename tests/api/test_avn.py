"""The official Aiven CLI (`avn`, aiven-client pinned in requirements.txt) works
against the emulator, and the files it downloads are the bytes `certswap init`
installs for the same user.

avn sends no include_secrets: `user-creds-download` and `user-kafka-java-creds`
take the key from `service.users` of `GET service` (aiven-client cli.py,
service__user_creds_download), so they run with redact_by_default=false, the
API's behaviour before 1 March 2027. With redaction on, avn 4.16.0 writes the
placeholder into service.key and still exits 0 (test below).

Run by ctest (api.avn) with CERTSWAP_TESTBED_DIR and CERTSWAP_BIN set.
"""
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

AVN = Path(sys.executable).parent / "avn"


@pytest.fixture
def user(tb):
    name = f"avn-{secrets.token_hex(4)}"
    tb.control("POST", "users", {"project": tb.project, "service": tb.service, "username": name})
    return name


@pytest.fixture
def avn(tb, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # aiven-client envdefault.py: AIVEN_WEB_URL, AIVEN_AUTH_TOKEN, AIVEN_CA_CERT
    # (the --auth-ca default, set as the requests session's verify), AIVEN_CONFIG_DIR.
    # requests prefers REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE to a session's verify
    # (Session.merge_environment_settings), so those must not be set.
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env.update(HOME=str(home), AIVEN_CONFIG_DIR=str(home / "aiven"), AIVEN_WEB_URL=tb.url,
               AIVEN_AUTH_TOKEN=tb.token, AIVEN_CA_CERT=tb.info["api_ca"])

    def run(*args):
        done = subprocess.run([str(AVN), *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"avn {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    return run


def certswap_init(tb, user, out):
    env = dict(os.environ, CERTSWAP_PROJECT=tb.project, CERTSWAP_SERVICE=tb.service,
               CERTSWAP_USER=user, CERTSWAP_TOKEN_FILE=tb.info["token_file"],
               CERTSWAP_API_URL=tb.url, CERTSWAP_API_CA_FILE=tb.info["api_ca"])
    done = subprocess.run([os.environ["CERTSWAP_BIN"], "init", "--output-dir", str(out)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_avn_reads_and_downloads_what_certswap_installs(tb, settings, avn, user, tmp_path):
    settings(redact_by_default=False)
    p, s = ["--project", tb.project], tb.service

    listed = avn("service", "user-list", *p, s)
    assert user in listed and "avnadmin" in listed
    assert user in avn("service", "user-get", *p, s, "--username", user)

    table = avn("service", "get", *p, s)
    assert s in table and "RUNNING" in table and "google-europe-north1" in table
    service = json.loads(avn("service", "get", *p, s, "--json"))
    assert service["service_name"] == s and service["service_uri"] == tb.info["bootstrap"]

    certswap_init(tb, user, tmp_path / "live")
    avn("service", "user-creds-download", *p, s, "--username", user, "-d", str(tmp_path / "avn"))
    for name in ("ca.pem", "service.cert", "service.key"):
        assert (tmp_path / "avn" / name).read_bytes() == (tmp_path / "live" / name).read_bytes(), name

    avn("project", "ca-get", *p, "--target-filepath", str(tmp_path / "ca-get.pem"))
    assert (tmp_path / "ca-get.pem").read_bytes() == (tmp_path / "live" / "ca.pem").read_bytes()

    java = tmp_path / "java"
    avn("service", "user-kafka-java-creds", *p, s, "--username", user, "-d", str(java),
        "-p", "changeit-" + secrets.token_hex(4))
    assert (java / "client.keystore.p12").stat().st_size > 0
    assert (java / "client.truststore.jks").stat().st_size > 0
    properties = (java / "client.properties").read_text()
    assert f"bootstrap.servers={tb.info['bootstrap']}" in properties

    tb.control("POST", "renew", {"project": tb.project, "service": s, "username": user})
    query = f"project={tb.project}&service={s}&username={user}"
    before = tb.control("GET", f"acks?{query}")
    assert before["pending"]
    avn("service", "user-creds-acknowledge", *p, s, "--username", user)
    after = tb.control("GET", f"acks?{query}")
    assert after["count"] == before["count"] + 1 and not after["pending"]

    password = "Pw-" + secrets.token_hex(8)
    avn("service", "user-password-reset", *p, s, "--username", user, "--new-password", password)
    status, got = tb.call("GET", f"/v1/project/{tb.project}/service/{s}/user/{user}?include_secrets=true")
    assert status == 200 and got["user"]["password"] == password


def test_with_redaction_on_avn_downloads_the_placeholder(tb, settings, avn, user, tmp_path):
    settings(redact_by_default=True, redact_access_key=True)
    avn("service", "user-creds-download", "--project", tb.project, tb.service, "--username", user,
        "-d", str(tmp_path / "avn"))
    assert (tmp_path / "avn" / "service.key").read_text() == "<redacted>"
    assert (tmp_path / "avn" / "service.cert").read_text().startswith("-----BEGIN CERTIFICATE-----")
