#include "certswap/aiven_response.hpp"

#include <catch2/catch.hpp>
#include <sstream>

using namespace certswap;

namespace {
const std::string kCert = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n";
const std::string kKey = "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n";

std::string user_body(const std::string& cert, const std::string& key) {
  return R"({"user": {"username": "app", "access_cert": ")" + cert + R"(", "access_key": ")" + key +
         R"("}})";
}
}  // namespace

TEST_CASE("a user response gives the pair and tells whether a renewal is pending") {
  auto user = decode_user_response(
      R"({"user": {"username": "app", "access_cert": "-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n",
          "access_key": "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n",
          "access_cert_not_valid_after_time": "2029-02-21T10:00:00Z",
          "expiring_cert_not_valid_after_time": "2027-01-01T00:00:00Z"}})",
      "GET u");
  REQUIRE(user);
  CHECK(user->username == "app");
  CHECK(user->access_cert.starts_with("-----BEGIN CERTIFICATE-----\n"));
  CHECK(user->renewal_pending());
  CHECK_FALSE(decode_user_response(user_body(kCert, kKey), "GET u")->renewal_pending());
}

TEST_CASE("a redacted secret is its own error that says which permission the token needs") {
  for (auto [cert, key, field] : {std::tuple{kCert, std::string("<redacted>"), "access_key"},
                                  std::tuple{kCert, std::string("c2VjcmV0"), "access_key"},
                                  std::tuple{std::string("<redacted>"), kKey, "access_cert"}}) {
    INFO(field << " = " << key);
    auto user = decode_user_response(user_body(cert, key), "GET /v1/u?include_secrets=true");
    REQUIRE_FALSE(user);
    CHECK(user.error().kind == ErrorKind::Api);
    CHECK_THAT(user.error().message, Catch::Contains(field) &&
                                         Catch::Contains("service:secrets:read") &&
                                         Catch::Contains("GET /v1/u?include_secrets=true"));
  }
  CHECK_THAT(decode_user_response(user_body(kCert, "<redacted>"), "GET u").error().message,
             Catch::Contains("redacted (\"<redacted>\")"));
}

TEST_CASE("a 403 gets the hint its request gives, else the generic one") {
  CHECK_THAT(
      check_response(403, R"({"message": "Forbidden"})", "GET u", "needs secrets").error().message,
      Catch::Contains("\"Forbidden\" (needs secrets)"));
  CHECK_THAT(check_response(403, R"({"message": "Forbidden"})", "GET u").error().message,
             Catch::Contains("project membership"));
}

TEST_CASE("the answer of a credentials PUT is the service, its user's pair only when shown") {
  const std::string shown = R"({"service": {"users": [{"username": "other", "access_cert": ")" +
                            kCert + R"(", "access_key": ")" + kKey +
                            R"("}, {"username": "app", "access_cert": ")" + kCert +
                            R"(", "access_key": ")" + kKey + R"("}]}})";
  auto user = decode_modify_response_user(shown, "app");
  REQUIRE(user);
  CHECK(user->username == "app");
  const std::string redacted = R"({"service": {"users": [{"username": "app", "access_cert": ")" +
                               kCert + R"(", "access_key": "<redacted>"}]}})";
  CHECK_FALSE(decode_modify_response_user(redacted, "app"));
  CHECK_FALSE(decode_modify_response_user(shown, "nobody"));
  CHECK_FALSE(decode_modify_response_user(R"({"user": {}})", "app"));
  CHECK_FALSE(decode_modify_response_user("not json", "app"));
}

TEST_CASE("a user response without the pair names the missing field and the request") {
  for (const char* body : {R"({})", R"({"user": 5})", R"({"user": {"username": "app"}})",
                           R"({"user": {"username": "app", "access_cert": "", "access_key": "K"}})",
                           R"({"user": {"username": "app", "access_cert": 1, "access_key": "K"}})",
                           "[1]", "{\"user\": {", "not json"}) {
    INFO(body);
    auto user = decode_user_response(body, "GET /v1/project/p/service/s/user/app");
    REQUIRE_FALSE(user);
    CHECK(user.error().kind == ErrorKind::Api);
    CHECK_THAT(user.error().message, Catch::Contains("GET /v1/project/p/service/s/user/app"));
  }
}

namespace {
// Aiven's mix (spec ComponentOut), in an order that puts every wrong one first.
const std::string kMixed = R"({"service": {"service_uri": "uri.example:9",
    "components": [
      {"component": "kafka", "host": "sasl.example", "port": 2, "route": "dynamic",
       "usage": "primary", "kafka_authentication_method": "sasl"},
      {"component": "kafka", "host": "public.example", "port": 3, "route": "public",
       "usage": "primary", "kafka_authentication_method": "certificate"},
      {"component": "schema_registry", "host": "sr.example", "port": 4, "route": "dynamic",
       "usage": "primary", "kafka_authentication_method": "certificate"},
      {"component": "kafka", "host": "replica.example", "port": 5, "route": "dynamic",
       "usage": "replica", "kafka_authentication_method": "certificate"},
      {"component": "kafka", "host": "private.example", "port": 6, "route": "private",
       "usage": "primary", "kafka_authentication_method": "certificate"},
      {"component": "kafka", "host": "cert.example", "port": 1, "route": "dynamic",
       "usage": "primary", "kafka_authentication_method": "certificate"}]}})";
}  // namespace

