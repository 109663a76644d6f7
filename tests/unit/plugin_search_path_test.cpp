#include "cli/plugin_search_path.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "temp_dir.hpp"

namespace fs = std::filesystem;
using certswap::cli::InstallLayout;
using certswap::cli::kJavaAgentFileName;
using certswap::cli::kPreloadFileName;
using certswap::cli::plugin_search_path;

namespace {

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

// What find_preload_library / find_java_agent return: the first that exists.
fs::path first_existing(const std::vector<fs::path>& candidates) {
  for (const auto& c : candidates)
    if (fs::is_regular_file(c)) return c;
  return {};
}

const InstallLayout kDebian{"lib/x86_64-linux-gnu", "x86_64-linux-gnu", "/src/certswap"};

}  // namespace

TEST_CASE("plugin search: an install's directories come first, in a fixed order") {
  certswap_test::TempDir tmp;
  const auto prefix = tmp.path / "usr";
  const auto exe = prefix / "bin" / "certswap";
  const auto path = plugin_search_path(exe, kPreloadFileName, kDebian);
  const std::vector<fs::path> expected{
      prefix / "lib/x86_64-linux-gnu/certswap" / kPreloadFileName,
      prefix / "lib/certswap" / kPreloadFileName,
      prefix / "share/certswap" / kPreloadFileName,
  };
  CHECK(path == expected);  // no build tree here: no CMakeCache.txt beside bin/
}

TEST_CASE("plugin search: the Debian package's layout (/usr/bin, /usr/lib/<multiarch>/certswap)") {
  certswap_test::TempDir tmp;
  const auto prefix = tmp.path / "usr";
  touch(prefix / "lib/x86_64-linux-gnu/certswap" / kPreloadFileName);
  touch(prefix / "lib/x86_64-linux-gnu/certswap" / kJavaAgentFileName);
  const auto exe = prefix / "bin/certswap";
  CHECK(first_existing(plugin_search_path(exe, kPreloadFileName, kDebian)) ==
        prefix / "lib/x86_64-linux-gnu/certswap" / kPreloadFileName);
  CHECK(first_existing(plugin_search_path(exe, kJavaAgentFileName, kDebian)) ==
        prefix / "lib/x86_64-linux-gnu/certswap" / kJavaAgentFileName);
}

TEST_CASE("plugin search: a hand install (/usr/local/bin, /usr/local/lib/certswap)") {
  certswap_test::TempDir tmp;
  const auto prefix = tmp.path / "usr/local";
  touch(prefix / "lib/certswap" / kPreloadFileName);
  touch(prefix / "share/certswap" / kJavaAgentFileName);
  const auto exe = prefix / "bin/certswap";
  CHECK(first_existing(plugin_search_path(exe, kPreloadFileName, kDebian)) ==
        prefix / "lib/certswap" / kPreloadFileName);
  CHECK(first_existing(plugin_search_path(exe, kJavaAgentFileName, kDebian)) ==
        prefix / "share/certswap" / kJavaAgentFileName);
}

TEST_CASE("plugin search: a libdir other than the multiarch one is tried first") {
  const InstallLayout lib64{"lib64", "x86_64-linux-gnu", ""};
  const auto path = plugin_search_path("/opt/cs/bin/certswap", kPreloadFileName, lib64);
  REQUIRE(path.size() == 4);
  CHECK(path[0] == fs::path("/opt/cs/lib64/certswap") / kPreloadFileName);
  CHECK(path[1] == fs::path("/opt/cs/lib/x86_64-linux-gnu/certswap") / kPreloadFileName);
}

TEST_CASE("plugin search: a build tree anywhere finds its outputs after any install's") {
  certswap_test::TempDir tmp;
  const auto build = tmp.path / "elsewhere/build";
  const auto source = tmp.path / "src";
  touch(build / "CMakeCache.txt");
  touch(build / "plugins/preload" / kPreloadFileName);
  touch(source / "plugins/java-agent/target" / kJavaAgentFileName);
  const InstallLayout layout{"lib/x86_64-linux-gnu", "x86_64-linux-gnu", source};
  const auto exe = build / "agent/certswap";
  const auto path = plugin_search_path(exe, kPreloadFileName, layout);
  REQUIRE(path.size() == 5);
  CHECK(path[3] == build / "plugins/preload" / kPreloadFileName);
  CHECK(path[4] == source / "plugins/java-agent/target" / kPreloadFileName);
  CHECK(first_existing(path) == build / "plugins/preload" / kPreloadFileName);
  CHECK(first_existing(plugin_search_path(exe, kJavaAgentFileName, layout)) ==
        source / "plugins/java-agent/target" / kJavaAgentFileName);
  // An installed copy wins over the build tree's.
  touch(build / "lib/certswap" / kPreloadFileName);
  CHECK(first_existing(plugin_search_path(exe, kPreloadFileName, layout)) ==
        build / "lib/certswap" / kPreloadFileName);
}
