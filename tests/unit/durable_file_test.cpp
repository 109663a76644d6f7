#include "certswap/durable_file.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>

#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace certswap;
using certswap_test::mode_of;
using certswap_test::TempDir;

TEST_CASE("write_file_durably applies the mode whatever the umask and leaves no temp file") {
  const mode_t mask = GENERATE(mode_t{0000}, mode_t{0077}, mode_t{0027});
  INFO("umask " << std::oct << mask);
  TempDir tmp("certswap-durable", true);
  const mode_t old = ::umask(mask);
  auto key = write_file_durably(tmp.path / "service.key", "secret", 0600);
  auto cert = write_file_durably(tmp.path / "ca.pem", "public", 0644);
  ::umask(old);
  REQUIRE(key);
  REQUIRE(cert);
  CHECK(mode_of(tmp.path / "service.key") == 0600);
  CHECK(mode_of(tmp.path / "ca.pem") == 0644);
  CHECK(read_file(tmp.path / "service.key").value() == "secret");
  CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator()) == 2);
}

TEST_CASE("write_file_durably replaces existing content and a symlink without following it") {
  TempDir tmp("certswap-durable", true);
  std::ofstream(tmp.path / "victim") << "untouched";
  fs::create_symlink(tmp.path / "victim", tmp.path / "state.json");
  REQUIRE(write_file_durably(tmp.path / "state.json", "v1", 0644));
  REQUIRE(write_file_durably(tmp.path / "state.json", "v2", 0644));
  CHECK(!fs::is_symlink(tmp.path / "state.json"));
  CHECK(read_file(tmp.path / "state.json").value() == "v2");
  CHECK(read_file(tmp.path / "victim").value() == "untouched");
  CHECK(mode_of(tmp.path / "state.json") == 0644);
}

TEST_CASE("write_file_durably names the path when the directory is missing") {
  TempDir tmp("certswap-durable", true);
  auto r = write_file_durably(tmp.path / "missing" / "f", "x", 0600);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::Io);
  CHECK_THAT(r.error().message, Catch::Contains((tmp.path / "missing").string()));
}

TEST_CASE("read_file refuses a symlink and names the path") {
  TempDir tmp("certswap-durable", true);
  std::ofstream(tmp.path / "real") << "x";
  fs::create_symlink(tmp.path / "real", tmp.path / "link");
  auto r = read_file(tmp.path / "link");
  REQUIRE(!r);
  CHECK_THAT(r.error().message, Catch::Contains((tmp.path / "link").string()));
}
