#include "cli/process_inspection.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

#include "cli/elf_probe.hpp"
#include "cli/managed_directory.hpp"
#include "cli/native_reload.hpp"
#include "cli/plugin_search_path.hpp"

namespace certswap::cli {

namespace fs = std::filesystem;
using nlohmann::json;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

namespace {

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

using Environment = std::map<std::string, std::string>;

Environment environment_of(const fs::path& proc) {
  Environment env;
  for (const auto& e : split_nul(slurp(proc / "environ"))) {
    const auto eq = e.find('=');
    if (eq != std::string::npos) env[e.substr(0, eq)] = e.substr(eq + 1);
  }
  return env;
}

// The certswap agent among -javaagent options: the command line first, then
// the variables the JVM reads them from (a launcher script may put it in
// either). Its file name, not the directory, says it is ours; the version a
// build may add (certswap-agent-1.2.jar) counts too.
json java_agent_option(const std::vector<std::string>& cmdline, const Environment& env) {
  const std::string stem = fs::path(kJavaAgentFileName).stem().string();
  auto find_in = [&](const std::vector<std::string>& words, const char* where) -> json {
    for (const auto& w : words) {
      if (!w.starts_with("-javaagent:")) continue;
      const auto spec = w.substr(11);
      const auto jar = fs::path(spec.substr(0, spec.find('='))).filename().string();
      if (jar.starts_with(stem) && jar.ends_with(".jar")) return {{"option", w}, {"from", where}};
    }
    return nullptr;
  };
  if (auto found = find_in(cmdline, "cmdline"); !found.is_null()) return found;
  for (const char* var : {"JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"}) {
    const auto it = env.find(var);
    if (it == env.end()) continue;
    std::istringstream words(it->second);
    if (auto found = find_in({std::istream_iterator<std::string>(words), {}}, var);
        !found.is_null())
      return found;
  }
  return nullptr;
}

// The agent's "=dir=PATH" argument, which it prefers to CERTSWAP_RELOAD_DIR.
std::string agent_dir_argument(const std::string& option) {
  const auto eq = option.find('=', 11);
  if (eq == std::string::npos) return {};
  std::istringstream parts(option.substr(eq + 1));
  for (std::string part; std::getline(parts, part, ',');)
    if (part.starts_with("dir=") && part.size() > 4) return part.substr(4);
  return {};
}

// The directory the process's helper reads, judged as the process sees it:
// a relative path from its working directory, through its root (a container
// has its own mount namespace).
json reload_dir_of(const fs::path& proc, const Environment& env, const json& agent,
                   const std::string& dir_flag, bool for_java) {
  std::string dir, from;
  if (!agent.is_null()) {
    dir = agent_dir_argument(agent["option"].get<std::string>());
    if (!dir.empty()) from = "-javaagent dir=";
  }
  if (dir.empty()) {
    if (const auto it = env.find("CERTSWAP_RELOAD_DIR"); it != env.end() && !it->second.empty()) {
      dir = it->second;
      from = "CERTSWAP_RELOAD_DIR";
    }
  }
  json r = {{"path", nullptr}, {"from", nullptr}, {"problem", nullptr}};
  if (dir.empty()) {
    if (!dir_flag.empty())
      r["problem"] =
          fmt::format("the process has no CERTSWAP_RELOAD_DIR (--dir {} was given)", dir_flag);
    return r;
  }
  r["path"] = dir;
  r["from"] = from;
  std::error_code ec;
  fs::path seen = dir;
  if (seen.is_relative()) seen = fs::read_symlink(proc / "cwd", ec) / seen;
  const fs::path through_root = proc / "root" / seen.relative_path();
  if (!dir_flag.empty() &&
      fs::weakly_canonical(dir_flag, ec) != fs::weakly_canonical(seen, ec).lexically_normal())
    r["problem"] = fmt::format("the process reads {}={}, not --dir {}", from, dir, dir_flag);
  else if (auto why = why_not_managed(through_root, for_java ? kJavaAgentFiles : kPreloadFiles))
    r["problem"] = fmt::format("{}={}: {}", from, dir, *why);
  r["resolved"] = seen.lexically_normal().string();
  return r;
}

}  // namespace

json inspect_process(int pid, const std::string& dir_flag) {
  const fs::path proc = fmt::format("/proc/{}", pid);
  json r;
  r["pid"] = pid;
  std::error_code ec;
  r["exe"] = fs::read_symlink(proc / "exe", ec).string();
  r["go"] = is_go_binary(proc / "exe");
  const auto cmdline = split_nul(slurp(proc / "cmdline"));
  r["cmdline"] = cmdline;
  const Environment env = environment_of(proc);
  // Objects with executable code; a path is read through /proc/N/root so a
  // process in another mount namespace (a container) is read as it sees it.
  std::set<std::string> objects;
  // Where each object is mapped, and the executable pages of no file: the
  // preload library's static path puts a patched copy of one code page of a
  // librdkafka in place (plugins/preload/static_librdkafka.c), which shows as
  // such a page inside that library's range.
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> spans;
  std::vector<std::uint64_t> anonymous_code;
  std::istringstream maps(slurp(proc / "maps"));
  for (std::string line; std::getline(maps, line);) {
    std::istringstream f(line);
    std::string range, perms, offset, dev, inode, path;
    f >> range >> perms >> offset >> dev >> inode;
    std::getline(f >> std::ws, path);
    const auto dash = range.find('-');
    if (dash == std::string::npos) continue;
    const std::uint64_t start = std::stoull(range.substr(0, dash), nullptr, 16);
    const std::uint64_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    const bool code = perms.find('x') != std::string::npos;
    if (path.starts_with("/")) {
      auto [it, fresh] = spans.try_emplace(path, start, end);
      if (!fresh)
        it->second = {std::min(it->second.first, start), std::max(it->second.second, end)};
      if (code) objects.insert(path);
    } else if (path.empty() && code) {
      anonymous_code.push_back(start);
    }
  }
  const auto patched = [&](const std::string& path) {
    const auto it = spans.find(path);
    return it != spans.end() && std::ranges::any_of(anonymous_code, [&](std::uint64_t at) {
             return at >= it->second.first && at < it->second.second;
           });
  };
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
      const fs::path file = proc / "root" / fs::path(clean).relative_path();
      if (auto v = openssl_version_inside(file))
        statically.push_back({{"object", path},
                              {"version", *v},
                              {"librdkafka", defines_symbol(file, "rd_kafka_version")},
                              {"patched", patched(path)}});
    }
  }
  r["openssl"] = {{"dynamic", dynamic}, {"dynamic_1_1", old_dynamic}, {"static", statically}};
  r["librdkafka"] = librdkafka_report(proc, objects);
  r["preload"] = preload.empty() ? json(nullptr) : json(preload);
  const json agent = jvm.empty() ? json(nullptr) : java_agent_option(cmdline, env);
  r["jvm"] = jvm.empty() ? json(nullptr) : json{{"libjvm", jvm}, {"agent", agent}};
  // Started by `certswap exec` (or given its environment by hand).
  r["certswap_environment"] = env.contains("CERTSWAP_RELOAD_DIR");
  const auto static_switch = env.find("CERTSWAP_RELOAD_STATIC");
  r["static_path_off"] = static_switch != env.end() && static_switch->second == "0";
  r["reload_dir"] = reload_dir_of(proc, env, agent, dir_flag, !jvm.empty());
  // Open files under the reload directory, and the sockets for the TCP table.
  json files = json::array();
  std::set<std::string> sockets;
  // As the process names it (the /proc/N/fd links are in its namespace).
  const std::string dir =
      r["reload_dir"]["path"].is_null() ? dir_flag : r["reload_dir"]["resolved"].get<std::string>();
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

}  // namespace certswap::cli
