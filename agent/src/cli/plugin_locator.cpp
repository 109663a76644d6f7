// Where `certswap exec` and `init --install-preload` find the preload library
// and the Java agent: a flag, else an environment variable, else beside the
// certswap executable (plugin_search_path.hpp: an install, then the build tree).
#include <fmt/ranges.h>

#include <cstdlib>
#include <system_error>

#include "cli/cli.hpp"
#include "cli/plugin_search_path.hpp"

namespace certswap::cli {
namespace {

namespace fs = std::filesystem;

InstallLayout built_layout() {
  return {CERTSWAP_INSTALL_LIBDIR, CERTSWAP_MULTIARCH, CERTSWAP_SOURCE_DIR};
}

Result<fs::path> locate(const std::string& flag_value, const char* flag, const char* env_name,
                        const char* file) {
  if (!flag_value.empty()) {
    if (fs::is_regular_file(flag_value)) return fs::absolute(flag_value);
    return fail(ErrorKind::Usage, "{} {}: no such file", flag, flag_value);
  }
  if (const char* env = std::getenv(env_name); env && *env) {
    if (fs::is_regular_file(env)) return fs::absolute(env);
    return fail(ErrorKind::Usage, "{}={}: no such file", env_name, env);
  }
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec)
    return fail(ErrorKind::Io, "/proc/self/exe: {}; give {} or set {}", ec.message(), flag,
                env_name);
  std::vector<std::string> tried;
  for (const auto& candidate : plugin_search_path(exe, file, built_layout())) {
    if (fs::is_regular_file(candidate, ec)) return candidate;
    tried.push_back(candidate.string());
  }
  return fail(ErrorKind::Usage, "{} not found; looked in {}; give {} or set {}", file,
              fmt::join(tried, ", "), flag, env_name);
}

}  // namespace

Result<fs::path> find_preload_library(const std::string& flag_value) {
  return locate(flag_value, "--preload", "CERTSWAP_PRELOAD_LIB", kPreloadFileName);
}

Result<fs::path> find_java_agent(const std::string& flag_value) {
  return locate(flag_value, "--java-agent", "CERTSWAP_JAVA_AGENT", kJavaAgentFileName);
}

}  // namespace certswap::cli
