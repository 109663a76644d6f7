#include "certswap/atomic_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>

#include "certswap/durable_file.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace certswap;
using certswap_test::mode_of;
using certswap_test::TempDir;

namespace {

std::vector<StoredFile> set(const std::string& tag) {
  return {{"ca.pem", "ca-" + tag, false},
          {"service.cert", "cert-" + tag, false},
          {"service.key", "key-" + tag, true}};
}

void write(const fs::path& p, const std::string& s) {
  std::ofstream(p) << s;
}

}  // namespace

TEST_CASE("publish lays out a generation, ..data and one relative link per name") {
  TempDir tmp;
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  auto gen = store->publish(set("1"));
  REQUIRE(gen);
  CHECK(gen->starts_with("..20"));
  CHECK(fs::read_symlink(tmp.path / "..data") == *gen);
  CHECK(store->current_generation() == *gen);
  for (const char* name : {"ca.pem", "service.cert", "service.key"}) {
    CHECK(fs::read_symlink(tmp.path / name) == fs::path("..data") / name);
    CHECK(fs::is_regular_file(fs::symlink_status(tmp.path / *gen / name)));
  }
  CHECK(read_file(tmp.path / *gen / "service.cert").value() == "cert-1");
  CHECK(!fs::exists(fs::symlink_status(tmp.path / "..data_tmp")));
  auto live = store->read_live();
  REQUIRE(live);
  CHECK(*live == std::map<std::string, std::string>{
                     {"ca.pem", "ca-1"}, {"service.cert", "cert-1"}, {"service.key", "key-1"}});
}

TEST_CASE("publish gives the key 0600 and public files 0644 whatever the umask") {
  const mode_t mask = GENERATE(mode_t{0000}, mode_t{0077}, mode_t{0027});
  INFO("umask " << std::oct << mask);
  TempDir tmp;
  const mode_t old = ::umask(mask);
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  auto gen = store->publish(set("1"));
  ::umask(old);
  REQUIRE(gen);
  CHECK(mode_of(tmp.path / *gen / "service.key") == 0600);
  CHECK(mode_of(tmp.path / *gen / "service.cert") == 0644);
  CHECK(mode_of(tmp.path / *gen) == 0755);
}

TEST_CASE(
    "publish keeps the previous generation until pruned, and prune never removes the current one") {
  TempDir tmp;
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  std::vector<std::string> gens;
  for (int i = 0; i < 4; ++i) gens.push_back(store->publish(set(std::to_string(i))).value());
  CHECK(store->generations() == gens);  // names sort by publication time
  CHECK(store->read_live().value().at("service.key") == "key-3");

  REQUIRE(store->prune(2));
  CHECK(store->generations() == std::vector<std::string>{gens[2], gens[3]});

  REQUIRE(store->activate(gens[2]));
  REQUIRE(store->prune(0));
  CHECK(store->generations() == std::vector<std::string>{gens[2]});
  CHECK(store->read_live().value().at("service.key") == "key-2");
}

TEST_CASE("activate rolls back to an earlier generation and refuses unknown ones") {
  TempDir tmp;
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  auto first = store->publish(set("old")).value();
  store->publish(set("new")).value();
  REQUIRE(store->activate(first));
  CHECK(store->current_generation() == first);
  CHECK(read_file(tmp.path / "..data" / "service.cert").value() == "cert-old");
  CHECK(!store->activate("..2000_01_01_00_00_00.000000000"));
  CHECK(!store->activate("../etc"));
}

TEST_CASE("open removes a stale ..data_tmp and orphan newer generations but keeps older ones") {
  TempDir tmp;
  std::string older, current;
  {
    auto store = AtomicStore::open(tmp.path, {});
    REQUIRE(store);
    older = store->publish(set("1")).value();
    current = store->publish(set("2")).value();
  }
  const std::string orphan = "..2999_01_01_00_00_00.000000000";  // a crash before the ..data rename
  fs::create_directory(tmp.path / orphan);
  write(tmp.path / orphan / "service.cert", "half");
  fs::create_directory_symlink(orphan, tmp.path / "..data_tmp");

  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  CHECK(!fs::exists(fs::symlink_status(tmp.path / "..data_tmp")));
  CHECK(store->generations() == std::vector<std::string>{older, current});
  CHECK(store->current_generation() == current);
}

