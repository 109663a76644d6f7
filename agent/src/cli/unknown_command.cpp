// `certswap rotat`: CLI11 would say "A subcommand is required"; this names the
// word it did not know and the command it probably meant.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>

#include "cli/cli.hpp"

namespace certswap::cli {
namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string> unknown_command_message(const CLI::App& app,
                                                   const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return std::nullopt;
    if (arg.starts_with("-")) {
      // A top-level option's value is not a command: skip it.
      if (arg.find('=') != std::string::npos) continue;
      const CLI::Option* opt = app.get_option_no_throw(arg);
      if (opt != nullptr && opt->get_expected_min() > 0) ++i;
      continue;
    }
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      names.push_back(sub->get_name());
    if (std::ranges::find(names, arg) != names.end()) return std::nullopt;
    std::string best;
    std::size_t best_distance = 3;  // at most 2 edits away, else no guess
    for (const auto& name : names) {
      const auto d = edit_distance(arg, name);
      if (d < best_distance) {
        best_distance = d;
        best = name;
      }
    }
    if (!best.empty()) return fmt::format("unknown command '{}'; did you mean '{}'?", arg, best);
    return fmt::format("unknown command '{}'; the commands are {}", arg, fmt::join(names, ", "));
  }
  return std::nullopt;
}

}  // namespace certswap::cli
