// The token's budget: its rate, its bound in flight, and the pause a 429 puts
// on every request of the token; and the HTTP client that spends it.
#include "certswap/api_budget.hpp"

#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "certswap/aiven_client.hpp"
#include "certswap/http_client.hpp"

using namespace certswap;
using namespace std::chrono_literals;

namespace {

struct FakeClock {
  ApiBudget::Clock::time_point now{std::chrono::hours(1)};
  std::function<ApiBudget::Clock::time_point()> fn() {
    return [this] { return now; };
  }
};

struct LocalServer {
  httplib::Server server;
  int port = 0;
  std::thread thread;
  void start() {
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~LocalServer() {
    server.stop();
    if (thread.joinable()) thread.join();
  }
  HttpOptions options(std::shared_ptr<ApiBudget> budget) const {
    HttpOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(port);
    o.allow_plain_http = true;
    o.sleep = [](std::chrono::milliseconds) {};
    o.budget = std::move(budget);
    return o;
  }
};

}  // namespace

TEST_CASE("the budget lets a burst through, then one request per 1/rate", "[budget]") {
  FakeClock clock;
  ApiBudget budget({.rate = 2, .burst = 3, .max_in_flight = 100}, clock.fn());
  std::vector<ApiBudget::Slot> held;
  for (int i = 0; i < 3; ++i) {
    auto slot = budget.try_acquire();
    REQUIRE(slot);
    held.push_back(std::move(*slot));
  }
  CHECK_FALSE(budget.try_acquire());  // the bucket is empty
  clock.now += 499ms;
  CHECK_FALSE(budget.try_acquire());
  clock.now += 1ms;  // 1/rate = 500 ms later, one token
  CHECK(budget.try_acquire());
  CHECK_FALSE(budget.try_acquire());
  clock.now += 10s;  // a long quiet spell refills up to the burst, no more
  CHECK(budget.stats().tokens == Approx(3.0));
}

TEST_CASE("no more requests in flight than the bound, and a returned slot frees a place",
          "[budget]") {
  FakeClock clock;
  ApiBudget budget({.rate = 0, .max_in_flight = 2}, clock.fn());
  auto a = budget.try_acquire();
  auto b = budget.try_acquire();
  REQUIRE(a);
  REQUIRE(b);
  CHECK_FALSE(budget.try_acquire());
  CHECK(budget.stats().in_flight == 2);
  a.reset();
  CHECK(budget.try_acquire());
}

TEST_CASE("threads that all want to send at once stay within the bound", "[budget]") {
  ApiBudget budget({.rate = 0, .max_in_flight = 3});
  std::atomic<int> in_flight{0}, most{0}, done{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < 50; ++k) {
        auto slot = budget.acquire();
        const int now = ++in_flight;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::yield();
        --in_flight;
      }
      ++done;
    });
  }
  threads.clear();
  CHECK(done == 12);
  CHECK(most.load() <= 3);
  CHECK(budget.stats().peak_in_flight <= 3);
  CHECK(budget.stats().requests == 600);
}

TEST_CASE("a pause holds back every request of the token until it ends", "[budget]") {
  FakeClock clock;
  ApiBudget budget({.rate = 0, .max_in_flight = 8}, clock.fn());
  budget.pause(5s);
  CHECK_FALSE(budget.try_acquire());
  CHECK(budget.stats().pauses == 1);
  CHECK(budget.stats().paused_for == 5s);
  clock.now += 4999ms;
  CHECK_FALSE(budget.try_acquire());
  clock.now += 1ms;
  CHECK(budget.try_acquire());
  CHECK(budget.stats().paused_for == 0ms);
}

TEST_CASE("stopping ends a paused acquire and a back-off at once, a free request still goes",
          "[budget]") {
  ApiBudget budget({.rate = 0, .max_in_flight = 8});
  budget.pause(1h);
  std::optional<std::optional<ApiBudget::Slot>> waited;
  // Without stop_waiting both would wait an hour (ctest's timeout would end it).
  std::jthread waiter([&] { waited.emplace(budget.acquire()); });
  std::jthread sleeper([&] { budget.wait_for(1h); });
  budget.stop_waiting();
  waiter.join();
  sleeper.join();
  REQUIRE(waited);
  CHECK_FALSE(*waited);
  CHECK(budget.stopping());

  ApiBudget free_budget({.rate = 0, .max_in_flight = 8});
  free_budget.stop_waiting();
  CHECK(free_budget.acquire());
}

