#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <ctime>
#include <thread>
#include <vector>

#include "certswap/aiven_client.hpp"
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
                    std::function<void(std::chrono::milliseconds)> sleep = nullptr,
                    std::size_t max_streamed_body_bytes = HttpOptions{}.max_streamed_body_bytes) {
    HttpOptions options;
    options.max_streamed_body_bytes = max_streamed_body_bytes;
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
  // An HTTP-date (RFC 9110 10.2.3) two hours ahead, and one in the past.
  local.server.Get(R"(/date/(\w+))", [&](const httplib::Request& req, httplib::Response& res) {
    ++local.hits;
    res.status = 429;
    const std::time_t when = std::time(nullptr) + (req.matches[1].str() == "ahead" ? 7200 : -7200);
    char text[64];
    std::tm tm{};
    gmtime_r(&when, &tm);
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    res.set_header("Retry-After", text);
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
  slept.clear();
  REQUIRE(client.request("GET", "/date/ahead", "", {}, true));
  REQUIRE_FALSE(slept.empty());
  for (auto d : slept) CHECK(d == kMaxRetryAfter);
  slept.clear();
  REQUIRE(client.request("GET", "/date/past", "", {}, true));
  REQUIRE_FALSE(slept.empty());
  for (auto d : slept) CHECK(d == std::chrono::milliseconds(0));
}

TEST_CASE("a streamed answer is read past the body limit as it arrives, up to its own limit") {
  constexpr std::size_t six_mib = 6 * 1024 * 1024;
  LocalServer local;
  local.server.Get("/big", [&](const httplib::Request&, httplib::Response& res) {
    // Fails once first: the reader only sees the answer that is not retried.
    if (++local.hits == 1) {
      res.status = 503;
      res.set_content(R"({"message": "busy"})", "application/json");
      return;
    }
    res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
      const std::string chunk(64 * 1024, 'x');
      for (std::size_t sent = 0; sent < six_mib && sink.is_writable(); sent += chunk.size())
        sink.write(chunk.data(), chunk.size());
      sink.done();
      return true;
    });
  });
  local.server.Put("/announced", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(six_mib, 'y'), "application/json");
  });
  local.start();

  std::vector<std::pair<long, std::size_t>> reads;
  auto count = [&](long status, std::istream& in) {
    std::size_t n = 0;
    char buffer[4096];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) n += in.gcount();
    reads.emplace_back(status, n);
  };
  auto client = local.client();
  auto big = client.request_streamed("GET", "/big", "", {}, true, count);
  REQUIRE(big);
  CHECK(big->status == 200);
  CHECK(big->end == BodyEnd::Complete);
  CHECK(reads == std::vector<std::pair<long, std::size_t>>{{200, six_mib}});
  CHECK(local.hits == 2);

  // Past the streamed limit: cut off, announced or not.
  for (const auto& [method, path] : {std::pair{"GET", "/big"}, {"PUT", "/announced"}}) {
    INFO(path);
    reads.clear();
    local.hits = 1;
    auto small = local.client(HttpOptions{}.max_body_bytes, nullptr, 1024 * 1024);
    auto cut = small.request_streamed(method, path, "", {}, false, count);
    REQUIRE(cut);
    CHECK(cut->status == 200);
    CHECK(cut->end == BodyEnd::OverLimit);
    REQUIRE(reads.size() == 1);
    CHECK(reads[0].second <= 1024 * 1024);
  }
}

TEST_CASE("the API URL may be the spec's server URL, ending in /v1, with or without a slash") {
  LocalServer local;
  local.server.Get("/v1/project/p/kms/ca", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"certificate": "CA"})", "application/json");
  });
  local.start();
  for (const std::string tail : {"", "/", "/v1", "/v1/"}) {
    INFO(tail);
    HttpOptions options;
    options.base_url = "http://127.0.0.1:" + std::to_string(local.port) + tail;
    options.allow_plain_http = true;
    options.retry.max_attempts = 1;
    AivenClient api(options, "token");
    auto ca = api.get_project_ca("p");
    REQUIRE(ca);
    CHECK(*ca == "CA");
  }
}

TEST_CASE("an API error names the full URL it asked") {
  LocalServer local;
  local.start();
  HttpOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(local.port) + "/v1";
  options.allow_plain_http = true;
  options.retry.max_attempts = 1;
  AivenClient api(options, "token");
  auto ca = api.get_project_ca("p");
  REQUIRE_FALSE(ca);
  CHECK_THAT(ca.error().message,
             Catch::Contains("GET http://127.0.0.1:" + std::to_string(local.port) +
                             "/v1/project/p/kms/ca failed with HTTP 404"));
}
