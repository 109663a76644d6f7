#include "certswap/aiven_response.hpp"

#include <catch2/catch.hpp>

using namespace certswap;

TEST_CASE("a user response gives the pair and tells whether a renewal is pending") {
  auto user = decode_user_response(
      R"({"user": {"username": "app", "access_cert": "CERT", "access_key": "KEY",
          "access_cert_not_valid_after_time": "2029-02-21T10:00:00Z",
          "expiring_cert_not_valid_after_time": "2027-01-01T00:00:00Z"}})",
      "GET u");
  REQUIRE(user);
  CHECK(user->username == "app");
  CHECK(user->access_cert == "CERT");
  CHECK(user->renewal_pending());
  CHECK_FALSE(
      decode_user_response(
          R"({"user": {"username": "app", "access_cert": "C", "access_key": "K"}})", "GET u")
          ->renewal_pending());
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

TEST_CASE("the service address prefers the certificate-authenticated kafka component") {
  auto address = decode_service_response(
      R"({"service": {"service_uri": "sasl.example:2",
          "components": [{"component": "kafka", "host": "sasl.example", "port": 2,
                          "kafka_authentication_method": "sasl"},
                         {"component": "kafka", "host": "cert.example", "port": 1}]}})",
      "GET s");
  REQUIRE(address);
  CHECK(address->bootstrap == "cert.example:1");
}

TEST_CASE("components of another shape are skipped, not trusted or thrown on") {
  for (const char* components :
       {R"([1])", R"([{"component": 5, "host": "h", "port": 1}])",
        R"([{"component": "kafka", "host": 7, "port": 1}])",
        R"([{"component": "kafka", "host": "h", "port": "1"}])",
        R"([{"component": "kafka", "host": "h", "port": 1, "kafka_authentication_method": 3}])"}) {
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
