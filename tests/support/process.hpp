#pragma once
// Runs a program the way a user would (argv + environment), capturing its
// output, so integration tests exercise the real CLI.
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace testbed {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string output;  // stdout and stderr interleaved
};

// `env` entries are added to (or replace those of) the current environment.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          std::chrono::seconds timeout = std::chrono::seconds(120));

}  // namespace testbed
