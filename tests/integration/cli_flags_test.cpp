// Flags that would be silently wrong are refused up front, with what to do.
#include "cli_harness.hpp"

using namespace certswap_test;

TEST_CASE("a sub-second poll interval is refused, not turned into a busy loop", "[cli]") {
  Cli cli("poll-ms");
  for (auto interval : {"500ms", "1500ms"}) {
    auto r = cli.run({"run", "--poll-interval", interval, "--listen", ""});
    CHECK(r.exit_code == 64);
    CHECK_THAT(r.output, Catch::Contains(interval) && Catch::Contains("whole seconds"));
  }
  CHECK(fs::is_empty(cli.out));  // nothing was started or written
}

TEST_CASE("a --listen without a port is a usage error, not an abort", "[cli]") {
  Cli cli("listen");
  for (auto listen : {"localhost", "127.0.0.1:http", "127.0.0.1:70000", ":"}) {
    auto r = cli.run({"run", "--listen", listen});
    CHECK(r.exit_code == 64);
    CHECK_THAT(r.output, Catch::Contains("is not host:port"));
  }
  CHECK(fs::is_empty(cli.out));  // nothing was started or written
}

TEST_CASE("target flags beside --config are refused: the file would silently win", "[cli]") {
  Cli cli("config-conflict");
  const auto config = cli.write_config(nlohmann::json::object());
  const auto marker = cli.out.parent_path() / (cli.out.filename().string() + ".notified");
  for (std::vector<std::string> extra :
       {std::vector<std::string>{"--min-remaining", "3d"},
        std::vector<std::string>{"--notify-exec", "/usr/bin/touch " + marker.string()},
        std::vector<std::string>{"--key-mode=0640"}}) {
    std::vector<std::string> args{"rotate", "--config", config.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = cli.run(args);
    CHECK(r.exit_code == 64);
    CHECK_THAT(r.output, Catch::Contains(extra[0].substr(0, extra[0].find('='))) &&
                             Catch::Contains("beside --config"));
  }
  CHECK(fs::is_empty(cli.out));  // nothing was started or written
  // The harness's CERTSWAP_* target variables are the environment's, not typed: a warning.
  auto r = cli.run({"init", "--config", config.string()});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("CERTSWAP_OUTPUT_DIR is set but not used"));
}

TEST_CASE("a broker check bound of weeks does not wrap around", "[cli]") {
  Cli cli("long-timeout");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  auto r = cli.run({"validate", "--cert", (cli.out / "service.cert").string(), "--key",
                    (cli.out / "service.key").string(), "--ca", (cli.out / "ca.pem").string(),
                    "--bootstrap", cli.tb.bootstrap, "--timeout", "30d"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("accepted"));
}