TEST_CASE("the listener is the kafka component of the route with certificate authentication") {
  CHECK(decode_service_response(kMixed, "GET s")->bootstrap == "cert.example:1");
  CHECK(decode_service_response(kMixed, "GET s", "public")->bootstrap == "public.example:3");
  CHECK(decode_service_response(kMixed, "GET s", "private")->bootstrap == "private.example:6");
  auto none = decode_service_response(kMixed, "GET s", "privatelink");
  REQUIRE_FALSE(none);
  CHECK(none.error().kind == ErrorKind::Api);
  CHECK_THAT(none.error().message,
             Catch::Contains("no usable Kafka listener") && Catch::Contains("\"privatelink\"") &&
                 Catch::Contains("routes with one: public, dynamic, private"));
}

TEST_CASE("a service whose Kafka listeners take no certificates is refused, not its service_uri") {
  const std::string sasl_only = R"({"service": {"service_uri": "sasl.example:2",
      "components": [{"component": "kafka", "host": "sasl.example", "port": 2,
                      "route": "dynamic", "usage": "primary",
                      "kafka_authentication_method": "sasl"}]}})";
  auto refused = decode_service_response(sasl_only, "GET s");
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message,
             Catch::Contains("certificate authentication is not enabled") &&
                 Catch::Contains("--bootstrap"));
}

TEST_CASE("a PrivateLink connection id takes that connection's listener, listed first or not") {
  const std::string two_links = R"({"service": {"components": [
      {"component": "kafka", "host": "link-a.example", "port": 7, "route": "privatelink",
       "usage": "primary", "kafka_authentication_method": "certificate",
       "privatelink_connection_id": "plc-a"},
      {"component": "kafka", "host": "link-b.example", "port": 8, "route": "privatelink",
       "usage": "primary", "kafka_authentication_method": "certificate",
       "privatelink_connection_id": "plc-b"}]}})";
  CHECK(decode_service_response(two_links, "GET s", "privatelink", "plc-b")->bootstrap ==
        "link-b.example:8");
  CHECK(decode_service_response(two_links, "GET s", "privatelink", "plc-a")->bootstrap ==
        "link-a.example:7");
  auto missing = decode_service_response(two_links, "GET s", "privatelink", "plc-c");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == ErrorKind::Api);
  CHECK_THAT(missing.error().message,
             Catch::Contains("\"plc-c\"") && Catch::Contains("connections listed: plc-a, plc-b"));
}

TEST_CASE("a replica listener serves only when the route has no primary one") {
  const std::string replica_only = R"({"service": {"components": [
      {"component": "kafka", "host": "replica.example", "port": 5, "route": "dynamic",
       "usage": "replica", "kafka_authentication_method": "certificate"}]}})";
  CHECK(decode_service_response(replica_only, "GET s")->bootstrap == "replica.example:5");
}

TEST_CASE("service_uri stands in for the default route only") {
  const std::string bare = R"({"service": {"service_uri": "uri.example:9", "components": []}})";
  CHECK(decode_service_response(bare, "GET s")->bootstrap == "uri.example:9");
  CHECK_FALSE(decode_service_response(bare, "GET s", "private"));
  auto nothing = decode_service_response(R"({"service": {"service_uri": ""}})", "GET s");
  REQUIRE_FALSE(nothing);
  CHECK_THAT(nothing.error().message, Catch::Contains("no service_uri"));
}

TEST_CASE("components of another shape are skipped, not trusted or thrown on") {
  for (const char* components :
       {R"([1])", R"([{"component": 5, "host": "h", "port": 1}])",
        R"([{"component": "kafka", "host": 7, "port": 1}])",
        R"([{"component": "kafka", "host": "h", "port": "1"}])",
        R"([{"component": "kafka", "host": "h", "port": 1, "kafka_authentication_method": 3}])",
        R"([{"component": "kafka", "host": "h", "port": 1, "route": "dynamic"}])",
        R"([{"component": "kafka", "host": "h", "port": 1, "route": 1,
             "kafka_authentication_method": "certificate"}])"}) {
    INFO(components);
    auto address = decode_service_response(
        std::string(R"({"service": {"service_uri": "uri.example:3", "components": )") + components +
            "}}",
        "GET s");
    REQUIRE(address);
    CHECK(address->bootstrap == "uri.example:3");
  }
}

TEST_CASE("an error status or a truthy error field fails with the API's own message") {
  auto not_found = check_response(404, R"({"message": "Service user does not exist"})", "GET u");
  REQUIRE_FALSE(not_found);
  CHECK_THAT(not_found.error().message, Catch::Contains("HTTP 404"));
  CHECK_THAT(not_found.error().message, Catch::Contains("Service user does not exist"));
  CHECK_FALSE(check_response(200, R"({"error": "boom", "message": "boom"})", "GET u"));
  CHECK_FALSE(check_response(200, "<html>", "GET u"));
  CHECK(check_response(200, R"({"error": null})", "GET u"));
  CHECK(check_response(204, "", "PUT u"));
}

