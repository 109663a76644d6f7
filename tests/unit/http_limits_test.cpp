#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "certswap/http_client.hpp"

using namespace certswap;
using namespace std::chrono_literals;

namespace {

// A local plain-HTTP server on a free port, stopped when the test ends.
struct LocalServer {
  httplib::Server server;
  int port = 0;
  std::thread thread;
  std::atomic<int> hits{0};

  // The socket listens from bind on, so a request made before the thread
  // runs waits in the backlog rather than failing.
  void start() {
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~LocalServer() {
    server.stop();
    if (thread.joinable()) thread.join();
  }
  HttpClient client(std::size_t max_body_bytes = HttpOptions{}.max_body_bytes,
                    std::function<void(std::chrono::milliseconds)> sleep = nullptr) {
    HttpOptions options;
    options.base_url = "http://127.0.0.1:" + std::to_string(port);
    options.allow_plain_http = true;
    options.max_body_bytes = max_body_bytes;
    options.retry.max_delay = 2h;
    options.sleep = sleep ? std::move(sleep) : [](std::chrono::milliseconds) {};
    return HttpClient(options);
  }
};

}  // namespace

TEST_CASE("a response body over the limit fails once, naming the URL and the limit") {
  constexpr std::size_t four_mib = 4 * 1024 * 1024;
  LocalServer local;
  // Announced: libcurl refuses it from the Content-Length alone.
  local.server.Get("/announced", [&](const httplib::Request&, httplib::Response& res) {
    ++local.hits;
    res.set_content(std::string(four_mib + 1, 'x'), "application/json");
  });
  // Streamed without a length: the body is cut off as it grows past the limit.
  local.server.Get("/streamed", [&](const httplib::Request&, httplib::Response& res) {
    ++local.hits;
    res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
      const std::string chunk(64 * 1024, 'x');
      for (std::size_t sent = 0; sent <= four_mib && sink.is_writable(); sent += chunk.size())
        sink.write(chunk.data(), chunk.size());
      sink.done();
      return true;
    });
  });
  local.server.Get("/exact", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(1000, 'x'), "application/json");
  });
  local.start();

  auto client = local.client();
  CHECK(client.options().max_body_bytes == four_mib);
  for (const std::string path : {"/announced", "/streamed"}) {
    INFO(path);
    local.hits = 0;
    auto r = client.request("GET", path + "?q=1", "", {}, true);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Api);
    CHECK_THAT(r.error().message,
               Catch::Contains("http://127.0.0.1:" + std::to_string(local.port) + path + ":") &&
                   Catch::Contains("4194304-byte limit"));
    CHECK(local.hits == 1);
  }

  auto small_limit = local.client(1000);
  auto exact = small_limit.request("GET", "/exact", "", {}, false);
  REQUIRE(exact);
  CHECK(exact->body.size() == 1000);
  CHECK_FALSE(local.client(999).request("GET", "/exact", "", {}, false));
}

TEST_CASE("a huge Retry-After waits at most an hour and never overflows") {
  LocalServer local;
  local.server.Get(R"(/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
    ++local.hits;
    res.status = 429;
    res.set_header("Retry-After", req.matches[1].str());
  });
  local.start();
  std::vector<std::chrono::milliseconds> slept;
  auto client = local.client(HttpOptions{}.max_body_bytes,
                             [&](std::chrono::milliseconds d) { slept.push_back(d); });
  for (const std::string seconds : {"9223372036854775807", "99999999999999999999999", "7200"}) {
    INFO(seconds);
    slept.clear();
    auto r = client.request("GET", "/" + seconds, "", {}, true);
    REQUIRE(r);
    CHECK(r->status == 429);
    REQUIRE_FALSE(slept.empty());
    for (auto d : slept) CHECK(d == kMaxRetryAfter);
  }
}
