#include "certswap/journal.hpp"

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

TEST_CASE("journal state survives a reopen and keeps the last 10 acknowledgements") {
  TempDir tmp;
  {
    auto j = Journal::open(tmp.path);
    REQUIRE(j);
    CHECK(mode_of(tmp.path) == 0700);
    CHECK(j->state().live_fingerprint.empty());
    JournalState s;
    s.live_fingerprint = "AA:BB";
    s.live_generation = "..2026_11_24_10_00_00.000000001";
    s.last_result = "rotated";
    s.next_check = 1'800'000'000;
    for (int i = 0; i < 12; ++i) s.acknowledged.push_back("fp" + std::to_string(i));
    REQUIRE(j->save(s));
  }
  CHECK(mode_of(tmp.path / "state.json") == 0600);
  auto j = Journal::open(tmp.path);
  REQUIRE(j);
  CHECK(j->state().live_fingerprint == "AA:BB");
  CHECK(j->state().live_generation == "..2026_11_24_10_00_00.000000001");
  CHECK(j->state().last_result == "rotated");
  CHECK(j->state().next_check == 1'800'000'000);
  REQUIRE(j->state().acknowledged.size() == 10);
  CHECK(j->state().acknowledged.front() == "fp2");
  CHECK(j->state().acknowledged.back() == "fp11");
}

TEST_CASE("a corrupt state.json is an error naming the file, not a fresh start") {
  TempDir tmp;
  fs::create_directories(tmp.path);
  std::ofstream(tmp.path / "state.json") << GENERATE(
      as<std::string>{}, "{\"live_fingerprint\": ", "[]", "{\"last_check\": \"yesterday\"}");
  auto j = Journal::open(tmp.path);
  REQUIRE(!j);
  CHECK(j.error().kind == ErrorKind::Io);
  CHECK_THAT(j.error().message, Catch::Contains((tmp.path / "state.json").string()));
}

TEST_CASE("stage, staged and clear_staged round-trip a credential set with 0600 files") {
  TempDir tmp;
  auto j = Journal::open(tmp.path);
  REQUIRE(j);
  CHECK(!j->staged().value().has_value());

  CredentialSet first{"ca1", "cert1", "key1", "inbox /a"};
  CredentialSet second{"ca2", "cert2", "key2", "GET /v1/project/p/service/s/user/u"};
  REQUIRE(j->stage(first));
  REQUIRE(j->stage(second));
  auto got = j->staged();
  REQUIRE(got);
  REQUIRE(got->has_value());
  CHECK(**got == second);
  CHECK((*got)->origin == second.origin);
  for (const char* name : {"ca.pem", "service.cert", "service.key", "origin"})
    CHECK(mode_of(tmp.path / "staging" / name) == 0600);
  CHECK(!fs::exists(tmp.path / "staging.tmp"));

  REQUIRE(j->clear_staged());
  CHECK(!j->staged().value().has_value());
}
