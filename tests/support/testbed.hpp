#pragma once
// Integration tests' view of the test bed started by tests/testbed/testbed.sh:
// where things are (testbed.json) and the emulator's control API.
#include <nlohmann/json.hpp>
#include <string>

namespace testbed {

struct Testbed {
  std::string dir, api_url, api_ca, token_file, project, service, project_ca, bootstrap;
  std::string admin_cert, admin_key, emulator_dir, kafka_dir;

  // Reads $CERTSWAP_TESTBED_DIR/testbed.json; throws when the bed is not up.
  static Testbed load();

  std::string token() const;

  nlohmann::json control_get(const std::string& path) const;
  nlohmann::json control_post(const std::string& path, const nlohmann::json& body) const;
  void control_delete(const std::string& path) const;

  // An Aiven API call as a client would make it: {"status": N, "body": ..., "headers": {...}}.
  nlohmann::json api(const std::string& method, const std::string& path,
                     const std::string& body = "", const std::string& auth = "token") const;

  nlohmann::json create_user(const std::string& username) const;
  nlohmann::json renew(const std::string& username, const std::string& ou = "renewed") const;
  int ack_count(const std::string& username) const;
  void add_fault(const nlohmann::json& fault) const;
  void clear_faults() const;
};

}  // namespace testbed
