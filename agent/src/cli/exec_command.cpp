// certswap exec: the environment an unmodified app needs to take a renewed
// certificate on its next connection, then execve of the app.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>

#include "certswap/exit_codes.hpp"
#include "cli/cli.hpp"

extern char** environ;

namespace certswap::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kExitNotFound = 127;    // as a shell: command not found
constexpr int kExitCannotExec = 126;  // as a shell: found but not runnable

// The reload directory: --dir, else the configured output directory.
Result<std::string> reload_dir(const Flags& flags, const ExecOptions& o) {
  if (!o.dir.empty()) return o.dir;
  if (!flags.config_file.empty()) {
    auto config = build_config(flags);
    if (!config) return std::unexpected(config.error());
    if (config->targets.size() != 1)
      return fail(ErrorKind::Usage, "{} has {} targets: pick one with --target or give --dir",
                  flags.config_file, config->targets.size());
    return config->targets.front().output_dir.string();
  }
  if (!flags.output_dir.empty()) return flags.output_dir;
  return fail(ErrorKind::Usage,
              "exec needs the certswap output directory: --dir, --output-dir or --config");
}

// As execvp: a name with a slash is a path, else the first executable match on PATH.
std::optional<std::string> resolve_program(const std::string& name, int& first_errno) {
  first_errno = ENOENT;
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    first_errno = errno;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const auto candidate = (fs::path(dir.empty() ? "." : dir) / name).string();
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return candidate;
    if (errno == EACCES && fs::exists(candidate)) first_errno = EACCES;
  }
  return std::nullopt;
}

// A JVM is recognised by the resolved executable's name (through symlinks, so
// /usr/bin/java -> /etc/alternatives/java -> .../bin/java counts); a launcher
// script that starts java is not: --java-agent says it is one.
bool is_jvm(const std::string& program) {
  std::error_code ec;
  const auto real = fs::canonical(program, ec);
  return (ec ? fs::path(program) : real).filename() == "java";
}

bool has_word(const std::string& list, const std::string& word) {
  std::istringstream words(list);
  for (std::string w; words >> w;)
    if (w == word) return true;
  return false;
}

}  // namespace

int run_exec(const Flags& flags, const ExecOptions& o) {
  if (o.command.empty()) return report_error({ErrorKind::Usage, "exec: no command after --"});
  auto dir = reload_dir(flags, o);
  if (!dir) return report_error(dir.error());
  int err = 0;
  const auto program = resolve_program(o.command.front(), err);
  if (!program) {
    spdlog::error("exec {}: {}", o.command.front(),
                  err == ENOENT ? "command not found" : std::strerror(err));
    return err == ENOENT ? kExitNotFound : kExitCannotExec;
  }
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    const auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  const bool jvm = is_jvm(*program) || !o.java_agent.empty();
  // The JVM reloads through the agent and has no use for the preload: for it
  // the library is added when found, for everything else it is required.
  auto preload = find_preload_library(o.preload);
  if (!preload && !jvm) return report_error(preload.error());
  if (preload) {
    // LD_PRELOAD is separated by spaces or colons (ld.so(8)).
    std::string rest;
    std::string word;
    for (char c : env["LD_PRELOAD"] + " ") {
      if (c != ' ' && c != ':') {
        word += c;
        continue;
      }
      if (!word.empty() && word != preload->string()) rest += (rest.empty() ? "" : " ") + word;
      word.clear();
    }
    env["LD_PRELOAD"] = preload->string() + (rest.empty() ? "" : " " + rest);
  }
  if (jvm) {
    auto agent = find_java_agent(o.java_agent);
    if (!agent) return report_error(agent.error());
    const std::string option = "-javaagent:" + agent->string();
    auto& tool = env["JAVA_TOOL_OPTIONS"];
    if (!has_word(tool, option)) tool += (tool.empty() ? "" : " ") + option;
  }
  env["CERTSWAP_RELOAD_DIR"] = *dir;
  if (o.reload_ca) env["CERTSWAP_RELOAD_CA"] = "1";
  std::vector<std::string> entries;
  for (const auto& [k, v] : env) entries.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& e : entries) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = o.command;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execve(program->c_str(), argv.data(), envp.data());
  const int failed = errno;
  spdlog::error("exec {}: {}", *program, std::strerror(failed));
  return failed == ENOENT ? kExitNotFound : kExitCannotExec;
}

}  // namespace certswap::cli