TEST_CASE("a planted ..data_tmp pointing outside is unlinked, never followed") {
  TempDir tmp;
  TempDir outside;
  fs::create_directories(outside.path);
  write(outside.path / "passwd", "root:x:0:0");
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  fs::create_directory_symlink(outside.path, tmp.path / "..data_tmp");
  REQUIRE(store->publish(set("1")));
  CHECK(read_file(outside.path / "passwd").value() == "root:x:0:0");
  CHECK(std::distance(fs::directory_iterator(outside.path), fs::directory_iterator()) == 1);
}

TEST_CASE("a ..data_tmp that is a real directory is refused, not removed") {
  TempDir tmp;
  fs::create_directories(tmp.path / "..data_tmp");
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(!store);
  CHECK_THAT(store.error().message, Catch::Contains("..data_tmp"));
  CHECK(fs::is_directory(tmp.path / "..data_tmp"));
}

TEST_CASE("a planted ..data pointing outside the directory is refused") {
  TempDir tmp;
  TempDir outside;
  fs::create_directories(tmp.path);
  fs::create_directories(outside.path);
  fs::create_directory_symlink(outside.path, tmp.path / "..data");
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(!store);
  CHECK_THAT(store.error().message, Catch::Contains("..data"));
}

TEST_CASE("a planted service.key symlink pointing outside is refused and its target untouched") {
  TempDir tmp;
  TempDir outside;
  fs::create_directories(tmp.path);
  fs::create_directories(outside.path);
  write(outside.path / "shadow", "precious");
  fs::create_symlink(outside.path / "shadow", tmp.path / "service.key");
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  auto gen = store->publish(set("1"));
  REQUIRE(!gen);
  CHECK_THAT(gen.error().message, Catch::Contains("service.key"));
  CHECK(read_file(outside.path / "shadow").value() == "precious");
  CHECK(fs::read_symlink(tmp.path / "service.key") == outside.path / "shadow");
  CHECK(store->generations().empty());  // refused before any change
  CHECK(!fs::exists(fs::symlink_status(tmp.path / "..data")));
}

TEST_CASE(
    "plain files from a hand-made set stay until the first publish replaces them with links") {
  TempDir tmp;
  fs::create_directories(tmp.path);
  write(tmp.path / "service.cert", "plain-cert");
  write(tmp.path / "service.key", "plain-key");
  write(tmp.path / "ca.pem", "plain-ca");
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  CHECK(read_file(tmp.path / "service.key").value() == "plain-key");  // open() destroys nothing

  REQUIRE(store->publish(set("1")));
  for (const char* name : {"ca.pem", "service.cert", "service.key"})
    CHECK(fs::is_symlink(tmp.path / name));
  std::ifstream in(tmp.path / "service.key");
  std::string via_link((std::istreambuf_iterator<char>(in)), {});
  CHECK(via_link == "key-1");
}

TEST_CASE("repair_links recreates a deleted link and one replaced by a regular file") {
  TempDir tmp;
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  REQUIRE(store->publish(set("1")));
  fs::remove(tmp.path / "service.key");
  fs::remove(tmp.path / "service.cert");
  write(tmp.path / "service.cert", "a regular file put in its place");
  REQUIRE(store->repair_links({"ca.pem", "service.cert", "service.key"}));
  CHECK(fs::read_symlink(tmp.path / "service.key") == "..data/service.key");
  CHECK(fs::read_symlink(tmp.path / "service.cert") == "..data/service.cert");
  CHECK(store->read_live().value().at("service.cert") == "cert-1");
}

TEST_CASE("publishes in quick succession get distinct, ordered generation names") {
  TempDir tmp;
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  std::vector<std::string> gens;
  for (int i = 0; i < 20; ++i) gens.push_back(store->publish(set(std::to_string(i))).value());
  CHECK(std::is_sorted(gens.begin(), gens.end()));
  CHECK(std::adjacent_find(gens.begin(), gens.end()) == gens.end());
  CHECK(store->generations() == gens);
}

