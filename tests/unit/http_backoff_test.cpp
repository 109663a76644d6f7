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
