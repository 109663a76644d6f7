"""Every answer of the emulator's Aiven paths matches the response schema
Aiven's OpenAPI spec gives for that operation (tests/testbed/schemas/aiven-responses.json,
source and commit inside), in both redaction settings.

Run by ctest (api.spec-schemas) with CERTSWAP_TESTBED_DIR set.
"""
import json
import secrets
from pathlib import Path

import jsonschema
import pytest

SPEC = json.loads(
    (Path(__file__).parent.parent / "testbed" / "schemas" / "aiven-responses.json").read_text()
)


def check(operation, status, body):
    responses = SPEC["operations"][operation]["responses"]
    # The spec lists only 200 for each of these operations.
    assert str(status) in responses, f"{operation} answered {status}, the spec gives {list(responses)}"
    jsonschema.Draft4Validator(responses[str(status)]).validate(body)


def check_error(status, body, expected):
    assert status == expected, body
    jsonschema.Draft4Validator(SPEC["error"]).validate(body)
    assert body["errors"][0]["status"] == expected


@pytest.mark.parametrize("redact_by_default", [True, False], ids=["redacting", "pre-2027"])
def test_every_endpoint_answers_as_the_spec_says(tb, settings, redact_by_default):
    settings(redact_by_default=redact_by_default)
    project, svc = tb.paths()
    name = f"schema-{secrets.token_hex(4)}"

    status, created = tb.call("POST", f"{svc}/user", {"username": name})
    check("ServiceUserCreate", status, created)
    assert created["user"]["username"] == name

    user = f"{svc}/user/{name}"
    for query in ("", "?include_secrets=true", "?include_secrets=false"):
        check("ServiceUserGet", *tb.call("GET", user + query))
    check("ServiceUserGet", *tb.call("GET", user, auth=f"aivenv1 {tb.token_no_secrets}"))

    # A renewal adds expiring_cert_not_valid_after_time until it is acknowledged.
    tb.control("POST", "renew", {"project": tb.project, "service": tb.service, "username": name})
    status, pending = tb.call("GET", user + "?include_secrets=true")
    check("ServiceUserGet", status, pending)
    assert "expiring_cert_not_valid_after_time" in pending["user"]

    for operation in ({"operation": "acknowledge-renewal"},
                      {"operation": "reset-credentials"},
                      {"operation": "reset-credentials", "new_password": "Xx-" + secrets.token_hex(8)},
                      {"operation": "set-access-control", "access_control": {}}):
        check("ServiceUserCredentialsModify", *tb.call("PUT", user, operation))

    for query in ("", "?include_secrets=true"):
        check("ServiceGet", *tb.call("GET", svc + query))
    check("ProjectKmsGetCA", *tb.call("GET", f"{project}/kms/ca"))

    # Not in the spec (no list operation there): the emulator's list of users
    # carries the users of ServiceUserGet.
    status, listed = tb.call("GET", f"{svc}/user")
    assert status == 200
    user_schema = SPEC["operations"]["ServiceUserGet"]["responses"]["200"]["properties"]["user"]
    for item in listed["users"]:
        jsonschema.Draft4Validator(user_schema).validate(item)

    check("ServiceUserDelete", *tb.call("DELETE", user))


def test_a_service_without_components_answers_as_the_spec_says(tb):
    other = f"schema-svc-{secrets.token_hex(4)}"
    tb.control("POST", "service", {"project": tb.project, "service": other, "host": "127.0.0.1",
                                   "port": 0, "components": False})
    _, svc = tb.paths(other)
    status, body = tb.call("GET", svc)
    check("ServiceGet", status, body)
    assert body["service"]["components"] == []


def test_every_failure_has_the_error_shape(tb):
    project, svc = tb.paths()
    user = f"{svc}/user/app"
    check_error(*tb.call("GET", user, auth=""), 401)
    check_error(*tb.call("GET", user, auth="aivenv1 not-the-token"), 403)
    check_error(*tb.call("GET", user + "?include_secrets=true",
                         auth=f"aivenv1 {tb.token_no_secrets}"), 403)
    check_error(*tb.call("GET", f"{svc}/user/nobody"), 404)
    check_error(*tb.call("GET", f"{project}/service/nothing"), 404)
    check_error(*tb.call("GET", "/v1/project/no-such-project/kms/ca"), 404)
    check_error(*tb.call("PUT", user, {"operation": "fly"}), 400)
    check_error(*tb.call("POST", f"{svc}/user", {}), 400)
    check_error(*tb.call("POST", f"{svc}/user", {"username": "app"}), 409)
    check_error(*tb.call("DELETE", f"{svc}/user/avnadmin"), 400)
    check_error(*tb.call("DELETE", f"{svc}/user/nobody"), 404)
    check_error(*tb.call("GET", f"{project}/no-such-operation"), 404)