// check_response reads the body as a stream of tokens, not as a document.
TEST_CASE("only a top-level error counts and only a whole JSON object passes") {
  for (const char* truthy : {R"("x")", "true", "0", "1.5", "{}", "[]", R"({"a": 1})"}) {
    INFO(truthy);
    CHECK_FALSE(check_response(
        200, std::string(R"({"a": [1, {"error": null}], "error": )") + truthy + "}", "PUT u"));
  }
  for (const char* falsy : {"null", "false", R"("")"}) {
    INFO(falsy);
    CHECK(check_response(200, std::string(R"({"error": )") + falsy + R"(, "b": {"c": []}})",
                         "PUT u"));
  }
  CHECK(check_response(200, R"({"service": {"error": "nested", "users": [{"error": true}]}})",
                       "PUT u"));
  // The last "error" key wins, as a parsed document keeps it.
  CHECK(check_response(200, R"({"error": "first", "error": false})", "PUT u"));
  for (const char* not_object : {"[]", R"("text")", "42", "null", R"({"a": 1} x)", R"({"a": )"}) {
    INFO(not_object);
    auto r = check_response(200, not_object, "PUT u");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("not a JSON object"));
  }
}

TEST_CASE("the service answer is read for its listeners only, as it streams") {
  // Users, ACLs and topics of any shape are read through: braces and keys
  // named like the wanted ones inside them are not taken.
  std::string body = R"({"service": {"users": [)";
  for (int i = 0; i < 2000; ++i) {
    body += std::string(i ? "," : "") + R"({"username": "u)" + std::to_string(i) +
            R"(", "access_cert": ")" + kCert +
            R"(", "components": [{"component": "kafka", "host": "wrong", "port": 1,
               "route": "dynamic", "kafka_authentication_method": "certificate"}],
               "deep": [[[{"service_uri": "wrong:1", "x": "}]\"{["}]]]})";
  }
  body += R"(], "service_uri": "uri.example:9", "acl": [{"topic": "*"}],
             "components": [{"component": "kafka", "host": "cert.example", "port": 1,
                             "route": "dynamic", "kafka_authentication_method": "certificate"}],
             "topics": {"service_uri": "wrong:2"}}, "message": "ok"})";
  std::istringstream stream(body);
  auto address = decode_service_response(stream, "GET s");
  REQUIRE(address);
  CHECK(address->bootstrap == "cert.example:1");
  CHECK(decode_service_response(body, "GET s")->bootstrap == "cert.example:1");

  std::istringstream failed(
      R"({"service": {"service_uri": "u:1"}, "error": "boom", "message": "m"})");
  auto error = decode_service_response(failed, "GET s");
  REQUIRE_FALSE(error);
  CHECK_THAT(error.error().message, Catch::Contains("\"m\""));
  std::istringstream cut(body.substr(0, body.size() / 2));
  CHECK_THAT(decode_service_response(cut, "GET s").error().message,
             Catch::Contains("truncated or malformed"));
}

TEST_CASE("a PUT answer read as it streams gives its error, or the one user asked for") {
  const std::string other = R"({"username": "other", "access_cert": ")" + kCert +
                            R"(", "access_key": ")" + kKey + R"("})";
  const std::string app =
      R"({"access_cert": ")" + kCert + R"(", "access_key": ")" + kKey + R"(", "username": "app"})";
  std::istringstream shown(R"({"message": "reset", "service": {"users": [)" + other + "," + app +
                           "," + other + R"(]}})");
  auto answer = decode_modify_response(shown, "app");
  CHECK(answer.readable);
  CHECK_FALSE(answer.error);
  REQUIRE(answer.user);
  CHECK(answer.user->username == "app");

  std::istringstream acknowledged(R"({"message": "ok", "service": {"users": [)" + app + "]}}");
  auto ack = decode_modify_response(acknowledged, "");
  CHECK(ack.readable);
  CHECK_FALSE(ack.user);

  std::istringstream failed(R"({"error": {"code": 1}, "message": "no such operation"})");
  auto refused = decode_modify_response(failed, "app");
  REQUIRE(refused.error);
  CHECK(*refused.error == "no such operation");

  std::istringstream not_json("<html>");
  CHECK_FALSE(decode_modify_response(not_json, "app").readable);
}

TEST_CASE("a PUT answer whose service or users is not what the spec says holds no user",
          "[aiven]") {
  for (const std::string body : {R"({"service": "acknowledged", "user": {"username": "app"}})",
                                 R"({"service": {"users": 7}})", R"({"service": {"users": []}})",
                                 R"({"service": {"users": ["app"]}})", R"(["service"])"}) {
    INFO(body);
    CHECK_FALSE(certswap::decode_modify_response_user(body, "app"));
    std::istringstream stream(body);
    CHECK_FALSE(certswap::decode_modify_response(stream, "app").user);
  }
}
