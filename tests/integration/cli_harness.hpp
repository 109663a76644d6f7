#pragma once
// Runs the real certswap binary against the test bed, the way a user would,
// and checks every run's output for secrets.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "process.hpp"
#include "testbed.hpp"

namespace certswap_test {

namespace fs = std::filesystem;

// The binary under test: CERTSWAP_TEST_BIN when set (the TSan job runs these
// tests against a ThreadSanitizer build of certswap), else the one built here.
inline std::string certswap_bin() {
  const char* other = std::getenv("CERTSWAP_TEST_BIN");
  return other && *other ? other : CERTSWAP_BIN;
}

inline std::string unique_name(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  return prefix + "-" + std::to_string(rng() % 1'000'000'000);
}

inline fs::path fresh_dir(const std::string& prefix) {
  auto dir = fs::temp_directory_path() / unique_name("certswap-it-" + prefix);
  fs::create_directories(dir);
  return dir;
}

// A whole file; "" when it cannot be read.
inline std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every file of a directory tree, byte for byte, following the public links,
// so tests can prove that the live files were left untouched.
inline std::map<std::string, std::string> snapshot_live(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (auto name : {"service.cert", "service.key", "ca.pem", "bundle.pem"}) {
    std::ifstream in(dir / name, std::ios::binary);
    if (!in) continue;
    files[name] = std::string(std::istreambuf_iterator<char>(in), {});
  }
  return files;
}

struct Cli {
  testbed::Testbed tb = testbed::Testbed::load();
  std::string user;
  fs::path out;
  std::vector<std::string> secrets;  // must never show in any output

  explicit Cli(const std::string& prefix) : user(unique_name(prefix)), out(fresh_dir(prefix)) {
    tb.create_user(user);
    secrets.push_back(tb.token());
  }

  std::map<std::string, std::string> env() const {
    return {{"CERTSWAP_API_URL", tb.api_url},       {"CERTSWAP_API_CA_FILE", tb.api_ca},
            {"CERTSWAP_TOKEN_FILE", tb.token_file}, {"CERTSWAP_PROJECT", tb.project},
            {"CERTSWAP_SERVICE", tb.service},       {"CERTSWAP_USER", user},
            {"CERTSWAP_OUTPUT_DIR", out.string()},  {"CERTSWAP_LIVE_TIMEOUT", "8s"}};
  }

  // Remembers the key material a test has seen so that no later output may show it.
  void remember_key(const std::string& key_pem) {
    std::istringstream lines(key_pem);
    for (std::string line; std::getline(lines, line);) {
      if (line.size() > 20 && line.find("-----") == std::string::npos) secrets.push_back(line);
    }
  }

  // A --config file for this one target on the test bed; `target_keys` are
  // added to the target (key_mode, notify, ...).
  fs::path write_config(const nlohmann::json& target_keys) const {
    nlohmann::json target = {{"project", tb.project},
                             {"service", tb.service},
                             {"user", user},
                             {"output_dir", out.string()}};
    target.update(target_keys);
    const auto path = out.parent_path() / (out.filename().string() + ".json");
    std::ofstream(path) << nlohmann::json{
        {"api", {{"url", tb.api_url}, {"ca_file", tb.api_ca}, {"token_file", tb.token_file}}},
        {"targets", {target}}}.dump();
    return path;
  }

  testbed::ProcessResult run(std::vector<std::string> args,
                             std::map<std::string, std::string> extra_env = {}) {
    args.insert(args.begin(), certswap_bin());
    auto env_vars = env();
    for (auto& [k, v] : extra_env) env_vars[k] = v;
    auto result = testbed::run_process(args, env_vars);
    UNSCOPED_INFO("certswap " << args[1] << " exited " << result.exit_code << ":\n"
                              << result.output);
    CHECK(result.output.find("PRIVATE KEY") == std::string::npos);
    for (const auto& secret : secrets) CHECK(result.output.find(secret) == std::string::npos);
    return result;
  }
};

}  // namespace certswap_test
