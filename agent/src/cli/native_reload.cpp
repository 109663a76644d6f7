#include "cli/native_reload.hpp"

#include <fmt/format.h>

#include "cli/librdkafka_probe.hpp"

namespace certswap::cli {

namespace fs = std::filesystem;
using nlohmann::json;

json librdkafka_report(const fs::path& proc, const std::set<std::string>& objects) {
  json out = json::array();
  for (const auto& path : objects) {
    const std::string clean =
        path.ends_with(" (deleted)") ? path.substr(0, path.size() - 10) : path;
    // Reading every object in full would be slow; a librdkafka is either
    // named so or linked into the program (confluent-kafka-go's default).
    const bool named = fs::path(clean).filename().string().starts_with("librdkafka");
    std::error_code ec;
    if (!named && clean != fs::read_symlink(proc / "exe", ec).string()) continue;
    if (auto build = probe_librdkafka(proc / "root" / fs::path(clean).relative_path()))
      out.push_back({{"object", path},
                     {"version", build->version.empty() ? json(nullptr) : json(build->version)},
                     {"native_reload", build->native_reload}});
  }
  return out;
}

std::optional<std::string> native_reload_advice(const json& report) {
  if (!report.contains("librdkafka")) return std::nullopt;
  for (const auto& l : report["librdkafka"])
    if (l["native_reload"].get<bool>())
      return fmt::format(
          "its librdkafka ({}{}) reloads its certificate by itself: set {}=10000 in the "
          "client's configuration (ssl.*.location pointing into the certswap directory); then it "
          "needs no certswap helper, and certswap only writes and swaps the files",
          l["object"].get<std::string>(),
          l["version"].is_null() ? "" : " " + l["version"].get<std::string>(),
          kNativeReloadProperty);
  return std::nullopt;
}

}  // namespace certswap::cli
