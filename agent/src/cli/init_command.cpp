// certswap init [--install-preload[=DIR] [--preload FILE] [--java-agent FILE]]:
// after a valid set is live, copies the reload helpers into the shared volume,
// so an app container needs only LD_PRELOAD / JAVA_TOOL_OPTIONS entries
// (deploy/kubernetes/).
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "certswap/durable_file.hpp"
#include "certswap/exit_codes.hpp"
#include "cli/cli.hpp"

namespace certswap::cli {
namespace {

namespace fs = std::filesystem;

// Below the output directory, a plain directory: the store only touches
// "..<timestamp>" generations, "..data" and the links it made itself.
constexpr const char* kDefaultInstallDir = ".certswap-reload";

Result<void> copy_into(const fs::path& source, const fs::path& dir) {
  std::error_code ec;
  const auto real = fs::canonical(source, ec);
  if (ec) return fail(ErrorKind::Io, "{}: {}", source.string(), ec.message());
  auto content = read_file(real);
  if (!content) return std::unexpected(content.error());
  // Readable by the app's user, whoever it is; never writable by it.
  if (auto r = write_file_durably(dir / source.filename(), *content, 0644); !r) return r;
  spdlog::info("installed {} as {}", real.string(), (dir / source.filename()).string());
  return {};
}

Result<void> install_helpers(const fs::path& dir, const InitOptions& o) {
  auto preload = find_preload_library(o.preload);
  if (!preload) return std::unexpected(preload.error());
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(ErrorKind::Io, "mkdir {}: {}", dir.string(), ec.message());
  ::chmod(dir.c_str(), 0755);
  if (auto r = copy_into(*preload, dir); !r) return r;
  // The agent is optional: an install without Java support still serves
  // OpenSSL apps. One asked for by --java-agent is not.
  auto agent = find_java_agent(o.java_agent);
  if (agent) {
    if (auto r = copy_into(*agent, dir); !r) return r;
  } else if (!o.java_agent.empty()) {
    return std::unexpected(agent.error());
  } else {
    spdlog::info("no Java agent installed: {}", agent.error().message);
  }
  return {};
}

}  // namespace

int run_init(const Flags& flags, const InitOptions& o) {
  const int code = run_rotations(flags, true, RotateOptions{}, false);
  if (code != kExitOk || !o.install_dir) return code;
  if (!o.install_dir->empty()) {
    if (auto r = install_helpers(*o.install_dir, o); !r) return report_error(r.error());
    return kExitOk;
  }
  auto config = build_config(flags);
  if (!config) return report_error(config.error());
  for (const auto& t : config->targets) {
    if (auto r = install_helpers(t.output_dir / kDefaultInstallDir, o); !r)
      return report_error(r.error());
  }
  return kExitOk;
}

}  // namespace certswap::cli
