// certswap doctor: tells, from /proc alone, whether a running process will
// take a renewed certificate on its next connection. Read-only: it opens
// nothing for writing and never signals the inspected process (`-- cmd` only
// stops the child it started itself).
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "certswap/exit_codes.hpp"
#include "cli/cli.hpp"

namespace certswap::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kDoctorWorks = 0, kDoctorWillNotWork = 1, kDoctorUnknown = 2;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> split_nul(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == '\0') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool name_starts(const std::string& path, std::string_view prefix) {
  return fs::path(path).filename().string().starts_with(prefix);
}

// OPENSSL_VERSION_TEXT ("OpenSSL 3.5.8 25 Aug 2026"; 1.x put two spaces before
// the date): only a copy of libcrypto carries it, a program that merely links
// libssl.so does not.
std::optional<std::string> openssl_version_inside(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  static const std::regex version(
      R"(^OpenSSL [0-9]+\.[0-9]+\.[0-9]+[a-z]*(-[A-Za-z0-9.+~]+)? {1,2}[0-9]{1,2} [A-Z][a-z]{2} [0-9]{4})");
  constexpr std::size_t kChunk = 1 << 20, kOverlap = 64;
  std::string buf;
  std::vector<char> chunk(kChunk);
  while (in.read(chunk.data(), kChunk) || in.gcount() > 0) {
    buf.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    for (auto at = buf.find("OpenSSL "); at != std::string::npos;
         at = buf.find("OpenSSL ", at + 1)) {
      if (buf.size() - at < kOverlap && in) break;  // finish it with the next chunk
      std::smatch m;
      const std::string window = buf.substr(at, kOverlap);
      if (std::regex_search(window, m, version)) return m.str();
    }
    if (buf.size() > kOverlap) buf.erase(0, buf.size() - kOverlap);
  }
  return std::nullopt;
}

