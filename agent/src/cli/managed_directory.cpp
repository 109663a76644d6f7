#include "cli/managed_directory.hpp"

#include <fmt/format.h>

namespace certswap::cli {

namespace fs = std::filesystem;

std::optional<std::string> why_not_managed(const fs::path& dir,
                                           const std::vector<std::string>& files) {
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (st.type() == fs::file_type::not_found) return "no such directory";
  if (ec) return fmt::format("cannot read it: {}", ec.message());
  if (st.type() != fs::file_type::directory) return "not a directory";
  const auto data = dir / "..data";
  const auto link = fs::symlink_status(data, ec);
  if (link.type() == fs::file_type::not_found)
    return "no ..data link in it: not a directory certswap writes (certswap init fills it)";
  if (link.type() != fs::file_type::symlink) return "its ..data is not a symlink";
  const auto generation = fs::read_symlink(data, ec).string();
  if (ec) return fmt::format("cannot read its ..data: {}", ec.message());
  const bool generation_name = generation.size() > 2 && generation.starts_with("..") &&
                               generation[2] >= '0' && generation[2] <= '9' &&
                               generation.find('/') == std::string::npos;
  if (!generation_name)
    return fmt::format("its ..data points to \"{}\", not to a certswap generation", generation);
  if (!fs::is_directory(dir / generation, ec))
    return fmt::format("its ..data points to {}, which is not there", generation);
  for (const auto& file : files)
    if (!fs::exists(dir / generation / file, ec))
      return fmt::format("the live generation {} has no {} (written in another --format?)",
                         generation, file);
  return std::nullopt;
}

}  // namespace certswap::cli
