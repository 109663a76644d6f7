#include "state.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include "pki.hpp"

namespace emulator {

// No "authentication": the spec's ServiceUserGet types it as a string (MySQL's
// password plugin; go-client-codegen ServiceUserGetOut: omitempty), so a
// Kafka user leaves it out rather than sending null.
nlohmann::json User::to_api() const {
  nlohmann::json j{{"username", username},
                   {"type", type},
                   {"password", password},
                   {"access_cert", access_cert},
                   {"access_key", access_key},
                   {"access_cert_not_valid_after_time", access_cert_not_after},
                   {"password_updated_time", password_updated_time}};
  if (expiring_cert_not_valid_after_time) {
    j["expiring_cert_not_valid_after_time"] = *expiring_cert_not_valid_after_time;
  }
  return j;
}

void User::set_credentials(std::string cert_pem, std::string key_pem) {
  access_cert_not_after = iso8601(not_after_of(cert_pem));
  access_cert = std::move(cert_pem);
  access_key = std::move(key_pem);
}

void to_json(nlohmann::json& j, const User& u) {
  j = {{"username", u.username},
       {"type", u.type},
       {"password", u.password},
       {"access_cert", u.access_cert},
       {"access_key", u.access_key},
       {"expiring", u.expiring_cert_not_valid_after_time
                        ? nlohmann::json(*u.expiring_cert_not_valid_after_time)
                        : nlohmann::json(nullptr)},
       {"password_updated_time", u.password_updated_time},
       {"ack_count", u.ack_count},
       {"ack_fingerprints", u.ack_fingerprints}};
}

void from_json(const nlohmann::json& j, User& u) {
  u.username = j.at("username");
  u.type = j.at("type");
  u.password = j.at("password");
  u.set_credentials(j.at("access_cert"), j.at("access_key"));
  if (j.contains("expiring") && j["expiring"].is_string())
    u.expiring_cert_not_valid_after_time = j["expiring"];
  u.password_updated_time = j.value("password_updated_time", "");
  u.ack_count = j.value("ack_count", 0);
  u.ack_fingerprints = j.value("ack_fingerprints", std::vector<std::string>{});
}

State State::load(const std::filesystem::path& file) {
  State state;
  std::ifstream in(file);
  if (!in) return state;
  const auto j = nlohmann::json::parse(in);
  for (const auto& [pname, pj] : j.at("projects").items()) {
    Project& p = state.projects[pname];
    p.extra_ca = pj.value("extra_ca", false);
    for (const auto& [sname, sj] : pj.at("services").items()) {
      Service& s = p.services[sname];
      s.host = sj.value("host", "");
      s.port = sj.value("port", 0);
      const nlohmann::json routes = sj.value("routes", nlohmann::json::object());
      for (const auto& [route, ej] : routes.items())
        s.routes[route] = {ej.value("host", ""), ej.value("port", 0)};
      const nlohmann::json links = sj.value("privatelink_connections", nlohmann::json::object());
      for (const auto& [id, ej] : links.items())
        s.privatelink_connections[id] = {ej.value("host", ""), ej.value("port", 0)};
      s.list_components = sj.value("list_components", true);
      s.certificate_auth = sj.value("certificate_auth", true);
      if (sj.contains("service_uri") && sj["service_uri"].is_string())
        s.service_uri = sj["service_uri"].get<std::string>();
      s.create_time = sj.value("create_time", "");
      for (const auto& [uname, uj] : sj.at("users").items()) s.users[uname] = uj.get<User>();
    }
  }
  return state;
}

void State::save(const std::filesystem::path& file) const {
  nlohmann::json j{{"projects", nlohmann::json::object()}};
  for (const auto& [pname, p] : projects) {
    auto& pj = j["projects"][pname];
    pj["extra_ca"] = p.extra_ca;
    pj["services"] = nlohmann::json::object();
    for (const auto& [sname, s] : p.services) {
      nlohmann::json routes = nlohmann::json::object();
      for (const auto& [route, e] : s.routes) routes[route] = {{"host", e.host}, {"port", e.port}};
      nlohmann::json links = nlohmann::json::object();
      for (const auto& [id, e] : s.privatelink_connections)
        links[id] = {{"host", e.host}, {"port", e.port}};
      pj["services"][sname] = {
          {"host", s.host},
          {"port", s.port},
          {"routes", routes},
          {"privatelink_connections", links},
          {"list_components", s.list_components},
          {"certificate_auth", s.certificate_auth},
          {"service_uri", s.service_uri ? nlohmann::json(*s.service_uri) : nlohmann::json(nullptr)},
          {"create_time", s.create_time},
          {"users", s.users}};
    }
  }
  const auto tmp = file.string() + ".tmp";
  const std::string text = j.dump(1);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), file.c_str()) != 0)
    throw std::runtime_error("cannot save " + file.string());
}

}  // namespace emulator
