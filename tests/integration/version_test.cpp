// `certswap --version` / `certswap version`, the did-you-mean of an unknown
// command, the User-Agent and certswap_build_info, from the real binary.
#include <curl/curl.h>
#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "cli_harness.hpp"
#include "eventually.hpp"

using namespace certswap_test;
using namespace std::chrono_literals;

namespace {

// What certswap must print: the version and commit CMake found, and the
// libraries this process (linked as certswap is) loaded at run time.
std::string expected_version_text() {
  return std::string("certswap ") + CERTSWAP_EXPECTED_VERSION + "\ncommit " +
         CERTSWAP_EXPECTED_COMMIT + "\nopenssl " + OpenSSL_version(OPENSSL_VERSION) +
         "\nlibrdkafka " + rd_kafka_version_str() + "\nlibcurl " +
         curl_version_info(CURLVERSION_NOW)->version + "\n";
}

using testbed::free_port;

}  // namespace

TEST_CASE(
    "certswap --version and `version` print the version, the commit and the run-time libraries",
    "[cli][version]") {
  Cli cli("version");
  const auto expected = expected_version_text();
  CHECK_THAT(expected, !Catch::Contains("unknown"));  // a git checkout: a commit is known
  // After any command too, even one whose required flags are missing.
  for (std::vector<std::string> args : {std::vector<std::string>{"--version"},
                                        {"version"},
                                        {"rotate", "--version"},
                                        {"validate", "--version"},
                                        {"run", "--version"},
                                        {"exec", "--version"},
                                        {"--log-format", "json", "status", "--version"}}) {
    auto r = cli.run(args);
    INFO(args.front());
    CHECK(r.exit_code == 0);
    CHECK(r.output == expected);
  }
  CHECK(fs::is_empty(cli.out));  // nothing was fetched or written
  // After `--`, --version is the app's: exec runs it rather than answering.
  REQUIRE(cli.run({"init"}).exit_code == 0);
  // (sh prints its arguments: GNU echo would answer --version itself.)
  auto app = cli.run({"exec", "--", "/bin/sh", "-c", "printf '%s\\n' \"$@\"", "sh", "--version"});
  CHECK(app.exit_code == 0);
  CHECK_THAT(app.output, Catch::Contains("--version\n") && !Catch::Contains("librdkafka"));
}

TEST_CASE("an unknown command is named, with the command it is closest to", "[cli][version]") {
  Cli cli("unknown-command");
  auto r = cli.run({"rotat"});
  CHECK(r.exit_code == 64);
  // One log record (README "Logs"), the usage error's kind and exit code at its end.
  CHECK_THAT(r.output, Catch::Contains(" error unknown command 'rotat'; did you mean 'rotate'?") &&
                           Catch::EndsWith("[usage error, exit 64]\n"));
  CHECK_THAT(r.output, !Catch::Contains("A subcommand is required"));
  // An option's value is not taken for the command.
  r = cli.run({"--log-format", "json", "stauts", "--json"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.output, Catch::Contains("unknown command 'stauts'; did you mean 'status'?"));
  r = cli.run({"--target=orders", "frobnicate"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.output, Catch::Contains("unknown command 'frobnicate'; the commands are ") &&
                           Catch::Contains("rotate") && Catch::Contains("validate"));
  CHECK(fs::is_empty(cli.out));
}

TEST_CASE("the API requests carry certswap/<version> as User-Agent", "[cli][version]") {
  Cli cli("user-agent");
  httplib::Server server;
  std::mutex mutex;
  std::vector<std::string> agents;
  server.Get(".*", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    agents.push_back(req.get_header_value("User-Agent"));
    res.status = 404;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  auto r = cli.run({"rotate", "--api-url", "http://127.0.0.1:" + std::to_string(port),
                    "--api-allow-plain-http"});
  server.stop();
  thread.join();
  CHECK(r.exit_code != 0);  // 404: the user does not exist there
  std::lock_guard lock(mutex);
  REQUIRE_FALSE(agents.empty());
  for (const auto& agent : agents)
    CHECK(agent == std::string("certswap/") + CERTSWAP_EXPECTED_VERSION);
}

TEST_CASE("the sidecar's /metrics has certswap_build_info", "[daemon][version]") {
  Cli cli("build-info");
  const int port = free_port();
  testbed::BackgroundProcess sidecar(
      {certswap_bin(), "run", "--listen", "127.0.0.1:" + std::to_string(port)}, cli.env(),
      (cli.out.parent_path() / (cli.out.filename().string() + ".sidecar.log")).string());
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  std::string metrics;
  REQUIRE(eventually(
      [&] {
        auto res = client.Get("/metrics");
        if (!res || res->status != 200) return false;
        metrics = res->body;
        return true;
      },
      10s));
  const std::string line = std::string("certswap_build_info{version=\"") +
                           CERTSWAP_EXPECTED_VERSION + "\",commit=\"" + CERTSWAP_EXPECTED_COMMIT +
                           "\",openssl=\"" + OpenSSL_version(OPENSSL_VERSION) + "\",librdkafka=\"" +
                           rd_kafka_version_str() + "\",libcurl=\"" +
                           curl_version_info(CURLVERSION_NOW)->version + "\"} 1\n";
  CHECK_THAT(metrics, Catch::Contains("# TYPE certswap_build_info gauge\n" + line));
}