TEST_CASE("a 429 with Retry-After to one request pauses the budget the others share", "[budget]") {
  LocalServer local;
  local.server.Get("/busy", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "30");
    res.set_content("{}", "application/json");
  });
  local.start();
  auto budget = std::make_shared<ApiBudget>(ApiBudget::Limits{.rate = 0, .max_in_flight = 8});
  HttpClient one(local.options(budget));
  // Without its own retry: a retry would wait out the pause like everyone else.
  auto r = one.request("GET", "/busy", "", {}, false);
  REQUIRE(r);
  CHECK(r->status == 429);
  const auto stats = budget->stats();
  CHECK(stats.pauses == 1);
  CHECK(stats.paused_for > 25s);
  // Any other request of the same token must wait as well.
  CHECK_FALSE(budget->try_acquire());
}

TEST_CASE("a 429 without Retry-After does not pause the token", "[budget]") {
  LocalServer local;
  local.server.Get("/busy", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_content("{}", "application/json");
  });
  local.start();
  auto budget = std::make_shared<ApiBudget>(ApiBudget::Limits{.rate = 0, .max_in_flight = 8});
  HttpClient client(local.options(budget));
  auto r = client.request("GET", "/busy", "", {}, false);
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(budget->stats().pauses == 0);
  CHECK(budget->try_acquire());
}

TEST_CASE("one HTTP client serves many threads at once, within the budget's bound", "[budget]") {
  LocalServer local;
  std::atomic<int> in_flight{0}, most{0};
  local.server.Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    const int now = ++in_flight;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(20ms);  // the server's own work, so that requests overlap
    --in_flight;
    res.set_content("{}", "application/json");
  });
  local.start();
  auto budget = std::make_shared<ApiBudget>(ApiBudget::Limits{.rate = 0, .max_in_flight = 3});
  HttpClient client(local.options(budget));
  std::atomic<int> ok{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int k = 0; k < 5; ++k) {
          auto r = client.request("GET", "/slow", "", {}, false);
          if (r && r->status == 200) ++ok;
        }
      });
    }
  }
  CHECK(ok == 40);
  CHECK(most.load() <= 3);
  CHECK(most.load() >= 2);  // they did overlap: the client is not one-at-a-time
}

TEST_CASE("the project CA is asked once per pass, however many targets ask at once", "[budget]") {
  LocalServer local;
  std::atomic<int> ca_gets{0};
  local.server.Get("/v1/project/p/kms/ca", [&](const httplib::Request&, httplib::Response& res) {
    ++ca_gets;
    std::this_thread::sleep_for(10ms);
    res.set_content(
        R"({"certificate": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"})",
        "application/json");
  });
  local.start();
  AivenClient api(local.options(nullptr), "token");
  // No pass yet (the one-shot commands): every call asks.
  REQUIRE(api.get_project_ca("p"));
  REQUIRE(api.get_project_ca("p"));
  CHECK(ca_gets == 2);
  api.new_pass();
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 8; ++t) threads.emplace_back([&] { CHECK(api.get_project_ca("p")); });
  }
  CHECK(ca_gets == 3);
  api.new_pass();
  REQUIRE(api.get_project_ca("p"));
  CHECK(ca_gets == 4);
}

TEST_CASE("a service's address is asked once per pass and route, however many targets ask",
          "[budget]") {
  LocalServer local;
  std::atomic<int> service_gets{0};
  local.server.Get("/v1/project/p/service/s", [&](const httplib::Request&, httplib::Response& res) {
    ++service_gets;
    std::this_thread::sleep_for(10ms);
    res.set_content(R"({"service": {"service_uri": "kafka.example:9", "components": [
        {"component": "kafka", "route": "public", "host": "public.example", "port": 10,
         "kafka_authentication_method": "certificate"}]}})",
                    "application/json");
  });
  local.start();
  AivenClient api(local.options(nullptr), "token");
  REQUIRE(api.get_service_address("p", "s"));
  REQUIRE(api.get_service_address("p", "s"));
  CHECK(service_gets == 2);
  api.new_pass();
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        auto address = api.get_service_address("p", "s");
        REQUIRE(address);
        CHECK(address->bootstrap == "kafka.example:9");
      });
    }
  }
  CHECK(service_gets == 3);
  // Another route is another answer to keep.
  auto address = api.get_service_address("p", "s", "public");
  REQUIRE(address);
  CHECK(address->bootstrap == "public.example:10");
  CHECK(service_gets == 4);
  api.new_pass();
  REQUIRE(api.get_service_address("p", "s"));
  CHECK(service_gets == 5);
}
