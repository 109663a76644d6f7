// certswap doctor: tells, from /proc alone, whether a running process will
// take a renewed certificate on its next connection. Read-only: it opens
// nothing for writing and never signals the inspected process (`-- cmd` only
// stops the child it started itself).
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "certswap/exit_codes.hpp"
#include "cli/cli.hpp"
#include "cli/doctor_verdict.hpp"
#include "cli/elf_probe.hpp"
#include "cli/librdkafka_probe.hpp"
#include "cli/process_inspection.hpp"

namespace certswap::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kCertificateNote =
    "which certificate a live connection presents is not visible from /proc (it is inside the "
    "TLS session); a connection keeps the certificate it was opened with until it reconnects";

void print_text(const json& r, const Verdict& v) {
  std::string out = fmt::format("hot reload: {}{}\n",
                                v.code == kDoctorWorks         ? "will work: "
                                : v.code == kDoctorWillNotWork ? "will NOT work: "
                                                               : "unknown: ",
                                v.text);
  out += fmt::format("process     {} {}\n", r["pid"].get<int>(), r["exe"].get<std::string>());
  const auto& ssl = r["openssl"];
  for (const auto& p : ssl["dynamic"])
    out += fmt::format("openssl     shared: {}\n", p.get<std::string>());
  for (const auto& p : ssl["dynamic_1_1"])
    out += fmt::format("openssl     shared 1.1: {}\n", p.get<std::string>());
  for (const auto& s : ssl["static"])
    out += fmt::format("openssl     static in {} ({})\n", s["object"].get<std::string>(),
                       s["version"].get<std::string>());
  if (ssl["dynamic"].empty() && ssl["dynamic_1_1"].empty() && ssl["static"].empty())
    out += "openssl     none loaded\n";
  for (const auto& l : r["librdkafka"])
    out += fmt::format(
        "librdkafka  {} {}; its own reload ({}): {}\n", l["object"].get<std::string>(),
        l["version"].is_null() ? "(version unknown)" : l["version"].get<std::string>(),
        kNativeReloadProperty, l["native_reload"].get<bool>() ? "present" : "not in this build");
  out += fmt::format("preload     {}\n",
                     r["preload"].is_null() ? "not loaded" : r["preload"].get<std::string>());
  if (!r["jvm"].is_null()) {
    const auto& a = r["jvm"]["agent"];
    out += fmt::format("jvm         {}; agent: {}\n", r["jvm"]["libjvm"].get<std::string>(),
                       a.is_null() ? "none"
                                   : fmt::format("{} (from {})", a["option"].get<std::string>(),
                                                 a["from"].get<std::string>()));
  }
  const auto& dir = r["reload_dir"];
  out += fmt::format("reload dir  {}{}\n",
                     dir["path"].is_null()
                         ? "not set"
                         : fmt::format("{} (from {})", dir["path"].get<std::string>(),
                                       dir["from"].get<std::string>()),
                     dir["problem"].is_null() ? "" : "; " + dir["problem"].get<std::string>());
  out += fmt::format("go          {}\n", r["go"].get<bool>() ? "a Go binary" : "no");
  for (const auto& f : r["open_files"])
    out += fmt::format("open file   fd {} {}{}\n", f["fd"].get<std::string>(),
                       f["path"].get<std::string>(),
                       f["old_generation"].get<bool>() ? " (an old generation, held open)" : "");
  for (const auto& c : r["tcp"])
    out += fmt::format("tcp         {} -> {} {}\n", c["local"].get<std::string>(),
                       c["remote"].get<std::string>(), c["state"].get<std::string>());
  out += fmt::format("note        {}\n", kCertificateNote);
  std::fputs(out.c_str(), stdout);
}

