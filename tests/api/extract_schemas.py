#!/usr/bin/env python3
"""Writes tests/testbed/schemas/aiven-responses.json: the response schemas of Aiven's OpenAPI
spec for the operations the test bed's emulator serves, and the error shape.

    extract_schemas.py OPENAPI_JSON COMMIT DATE

OPENAPI_JSON is `src/main/resources/openapi.json` of the GitHub repository
jeffmaury/intellij-aiven at COMMIT (a public copy of the spec; DATE is that
commit's date). Only the pieces named below are kept, so the spec itself is
not vendored.
"""
import json
import sys
from pathlib import Path

OPERATIONS = [
    "ServiceUserGet",
    "ServiceUserCreate",
    "ServiceUserDelete",
    "ServiceUserCredentialsModify",
    "ServiceGet",
    "ProjectKmsGetCA",
]

# The schema of a failed response. The spec gives every response an optional
# `errors` array (items: `message` and `status` required) next to `message`;
# its "Failed responses" section says a failure returns that list, and
# go-client-codegen (error.go, fromBytes) reads both fields from every failure.
# `error_code` is the item property the spec's "Errors" section describes in
# prose only.
def error_schema(any_response):
    errors = json.loads(json.dumps(any_response["properties"]["errors"]))
    errors["minItems"] = 1
    errors["items"]["properties"]["error_code"] = {
        "type": "string",
        "description": "Machine-readable error code (spec, section Errors)",
    }
    return {
        "type": "object",
        "description": "A failed response",
        "properties": {"errors": errors, "message": any_response["properties"]["message"]},
        "required": ["errors", "message"],
    }


def resolve(spec, node):
    ref = node.get("$ref")
    if ref is None:
        return node
    target = spec
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    spec = json.loads(Path(sys.argv[1]).read_text())
    by_id = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                by_id[op["operationId"]] = (method.upper(), path, op)
    out = {
        "source": {
            "repository": "https://github.com/jeffmaury/intellij-aiven",
            "file": "src/main/resources/openapi.json",
            "commit": sys.argv[2],
            "date": sys.argv[3],
            "spec_version": spec["info"]["version"],
            "openapi": spec["openapi"],
            "generated_by": "tests/api/extract_schemas.py",
        },
        "operations": {},
    }
    for name in OPERATIONS:
        method, path, op = by_id[name]
        statuses = sorted(op["responses"])
        responses = {
            status: resolve(spec, op["responses"][status]["content"]["application/json"]["schema"])
            for status in statuses
        }
        out["operations"][name] = {"method": method, "path": path, "responses": responses}
    out["error"] = error_schema(out["operations"]["ServiceUserDelete"]["responses"]["200"])
    target = Path(__file__).resolve().parent.parent / "testbed" / "schemas" / "aiven-responses.json"
    target.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(target)


if __name__ == "__main__":
    main()
