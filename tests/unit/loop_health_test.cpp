#include "loop_health.hpp"

#include <catch2/catch.hpp>

using namespace certswap;
using namespace std::chrono_literals;

TEST_CASE("the loop is healthy asleep and within the bound of its work, stalled past it",
          "[health]") {
  LoopHealth::Clock::time_point now{};
  LoopHealth health([&] { return now; });
  CHECK(health.check().healthy);
  health.begin("the check of app", 90s);
  now += 90s;
  CHECK(health.check().healthy);
  now += 1s;
  const auto stalled = health.check();
  CHECK_FALSE(stalled.healthy);
  CHECK(stalled.reason ==
        "stalled: the check of app has run for 91 s, longer than its bound of 90 s");
  health.idle();
  now += 1h;
  CHECK(health.check().healthy);  // asleep until the next event is progress
  health.begin("the loop between checks", 30s);
  CHECK(health.check().healthy);  // a new piece of work restarts the clock
}