// What `-- cmd` waits for before it inspects: a TLS client stack, i.e. libssl,
// a librdkafka (Debian's, or a wheel's with OpenSSL inside) or a JVM. Not the
// preload library (LD_PRELOAD maps it at exec, before the app loaded anything)
// and not libcrypto alone (Python maps it for hashlib at start): either would
// have the verdict drawn before a statically linked OpenSSL arrives.
bool tls_client_mapped(const std::string& maps_text) {
  std::istringstream maps(maps_text);
  for (std::string line; std::getline(maps, line);) {
    for (const char* name : {"/libssl.so", "/librdkafka", "/libjvm.so"})
      if (line.find(name) != std::string::npos) return true;
  }
  return false;
}

// A Go program loads no library after start (its TLS is its own, or a
// librdkafka the loader mapped): once its runtime runs, which starts a second
// thread (sysmon) before main, everything it will use is mapped.
bool go_runtime_started(pid_t pid) {
  std::error_code ec;
  int threads = 0;
  for (auto it = fs::directory_iterator(fmt::format("/proc/{}/task", pid), ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    ++threads;
  return threads > 1;
}

// Waits until `cmd` has mapped a TLS client stack and its mappings stopped
// changing (the loader maps a library before its dependencies, so one look
// could see librdkafka without the libssl it needs), or for a Go program until
// its runtime runs; or until it exited or the wait ran out.
void await_tls_client(pid_t pid, std::chrono::steady_clock::duration wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  const auto maps_path = fmt::format("/proc/{}/maps", pid);
  const bool go = is_go_binary(fmt::format("/proc/{}/exe", pid));
  std::string last;
  while (std::chrono::steady_clock::now() < deadline && ::waitpid(pid, nullptr, WNOHANG) == 0) {
    if (go && go_runtime_started(pid)) return;
    std::string now = slurp(maps_path);
    if (tls_client_mapped(now) && now == last) return;
    last = std::move(now);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Starts the command as given (no certswap exec environment) and returns its
// pid once execve has succeeded; a failed execve is reported, not inspected.
Result<pid_t> start(const std::vector<std::string>& command) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return fail(ErrorKind::Io, "pipe: {}", std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) return fail(ErrorKind::Io, "fork: {}", std::strerror(errno));
  if (pid == 0) {
    ::close(pipe_fds[0]);
    std::vector<std::string> args = command;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    const int err = errno;
    (void)!::write(pipe_fds[1], &err, sizeof err);
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  int err = 0;
  const auto n = ::read(pipe_fds[0], &err, sizeof err);
  ::close(pipe_fds[0]);
  if (n == sizeof err) {
    ::waitpid(pid, nullptr, 0);
    return fail(ErrorKind::Usage, "cannot start {}: {}", command.front(), std::strerror(err));
  }
  return pid;
}

}  // namespace

int run_doctor(const DoctorOptions& o) {
  if ((o.pid > 0) == !o.command.empty())
    return report_error({ErrorKind::Usage, "doctor: give --pid N or -- cmd args..."});
  pid_t pid = o.pid;
  bool started = false;
  if (!o.command.empty()) {
    auto wait = parse_duration(o.wait);
    if (!wait) return report_error(wait.error());
    auto child = start(o.command);
    if (!child) return report_error(child.error());
    pid = *child;
    started = true;
    await_tls_client(pid, *wait);
  }
  int code = kDoctorUnknown;
  if (::access(fmt::format("/proc/{}/maps", pid).c_str(), R_OK) != 0 ||
      slurp(fmt::format("/proc/{}/maps", pid)).empty()) {
    spdlog::error("doctor: cannot read /proc/{}/maps (no such process, it exited, or not ours)",
                  pid);
  } else {
    const json report = inspect_process(pid, o.dir);
    const Verdict v = verdict(report);
    code = v.code;
    if (o.json) {
      json out = report;
      out["verdict"] = v.code == kDoctorWorks         ? "will work"
                       : v.code == kDoctorWillNotWork ? "will not work"
                                                      : "unknown";
      out["reason"] = v.text;
      out["note"] = kCertificateNote;
      std::puts(out.dump(2).c_str());
    } else {
      print_text(report, v);
    }
  }
  if (started) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }
  return code;
}

}  // namespace certswap::cli
