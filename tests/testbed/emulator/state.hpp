#pragma once
// What the emulated Aiven account holds, persisted as one JSON file.
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace emulator {

struct User {
  std::string username;
  std::string type = "normal";
  std::string password;
  std::string access_cert, access_key;
  // access_cert's notAfter in ISO 8601, kept beside it: answering a service
  // with 1,000 users must not parse 1,000 certificates.
  std::string access_cert_not_after;
  std::optional<std::string> expiring_cert_not_valid_after_time;  // set while a renewal is pending
  std::string password_updated_time;
  int ack_count = 0;
  std::vector<std::string> ack_fingerprints;

  nlohmann::json to_api() const;  // the Aiven user object
  void set_credentials(std::string cert_pem, std::string key_pem);
};

struct Endpoint {
  std::string host;
  int port = 0;
};

struct Service {
  std::string host;  // the route "dynamic" certificate listener: the real broker
  int port = 0;
  // Other routes ("public", "private", "privatelink") a test pointed somewhere.
  std::map<std::string, Endpoint> routes;
  // PrivateLink connections by id, each listed as a route "privatelink"
  // component of its own (spec ComponentOut.privatelink_connection_id).
  std::map<std::string, Endpoint> privatelink_connections;
  bool list_components = true;  // false: the answer lists none
  // false: the Kafka listeners take SASL only (kafka_authentication_methods.certificate off)
  bool certificate_auth = true;
  std::optional<std::string> service_uri;  // overrides host:port
  std::string create_time;
  std::map<std::string, User> users;
};

struct Project {
  bool extra_ca = false;  // /kms/ca answers a bundle: the project CA + the "new" CA
  std::map<std::string, Service> services;
};

struct State {
  std::map<std::string, Project> projects;

  static State load(const std::filesystem::path& file);
  // Written to a temporary file, fsynced and renamed over `file`.
  void save(const std::filesystem::path& file) const;
};

void to_json(nlohmann::json& j, const User& u);
void from_json(const nlohmann::json& j, User& u);

}  // namespace emulator
