#pragma once
// Where the reload helpers (the preload library, the Java agent) may sit
// relative to the certswap executable, in the order they are tried.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace certswap::cli {

inline constexpr const char* kPreloadFileName = "libcertswap-preload.so";
inline constexpr const char* kJavaAgentFileName = "certswap-agent.jar";

// What the build knew: CMAKE_INSTALL_LIBDIR, the Debian multiarch triplet
// ("" when none) and the source tree (used only when certswap runs from its
// build tree, recognised by CMakeCache.txt).
struct InstallLayout {
  std::filesystem::path libdir;
  std::string multiarch;
  std::filesystem::path source_dir;
};

// An install first, where `cmake --install` and the Debian package put the
// files (<prefix>/bin/certswap beside <prefix>/<libdir>/certswap/, then
// lib/<multiarch>/certswap/, lib/certswap/ and share/certswap/: /usr/bin with
// /usr/lib/x86_64-linux-gnu/certswap as well as /usr/local/bin with
// /usr/local/lib/certswap), then the build tree; no duplicates.
std::vector<std::filesystem::path> plugin_search_path(const std::filesystem::path& exe,
                                                      std::string_view file,
                                                      const InstallLayout& layout);

}  // namespace certswap::cli
