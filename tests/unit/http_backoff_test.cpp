#include <catch2/catch.hpp>

#include "certswap/aiven_client.hpp"
#include "certswap/http_client.hpp"

using namespace certswap;
using namespace std::chrono_literals;

TEST_CASE("backoff grows exponentially within the jitter ceiling and is capped") {
  RetryPolicy policy{.max_attempts = 10, .base_delay = 500ms, .max_delay = 4s};
  CHECK(backoff_delay(policy, 1, 1.0, std::nullopt) == 500ms);
  CHECK(backoff_delay(policy, 2, 1.0, std::nullopt) == 1000ms);
  CHECK(backoff_delay(policy, 3, 1.0, std::nullopt) == 2000ms);
  CHECK(backoff_delay(policy, 5, 1.0, std::nullopt) == 4000ms);
  CHECK(backoff_delay(policy, 3, 0.5, std::nullopt) == 1000ms);
  CHECK(backoff_delay(policy, 3, 0.0, std::nullopt) == 0ms);
}

TEST_CASE("Retry-After from the API wins over the computed backoff, within the cap") {
  RetryPolicy policy{.max_attempts = 4, .base_delay = 500ms, .max_delay = 30s};
  CHECK(backoff_delay(policy, 1, 0.1, 7s) == 7000ms);
  CHECK(backoff_delay(policy, 1, 0.1, 300s) == 30000ms);
}

TEST_CASE("path segments are percent-encoded") {
  CHECK(url_encode_segment("my-project_1.x~") == "my-project_1.x~");
  CHECK(url_encode_segment("a b/c") == "a%20b%2Fc");
  CHECK(AivenClient::user_path("p", "kafka 1", "app/x") ==
        "/v1/project/p/service/kafka%201/user/app%2Fx");
}

TEST_CASE("the client refuses plain-HTTP and other schemes unless plain HTTP is allowed") {
  for (const char* url : {"http://127.0.0.1:1", "ftp://127.0.0.1:1", "127.0.0.1:1"}) {
    INFO(url);
    HttpOptions options;
    options.base_url = url;
    HttpClient client(options);
    auto r = client.request("GET", "/v1/x", "", {"authorization: aivenv1 secret-token"}, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Usage);
    CHECK_THAT(r.error().message, Catch::Contains("only https://"));
    CHECK_THAT(r.error().message, !Catch::Contains("secret-token"));
  }
  // Allowed, the request is made (and fails at the transport: nothing listens on port 1).
  HttpOptions options;
  options.base_url = "http://127.0.0.1:1";
  options.allow_plain_http = true;
  HttpClient allowed(options);
  auto r = allowed.request("GET", "/v1/x", "", {}, false);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, !Catch::Contains("only https://"));
}

TEST_CASE("backoff stays within the cap whatever the attempt, base delay or Retry-After") {
  RetryPolicy policy{.max_attempts = 4, .base_delay = 500ms, .max_delay = 30s};
  CHECK(backoff_delay(policy, 1, 0.5, std::chrono::seconds::max()) == 30s);
  CHECK(backoff_delay(policy, 1, 0.5, std::chrono::seconds::min()) == 0ms);
  CHECK(backoff_delay(policy, 1000, 1.0, std::nullopt) == 30s);
  CHECK(backoff_delay(policy, -5, 1.0, std::nullopt) == 500ms);
  // 2^50 ms doubled 20 times is past what a long long holds.
  RetryPolicy huge{.max_attempts = 4,
                   .base_delay = std::chrono::milliseconds(1LL << 50),
                   .max_delay = std::chrono::milliseconds(1LL << 60)};
  CHECK(backoff_delay(huge, 21, 1.0, std::nullopt) == std::chrono::milliseconds(1LL << 60));
}