std::string format_address(const std::string& hex) {
  const auto colon = hex.find(':');
  if (colon == std::string::npos) return hex;
  const auto addr = hex.substr(0, colon);
  const unsigned port = std::stoul(hex.substr(colon + 1), nullptr, 16);
  // The kernel prints each 32-bit word of the address in host byte order.
  unsigned char bytes[16] = {};
  const std::size_t words = addr.size() / 8;
  for (std::size_t w = 0; w < words && w < 4; ++w) {
    const uint32_t v = static_cast<uint32_t>(std::stoul(addr.substr(w * 8, 8), nullptr, 16));
    std::memcpy(bytes + w * 4, &v, 4);
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (words == 1) {
    ::inet_ntop(AF_INET, bytes, text, sizeof text);
    return fmt::format("{}:{}", text, port);
  }
  ::inet_ntop(AF_INET6, bytes, text, sizeof text);
  return fmt::format("[{}]:{}", text, port);
}

std::string tcp_state(const std::string& hex) {
  static const std::map<std::string, std::string> names{
      {"01", "ESTABLISHED"}, {"02", "SYN_SENT"},  {"03", "SYN_RECV"}, {"04", "FIN_WAIT1"},
      {"05", "FIN_WAIT2"},   {"06", "TIME_WAIT"}, {"07", "CLOSE"},    {"08", "CLOSE_WAIT"},
      {"09", "LAST_ACK"},    {"0A", "LISTEN"},    {"0B", "CLOSING"}};
  auto it = names.find(hex);
  return it == names.end() ? hex : it->second;
}

struct Verdict {
  int code;
  std::string text;
};

json inspect(int pid, const std::string& dir_flag) {
  const fs::path proc = fmt::format("/proc/{}", pid);
  json r;
  r["pid"] = pid;
  std::error_code ec;
  r["exe"] = fs::read_symlink(proc / "exe", ec).string();
  r["cmdline"] = split_nul(slurp(proc / "cmdline"));
  std::map<std::string, std::string> env;
  for (const auto& e : split_nul(slurp(proc / "environ"))) {
    const auto eq = e.find('=');
    if (eq != std::string::npos) env[e.substr(0, eq)] = e.substr(eq + 1);
  }
  // Objects with executable code; a path is read through /proc/N/root so a
  // process in another mount namespace (a container) is read as it sees it.
  std::set<std::string> objects;
  std::istringstream maps(slurp(proc / "maps"));
  for (std::string line; std::getline(maps, line);) {
    std::istringstream f(line);
    std::string range, perms, offset, dev, inode, path;
    f >> range >> perms >> offset >> dev >> inode;
    std::getline(f >> std::ws, path);
    if (path.starts_with("/") && perms.find('x') != std::string::npos) objects.insert(path);
  }
  json dynamic = json::array(), statically = json::array(), old_dynamic = json::array();
  std::string preload, jvm;
  for (const auto& path : objects) {
    if (name_starts(path, "libssl.so.3") || name_starts(path, "libcrypto.so.3")) {
      dynamic.push_back(path);
    } else if (name_starts(path, "libssl.so.1") || name_starts(path, "libcrypto.so.1")) {
      old_dynamic.push_back(path);
    } else if (name_starts(path, "libcertswap-preload")) {
      preload = path;
    } else {
      if (name_starts(path, "libjvm.so")) jvm = path;
      const std::string clean =
          path.ends_with(" (deleted)") ? path.substr(0, path.size() - 10) : path;
      if (auto v = openssl_version_inside(proc / "root" / fs::path(clean).relative_path()))
        statically.push_back({{"object", path}, {"version", *v}});
    }
  }
  r["openssl"] = {{"dynamic", dynamic}, {"dynamic_1_1", old_dynamic}, {"static", statically}};
  r["preload"] = preload.empty() ? json(nullptr) : json(preload);
  json agent = nullptr;
  if (!jvm.empty()) {
    const std::string stem = fs::path(kJavaAgentFileName).stem().string();
    auto find_in = [&](const std::vector<std::string>& words, const char* where) {
      for (const auto& w : words)
        if (w.starts_with("-javaagent:") && w.find(stem) != std::string::npos && agent.is_null())
          agent = {{"option", w}, {"from", where}};
    };
    find_in(r["cmdline"].get<std::vector<std::string>>(), "cmdline");
    for (const char* var : {"JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"}) {
      std::istringstream words(env[var]);
      std::vector<std::string> list{std::istream_iterator<std::string>(words), {}};
      find_in(list, var);
    }
  }
  r["jvm"] = jvm.empty() ? json(nullptr) : json{{"libjvm", jvm}, {"agent", agent}};
  std::string dir = dir_flag, dir_from = "--dir";
  if (dir.empty() && env.contains("CERTSWAP_RELOAD_DIR")) {
    dir = env["CERTSWAP_RELOAD_DIR"];
    dir_from = "CERTSWAP_RELOAD_DIR";
  }
  r["reload_dir"] = dir.empty() ? json(nullptr) : json{{"path", dir}, {"from", dir_from}};
  // Open files under the reload directory, and the sockets for the TCP table.
  json files = json::array();
  std::set<std::string> sockets;
  const auto real_dir = dir.empty() ? fs::path() : fs::weakly_canonical(dir, ec);
  const auto live = dir.empty() ? fs::path() : fs::read_symlink(fs::path(dir) / "..data", ec);
  for (const auto& fd : fs::directory_iterator(proc / "fd", ec)) {
    std::error_code lec;
    std::string target = fs::read_symlink(fd.path(), lec).string();
    if (lec) continue;
    if (target.starts_with("socket:[")) {
      sockets.insert(target.substr(8, target.size() - 9));
      continue;
    }
    if (real_dir.empty() || !target.starts_with(real_dir.string() + "/")) continue;
    const bool deleted = target.ends_with(" (deleted)");
    const auto rel = fs::path(target.substr(real_dir.string().size() + 1));
    const std::string first = rel.begin()->string();
    const bool generation = first.size() > 2 && first.starts_with("..") && std::isdigit(first[2]);
    files.push_back({{"fd", fd.path().filename().string()},
                     {"path", target},
                     {"deleted", deleted},
                     {"old_generation", generation && first != live.string()}});
  }
  r["open_files"] = files;
  json tcp = json::array();
  for (const char* table : {"tcp", "tcp6"}) {
    std::istringstream lines(slurp(proc / "net" / table));
    std::string line;
    std::getline(lines, line);  // header
    while (std::getline(lines, line)) {
      std::istringstream f(line);
      std::string sl, local, remote, st, queues, timer, retr, uid, timeout, inode;
      f >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> inode;
      if (!sockets.contains(inode)) continue;
      tcp.push_back({{"local", format_address(local)},
                     {"remote", format_address(remote)},
                     {"state", tcp_state(st)}});
    }
  }
  r["tcp"] = tcp;
  return r;
}

Verdict verdict(const json& r) {
  const auto& ssl = r["openssl"];
  if (!r["jvm"].is_null()) {
    if (!r["jvm"]["agent"].is_null()) return {kDoctorWorks, "JVM with the certswap Java agent"};
    return {kDoctorWillNotWork,
            fmt::format("JVM without the certswap Java agent: start it with `certswap exec` or "
                        "add -javaagent:<path>/{} to JAVA_TOOL_OPTIONS",
                        kJavaAgentFileName)};
  }
  if (!ssl["static"].empty())
    return {kDoctorWillNotWork,
            fmt::format("OpenSSL is linked statically into {} ({}): LD_PRELOAD cannot reach it. "
                        "Use a build that links the system's libssl.so.3 (e.g. Debian's "
                        "python3-confluent-kafka instead of the PyPI wheel, Go with -tags "
                        "dynamic) or the reload recipe in examples/",
                        ssl["static"][0]["object"].get<std::string>(),
                        ssl["static"][0]["version"].get<std::string>())};
  if (ssl["dynamic"].empty() && !ssl["dynamic_1_1"].empty())
    return {kDoctorWillNotWork, "OpenSSL 1.1 is loaded; the preload library serves OpenSSL 3 only"};
  if (!ssl["dynamic"].empty()) {
    if (r["preload"].is_null())
      return {kDoctorWillNotWork,
              fmt::format("OpenSSL 3 is loaded as a shared library but {} is not: start the app "
                          "with `certswap exec` or set LD_PRELOAD and CERTSWAP_RELOAD_DIR",
                          kPreloadFileName)};
    if (r["reload_dir"].is_null())
      return {kDoctorWillNotWork,
              fmt::format("{} is loaded but CERTSWAP_RELOAD_DIR is not set", kPreloadFileName)};
    return {kDoctorWorks, fmt::format("OpenSSL 3 shared library with {}", kPreloadFileName)};
  }
  return {kDoctorUnknown,
          "neither OpenSSL nor a JVM is loaded (not yet, or a TLS stack certswap does not cover, "
          "e.g. Go's crypto/tls)"};
}

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
  out += fmt::format("preload     {}\n",
                     r["preload"].is_null() ? "not loaded" : r["preload"].get<std::string>());
  if (!r["jvm"].is_null()) {
    const auto& a = r["jvm"]["agent"];
    out += fmt::format("jvm         {}; agent: {}\n", r["jvm"]["libjvm"].get<std::string>(),
                       a.is_null() ? "none"
                                   : fmt::format("{} (from {})", a["option"].get<std::string>(),
                                                 a["from"].get<std::string>()));
  }
  out += fmt::format("reload dir  {}\n",
                     r["reload_dir"].is_null()
                         ? "unknown (give --dir)"
                         : fmt::format("{} (from {})", r["reload_dir"]["path"].get<std::string>(),
                                       r["reload_dir"]["from"].get<std::string>()));
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

// Waits until `cmd` has mapped a TLS client stack and its mappings stopped
// changing (the loader maps a library before its dependencies, so one look
// could see librdkafka without the libssl it needs), it exited, or the wait ran out.
void await_tls_client(pid_t pid, std::chrono::steady_clock::duration wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  const auto maps_path = fmt::format("/proc/{}/maps", pid);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline && ::waitpid(pid, nullptr, WNOHANG) == 0) {
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
    const json report = inspect(pid, o.dir);
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
