// Where `certswap exec` and `init --install-preload` find the preload library
// and the Java agent: a flag, else an environment variable, else next to the
// certswap executable (an install, then the build tree).
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <system_error>

#include "cli/cli.hpp"

namespace certswap::cli {
namespace {

namespace fs = std::filesystem;

fs::path exe_dir() {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : self.parent_path();
}

Result<fs::path> locate(const std::string& flag_value, const char* flag, const char* env_name,
                        const std::vector<fs::path>& relative, const char* what) {
  if (!flag_value.empty()) {
    if (fs::is_regular_file(flag_value)) return fs::absolute(flag_value);
    return fail(ErrorKind::Usage, "{} {}: no such file", flag, flag_value);
  }
  if (const char* env = std::getenv(env_name); env && *env) {
    if (fs::is_regular_file(env)) return fs::absolute(env);
    return fail(ErrorKind::Usage, "{}={}: no such file", env_name, env);
  }
  std::vector<std::string> tried;
  const auto base = exe_dir();
  for (const auto& rel : relative) {
    const auto candidate = (base / rel).lexically_normal();
    if (std::ranges::find(tried, candidate.string()) != tried.end()) continue;
    if (fs::is_regular_file(candidate)) return candidate;
    tried.push_back(candidate.string());
  }
  return fail(ErrorKind::Usage, "{} not found; looked in {}; give {} or set {}", what,
              fmt::join(tried, ", "), flag, env_name);
}

}  // namespace

Result<fs::path> find_preload_library(const std::string& flag_value) {
  return locate(flag_value, "--preload", "CERTSWAP_PRELOAD_LIB",
                {fs::path("..") / CERTSWAP_INSTALL_LIBDIR / "certswap" / kPreloadFileName,
                 fs::path("../lib/certswap") / kPreloadFileName,
                 fs::path("../plugins/preload") / kPreloadFileName},
                kPreloadFileName);
}

Result<fs::path> find_java_agent(const std::string& flag_value) {
  // The build tree keeps certswap in <build>/agent/ and Maven's output in the
  // source tree; <build> is usually <source>/build.
  return locate(flag_value, "--java-agent", "CERTSWAP_JAVA_AGENT",
                {fs::path("..") / CERTSWAP_INSTALL_LIBDIR / "certswap" / kJavaAgentFileName,
                 fs::path("../lib/certswap") / kJavaAgentFileName,
                 fs::path("../../plugins/java-agent/target") / kJavaAgentFileName},
                kJavaAgentFileName);
}

}  // namespace certswap::cli
