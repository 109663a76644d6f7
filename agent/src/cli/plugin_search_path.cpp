#include "cli/plugin_search_path.hpp"

#include <algorithm>

namespace certswap::cli {

namespace fs = std::filesystem;

std::vector<fs::path> plugin_search_path(const fs::path& exe, std::string_view file,
                                         const InstallLayout& layout) {
  const fs::path bin = exe.parent_path();
  const fs::path prefix = bin.parent_path();
  std::vector<fs::path> dirs;
  if (!layout.libdir.empty()) dirs.push_back(prefix / layout.libdir / "certswap");
  if (!layout.multiarch.empty()) dirs.push_back(prefix / "lib" / layout.multiarch / "certswap");
  dirs.push_back(prefix / "lib" / "certswap");
  dirs.push_back(prefix / "share" / "certswap");
  // The build tree: certswap in <build>/agent/, the preload library in
  // <build>/plugins/preload/, Maven's jar in <source>/plugins/java-agent/target/.
  std::error_code ec;
  if (fs::is_regular_file(prefix / "CMakeCache.txt", ec)) {
    dirs.push_back(prefix / "plugins" / "preload");
    if (!layout.source_dir.empty())
      dirs.push_back(layout.source_dir / "plugins" / "java-agent" / "target");
  }
  std::vector<fs::path> out;
  for (const auto& dir : dirs) {
    auto candidate = (dir / file).lexically_normal();
    if (std::ranges::find(out, candidate) == out.end()) out.push_back(std::move(candidate));
  }
  return out;
}

}  // namespace certswap::cli
