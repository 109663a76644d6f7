#pragma once
// What certswap reads out of Aiven API responses (see shared/aiven-api.md):
// pure functions of the status and body, so the code that faces the network is
// tested and fuzzed without a server (tests/fuzz/aiven_fuzz.cpp).
#include <istream>
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
  std::string origin;     // which listener it is, for the logs
};

// The Kafka listener routes a service can list (spec ComponentOut.route).
inline constexpr std::string_view kKafkaRoutes[] = {"dynamic", "public", "private", "privatelink"};

// The checks every answer goes through: a 2xx status, a JSON object body (an
// empty body is an empty object), no truthy "error" field. Fails with the API's
// own message. `where` names the request, e.g. "GET /v1/project/p/kms/ca".
// `forbidden_hint` replaces the generic advice for a 403.
Result<void> check_response(long status, std::string_view body, const std::string& where,
                            std::string_view forbidden_hint = {});

// A 2xx body of GET .../user/{user}?include_secrets=true: {"user": {...}}. A
// redacted (or otherwise non-PEM) access_key or access_cert is an error of its own.
Result<ServiceUser> decode_user_response(std::string_view body, const std::string& where);
// The user `username` in the 2xx body of PUT .../user/{user}, which is the whole
// service object (spec ServiceUserCredentialsModifyResponse). Empty when the
// answer carries no usable (unredacted) pair: write answers are redacted.
std::optional<ServiceUser> decode_modify_response_user(std::string_view body,
                                                       const std::string& username);
// The same answer read as it arrives: it lists every user of the service, so
// only `username`'s object is built (none when `username` is empty).
struct ModifyAnswer {
  bool readable = false;             // one JSON object, read to its end
  std::optional<std::string> error;  // a truthy top-level "error": the API's message
  std::optional<ServiceUser> user;   // `username`'s unredacted pair
};
ModifyAnswer decode_modify_response(std::istream& body, const std::string& username);
// A 2xx body of GET /v1/project/{project}/kms/ca: {"certificate": "PEM"}.
Result<std::string> decode_ca_response(std::string_view body, const std::string& where);
// A 2xx body of GET /v1/project/{project}/service/{service}: the Kafka listener
// on `route` that authenticates with certificates, as `avn` picks it
// (aiven-client connection_info/kafka.py); for the default route "dynamic",
// service_uri when the service lists no such component. A non-empty
// `privatelink_id` takes only the component of that PrivateLink connection
// (spec ComponentOut.privatelink_connection_id), as avn's
// --privatelink-connection-id does.
// Only the components and service_uri are built, never the users, ACLs or
// topics; a truthy top-level "error" fails here too.
Result<ServiceAddress> decode_service_response(std::string_view body, const std::string& where,
                                               std::string_view route = "dynamic",
                                               std::string_view privatelink_id = {});
// The same, read as it arrives (an answer of 45 MiB with 10,000 users).
Result<ServiceAddress> decode_service_response(std::istream& body, const std::string& where,
                                               std::string_view route = "dynamic",
                                               std::string_view privatelink_id = {});

}  // namespace certswap