TEST_CASE("publish rejects reserved and path-like names") {
  TempDir tmp;
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  CHECK(!store->publish({{"..data", "x", false}}));
  CHECK(!store->publish({{"../escape", "x", false}}));
  CHECK(!store->publish({{"a/b", "x", false}}));
  CHECK(store->generations().empty());
}

TEST_CASE("a generation published after a later-named one still sorts last (clock stepped back)") {
  TempDir tmp;
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  const std::string future = "..2999_01_01_00_00_00.000000000";
  fs::create_directory(tmp.path / future);
  auto gen = store->publish(set("1"));
  REQUIRE(gen);
  CHECK(*gen > future);
  CHECK(store->generations().back() == *gen);
  CHECK(store->current_generation() == *gen);
}

TEST_CASE("a directory named like an output file is refused before any change") {
  TempDir tmp;
  fs::create_directories(tmp.path / "service.cert");
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  auto gen = store->publish(set("1"));
  REQUIRE(!gen);
  CHECK_THAT(gen.error().message, Catch::Contains("service.cert"));
  CHECK(store->generations().empty());
}

TEST_CASE("prune keeps the live generation and the one before it, never one that was never live") {
  TempDir tmp;
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  store->publish(set("1")).value();
  const auto previous = store->publish(set("2")).value();
  const auto live = store->publish(set("3")).value();
  const std::string never_live = "..2999_01_01_00_00_00.000000000";  // died before its rename
  fs::create_directory(tmp.path / never_live);
  REQUIRE(store->prune(2));
  CHECK(store->generations() == std::vector<std::string>{previous, live});
}

TEST_CASE("after the clock stepped back, generation names keep their length and their order") {
  TempDir tmp;
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  REQUIRE(store->publish(set("0")));
  // A generation from a clock that ran far ahead, made live.
  const std::string ahead = "..2999_01_01_00_00_00.000000000";
  fs::create_directory(tmp.path / ahead);
  for (const char* name : {"ca.pem", "service.cert", "service.key"})
    write(tmp.path / ahead / name, "x");
  REQUIRE(store->activate(ahead));
  std::vector<std::string> names;
  for (int i = 1; i <= 60; ++i) {
    auto gen = store->publish(set(std::to_string(i)));
    REQUIRE(gen);
    names.push_back(*gen);
  }
  CHECK(names.front() == ahead + "_001");
  CHECK(names.back() == ahead + "_060");
  CHECK(std::ranges::is_sorted(names));
  CHECK(store->current_generation() == names.back());
}

TEST_CASE("adopting plain files beside links keeps every name readable with the same bytes") {
  TempDir tmp;
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  REQUIRE(store->publish(set("1")));
  // service.cert and service.key replaced by plain files; ca.pem still a link.
  for (auto name : {"service.cert", "service.key"}) {
    fs::remove(tmp.path / name);
    write(tmp.path / name, std::string("plain-") + name);
  }
  const auto before = store->read_live({"service.cert", "service.key"});
  REQUIRE(before);
  REQUIRE(before->at("ca.pem") == "ca-1");

  REQUIRE(store->adopt_plain_files({"ca.pem", "service.cert", "service.key"}));
  for (auto name : {"ca.pem", "service.cert", "service.key"}) {
    INFO(name);
    CHECK(fs::read_symlink(tmp.path / name) == fs::path("..data") / name);
    // Through the link, as an app opens it.
    std::ifstream in(tmp.path / name);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == before->at(name));
  }
}

TEST_CASE("a dangling link is left out of the live files, not an error") {
  TempDir tmp;
  auto store = AtomicStore::open(tmp.path, {});
  REQUIRE(store);
  auto gen = store->publish(set("1"));
  REQUIRE(gen);
  fs::remove(tmp.path / *gen / "service.key");
  auto live = store->read_live();
  REQUIRE(live);
  CHECK(live->contains("service.cert"));
  CHECK_FALSE(live->contains("service.key"));
  CHECK(store->ever_held_a_set({"service.key"}));
  TempDir empty;
  auto fresh = AtomicStore::open(empty.path, {});
  REQUIRE(fresh);
  CHECK(fresh->read_live().value().empty());
  CHECK_FALSE(fresh->ever_held_a_set({"ca.pem", "service.cert", "service.key"}));
}
