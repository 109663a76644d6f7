#pragma once
// Runs a program the way a user would (argv + environment), capturing its
// output, so integration tests exercise the real CLI.
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace testbed {

// A loopback TCP port nobody listens on right now (for a sidecar's endpoint).
int free_port();

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string output;  // stdout and stderr interleaved
};

// `env` entries are added to (or replace those of) the current environment.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          std::chrono::seconds timeout = std::chrono::seconds(120));

}  // namespace testbed

namespace testbed {

// A long-running program (the sidecar) with its output in a file; killed on
// destruction if still running.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env, const std::string& log_file);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  int pid() const { return pid_; }
  // Sends `signal` and waits up to `timeout`; returns the exit code (128+signal if killed).
  int stop(int signal, std::chrono::seconds timeout = std::chrono::seconds(30));
  std::string output() const;

 private:
  int pid_ = -1;
  std::string log_file_;
};

}  // namespace testbed
