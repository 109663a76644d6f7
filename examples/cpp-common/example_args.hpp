#pragma once
// Command-line and output helpers shared by the two C++ examples; not part of
// what an app needs to copy (that is certswap_reload.hpp).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace example {

// --name value pairs and --flag switches; unknown or missing values exit 64.
inline std::map<std::string, std::string> parse_args(int argc, char** argv,
                                                     const std::vector<std::string>& required,
                                                     const std::vector<std::string>& switches) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string name = argv[i];
    if (name.rfind("--", 0) != 0) {
      std::fprintf(stderr, "unexpected argument %s\n", argv[i]);
      std::exit(64);
    }
    name = name.substr(2);
    if (std::find(switches.begin(), switches.end(), name) != switches.end()) {
      args[name] = "1";
    } else if (i + 1 < argc) {
      args[name] = argv[++i];
    } else {
      std::fprintf(stderr, "--%s needs a value\n", name.c_str());
      std::exit(64);
    }
  }
  for (const auto& r : required) {
    if (!args.count(r)) {
      std::fprintf(stderr, "--%s is required\n", r.c_str());
      std::exit(64);
    }
  }
  return args;
}

struct Percentiles {
  size_t n = 0;
  double p50 = 0, p99 = 0;
};

inline Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  p.p50 = v[v.size() / 2];
  p.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  return p;
}

inline std::string json(const Percentiles& p) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "{\"n\":%zu,\"p50\":%.2f,\"p99\":%.2f}", p.n, p.p50, p.p99);
  return buf;
}

// One JSON line on stdout per event; the tests read them.
inline void emit(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace example
