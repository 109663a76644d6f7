// The daemon's inotify watches follow paths: a directory that is replaced,
// deleted or re-created is watched again. inotify queues events during the
// system call that causes them, so each drain() below sees them at once.
#include "directory_watcher.hpp"

#include <sys/inotify.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace certswap;
using certswap_test::TempDir;

namespace {
constexpr std::uint32_t kEvents = IN_CREATE | IN_DELETE | IN_MOVED_TO;
void touch(const fs::path& p) {
  std::ofstream(p) << "x";
}
}  // namespace

TEST_CASE("a watched directory moved away and replaced is watched again under its path",
          "[watcher]") {
  TempDir tmp("certswap-watch", true);
  const auto dir = tmp.path / "out";
  fs::create_directory(dir);
  auto watcher = DirectoryWatcher::create();
  REQUIRE(watcher);
  watcher->watch(7, dir, kEvents);
  touch(dir / "a");
  CHECK(watcher->drain() == std::set<int>{7});

  fs::rename(dir, tmp.path / "out.old");
  fs::create_directory(dir);
  CHECK(watcher->drain() == std::set<int>{7});  // the move itself is news
  CHECK(watcher->attached(7));
  touch(tmp.path / "out.old" / "b");
  CHECK(watcher->drain().empty());  // the old inode is no longer watched
  touch(dir / "c");
  CHECK(watcher->drain() == std::set<int>{7});
}

TEST_CASE("a deleted watched directory is watched again once it is re-created", "[watcher]") {
  TempDir tmp("certswap-watch", true);
  const auto dir = tmp.path / "out";
  fs::create_directory(dir);
  auto watcher = DirectoryWatcher::create();
  REQUIRE(watcher);
  watcher->watch(1, dir, kEvents);
  fs::remove_all(dir);
  CHECK(watcher->drain().contains(1));
  CHECK_FALSE(watcher->attached(1));
  touch(tmp.path / "unrelated");
  CHECK(watcher->drain().empty());
  fs::create_directory(dir);
  CHECK(watcher->drain() == std::set<int>{1});  // seen through the parent
  CHECK(watcher->attached(1));
  touch(dir / "a");
  CHECK(watcher->drain() == std::set<int>{1});
}

TEST_CASE("a directory missing at first is watched when a later watch() finds it", "[watcher]") {
  TempDir tmp("certswap-watch", true);
  const auto dir = tmp.path / "later" / "out";
  auto watcher = DirectoryWatcher::create();
  REQUIRE(watcher);
  watcher->watch(2, dir, kEvents);  // neither it nor its parent exists
  CHECK_FALSE(watcher->attached(2));
  fs::create_directories(dir);
  watcher->watch(2, dir, kEvents);  // what the daemon does after every check
  CHECK(watcher->attached(2));
  touch(dir / "a");
  CHECK(watcher->drain() == std::set<int>{2});
}

TEST_CASE("two keys on one directory keep their own events, and unwatching one keeps the other",
          "[watcher]") {
  TempDir tmp("certswap-watch", true);
  auto watcher = DirectoryWatcher::create();
  REQUIRE(watcher);
  watcher->watch(1, tmp.path, IN_CREATE);
  watcher->watch(2, tmp.path, IN_DELETE);
  touch(tmp.path / "a");
  CHECK(watcher->drain() == std::set<int>{1});
  fs::remove(tmp.path / "a");
  CHECK(watcher->drain() == std::set<int>{2});
  watcher->unwatch(2);
  touch(tmp.path / "b");
  CHECK(watcher->drain() == std::set<int>{1});
}
