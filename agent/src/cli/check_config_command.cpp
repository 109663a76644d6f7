#include <fmt/format.h>

#include "certswap/exit_codes.hpp"
#include "cli/cli.hpp"
#include "registry.hpp"

namespace certswap::cli {

// The file as every command loads it, and the format and notifiers each
// target names; the token, the network and the directories are left alone, so
// a file can be checked before it is deployed.
int run_check_config(const Flags& flags) {
  if (flags.config_file.empty()) {
    return report_error(
        {ErrorKind::Usage, "check-config needs --config FILE (or CERTSWAP_CONFIG)"});
  }
  auto config = build_config(flags);
  if (!config) return report_error(config.error());
  for (const auto& t : config->targets) {
    auto format = plugins::make_format(t);
    if (!format) return report_error(format.error());
    auto notifiers = plugins::make_notifiers(t);
    if (!notifiers) return report_error(notifiers.error());
    const std::string from =
        t.source == "inbox" ? t.inbox_dir.string() : t.project + "/" + t.service + "/" + t.user;
    fmt::print("target {}: source {} {}, output {}\n", t.name, t.source, from,
               t.output_dir.string());
  }
  fmt::print("config OK: {} target(s) in {}\n", config->targets.size(), flags.config_file);
  return kExitOk;
}

}  // namespace certswap::cli
