#pragma once
// What certswap reads out of Aiven API responses (see shared/aiven-api.md):
// pure functions of the status and body, so the code that faces the network is
// tested and fuzzed without a server (tests/fuzz/aiven_fuzz.cpp).
#include <optional>
#include <string>
#include <string_view>

#include "certswap/error.hpp"
#include "certswap/secret_string.hpp"

namespace certswap {

struct ServiceUser {
  std::string username;
  std::string access_cert;  // PEM; describes the newest pair while a renewal is pending
  SecretString access_key;  // PEM; never logged, wiped when dropped
  std::string access_cert_not_valid_after_time;
  // Set only while a renewal waits for acknowledgement: the end of the old certificate.
  std::optional<std::string> expiring_cert_not_valid_after_time;

  bool renewal_pending() const { return expiring_cert_not_valid_after_time.has_value(); }
};

struct ServiceAddress {
  std::string bootstrap;  // host:port of the Kafka SSL listener
};

// The checks every answer goes through: a 2xx status, a JSON object body (an
// empty body is an empty object), no truthy "error" field. Fails with the API's
// own message. `where` names the request, e.g. "GET /v1/project/p/kms/ca".
Result<void> check_response(long status, std::string_view body, const std::string& where);

// A 2xx body of GET/PUT .../user/{user}: {"user": {...}}.
Result<ServiceUser> decode_user_response(std::string_view body, const std::string& where);
// A 2xx body of GET /v1/project/{project}/kms/ca: {"certificate": "PEM"}.
Result<std::string> decode_ca_response(std::string_view body, const std::string& where);
// A 2xx body of GET /v1/project/{project}/service/{service}: the kafka component
// that authenticates with certificates, else service_uri.
Result<ServiceAddress> decode_service_response(std::string_view body, const std::string& where);

}  // namespace certswap
