#pragma once
// What doctor reads of a running process, from /proc alone: the TLS stacks it
// has mapped, the reload helpers and their directory, its open files and TCP
// connections. Read-only.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace certswap::cli {

std::string slurp(const std::filesystem::path& p);

// The report doctor prints (and verdict() judges): exe, cmdline, go,
// openssl {dynamic, dynamic_1_1, static [{object, version, librdkafka,
// patched}]}, preload, jvm {libjvm, agent},
// reload_dir {path, from, problem}, open_files, tcp. `dir_flag` is the
// directory the user expects the process to read (--dir; "" for none).
nlohmann::json inspect_process(int pid, const std::string& dir_flag);

}  // namespace certswap::cli
