#include "cli/librdkafka_probe.hpp"

#include <librdkafka/rdkafka.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "temp_dir.hpp"

using certswap::cli::librdkafka_version_text;
using certswap::cli::probe_librdkafka;

TEST_CASE("a librdkafka's version is read from rd_kafka_version's code") {
  CHECK(librdkafka_version_text(0x020002ff) == "2.0.2");
  CHECK(librdkafka_version_text(0x021000ff) == "2.16.0");
  CHECK(librdkafka_version_text(0x02110001) == "2.17.0-RC1");
}

TEST_CASE("the librdkafka this build links is found with its version and without its own reload") {
  // The very library this test runs with: its file, as the loader mapped it.
  std::ifstream maps("/proc/self/maps");
  std::string line, path;
  while (std::getline(maps, line))
    if (auto at = line.find('/');
        at != std::string::npos && line.find("/librdkafka.so") != std::string::npos)
      path = line.substr(at);
  REQUIRE_FALSE(path.empty());
  const auto build = probe_librdkafka(path);
  REQUIRE(build);
  CHECK(build->version == librdkafka_version_text(static_cast<unsigned>(rd_kafka_version())));
  // No release up to 2.16 has ssl.certificate.refresh.interval.ms; the
  // library says so itself.
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const bool knows = rd_kafka_conf_set(conf, "ssl.certificate.refresh.interval.ms", "1000", err,
                                       sizeof err) != RD_KAFKA_CONF_UNKNOWN;
  rd_kafka_conf_destroy(conf);
  CHECK(build->native_reload == knows);
}

TEST_CASE("a build that names the reload property is one that reloads by itself") {
  const auto native = probe_librdkafka(FAKE_LIBRDKAFKA_NATIVE);
  REQUIRE(native);
  CHECK(native->version == "2.17.0");
  CHECK(native->native_reload);
  const auto rc = probe_librdkafka(FAKE_LIBRDKAFKA_RC);
  REQUIRE(rc);
  CHECK(rc->version == "2.17.0-RC1");
  CHECK_FALSE(rc->native_reload);
}

TEST_CASE("a file that is no librdkafka is not taken for one") {
  certswap_test::TempDir dir("certswap-probe", true);
  std::ofstream(dir.path / "not-elf") << "rd_kafka_version ssl.certificate.refresh.interval.ms";
  CHECK_FALSE(probe_librdkafka(dir.path / "not-elf"));
  CHECK_FALSE(probe_librdkafka(dir.path / "missing"));
  CHECK_FALSE(probe_librdkafka("/proc/self/exe"));
}
