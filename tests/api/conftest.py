"""The test bed of tests/testbed/README.md, as the API tests use it."""
import json
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def parse(body):
    """The JSON of a body; None for an empty one (which no schema accepts)."""
    return json.loads(body) if body else None


class Testbed:
    def __init__(self, directory):
        self.info = json.loads((Path(directory) / "testbed.json").read_text())
        self.url = self.info["api_url"]
        self.project = self.info["project"]
        self.service = self.info["service"]
        self.token = Path(self.info["token_file"]).read_text().strip()
        self.token_no_secrets = (
            (Path(self.info["emulator_dir"]) / "token-no-secrets").read_text().strip())
        self.tls = ssl.create_default_context(cafile=self.info["api_ca"])

    def call(self, method, path, body=None, auth=None):
        """(status, parsed JSON body) of an Aiven call; auth None: the token that may read secrets."""
        headers = {"content-type": "application/json"}
        auth = f"aivenv1 {self.token}" if auth is None else auth
        if auth:
            headers["authorization"] = auth
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, context=self.tls, timeout=30) as response:
                return response.status, parse(response.read())
        except urllib.error.HTTPError as error:
            return error.code, parse(error.read())

    def control(self, method, name, body=None):
        status, answer = self.call(method, "/_testbed/" + name, body, auth="")
        assert status == 200, (name, status, answer)
        return answer

    def paths(self, service=None):
        project = f"/v1/project/{self.project}"
        svc = f"{project}/service/{service or self.service}"
        return project, svc


@pytest.fixture
def tb():
    return Testbed(os.environ["CERTSWAP_TESTBED_DIR"])


@pytest.fixture
def settings(tb):
    """Sets emulator switches for one test and puts the previous ones back."""
    before = tb.control("GET", "settings")
    yield lambda **switches: tb.control("POST", "settings", switches)
    tb.control("POST", "settings", before)
