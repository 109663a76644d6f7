#include "testbed.hpp"

#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace testbed {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::unique_ptr<httplib::SSLClient> make_client(const Testbed& tb) {
  const auto host_port = tb.api_url.substr(tb.api_url.find("://") + 3);
  const auto colon = host_port.rfind(':');
  auto c = std::make_unique<httplib::SSLClient>(host_port.substr(0, colon),
                                                std::stoi(host_port.substr(colon + 1)));
  c->set_ca_cert_path(tb.api_ca.c_str());
  c->enable_server_certificate_verification(true);
  c->set_read_timeout(30, 0);
  return c;
}

nlohmann::json parse_or_throw(const httplib::Result& r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": no response (" + httplib::to_string(r.error()) + ")");
  if (r->status >= 300)
    throw std::runtime_error(what + ": HTTP " + std::to_string(r->status) + " " + r->body);
  return r->body.empty() ? nlohmann::json::object() : nlohmann::json::parse(r->body);
}

}  // namespace

Testbed Testbed::load() {
  const char* dir = std::getenv("CERTSWAP_TESTBED_DIR");
  if (!dir)
    throw std::runtime_error("CERTSWAP_TESTBED_DIR is not set: run the tests through ctest");
  const auto j = nlohmann::json::parse(read_all(std::string(dir) + "/testbed.json"));
  Testbed tb;
  tb.dir = dir;
  for (auto [key, field] :
       {std::pair{"api_url", &tb.api_url}, std::pair{"api_ca", &tb.api_ca},
        std::pair{"token_file", &tb.token_file}, std::pair{"project", &tb.project},
        std::pair{"service", &tb.service}, std::pair{"project_ca", &tb.project_ca},
        std::pair{"bootstrap", &tb.bootstrap}, std::pair{"admin_cert", &tb.admin_cert},
        std::pair{"admin_key", &tb.admin_key}, std::pair{"emulator_dir", &tb.emulator_dir},
        std::pair{"kafka_dir", &tb.kafka_dir}}) {
    *field = j.at(key).get<std::string>();
  }
  return tb;
}

std::string Testbed::token() const {
  auto t = read_all(token_file);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

nlohmann::json Testbed::control_get(const std::string& path) const {
  auto client = make_client(*this);
  auto& c = *client;
  return parse_or_throw(c.Get(path.c_str()), "GET " + path);
}

nlohmann::json Testbed::control_post(const std::string& path, const nlohmann::json& body) const {
  auto client = make_client(*this);
  auto& c = *client;
  return parse_or_throw(c.Post(path.c_str(), body.dump(), "application/json"), "POST " + path);
}

void Testbed::control_delete(const std::string& path) const {
  auto client = make_client(*this);
  auto& c = *client;
  parse_or_throw(c.Delete(path.c_str()), "DELETE " + path);
}

nlohmann::json Testbed::api(const std::string& method, const std::string& path,
                            const std::string& body, const std::string& auth) const {
  auto client = make_client(*this);
  auto& c = *client;
  httplib::Headers headers;
  if (auth == "token")
    headers.emplace("authorization", "aivenv1 " + token());
  else if (!auth.empty())
    headers.emplace("authorization", auth);
  httplib::Result r = method == "GET"    ? c.Get(path.c_str(), headers)
                      : method == "PUT"  ? c.Put(path.c_str(), headers, body, "application/json")
                      : method == "POST" ? c.Post(path.c_str(), headers, body, "application/json")
                                         : c.Delete(path.c_str(), headers);
  if (!r) return {{"status", 0}, {"error", httplib::to_string(r.error())}};
  nlohmann::json h = nlohmann::json::object();
  for (const auto& [k, v] : r->headers) h[k] = v;
  return {{"status", r->status},
          {"raw", r->body},
          {"headers", h},
          {"body", nlohmann::json::parse(r->body, nullptr, false)}};
}

nlohmann::json Testbed::create_user(const std::string& username) const {
  return control_post("/_testbed/users",
                      {{"project", project}, {"service", service}, {"username", username}});
}

nlohmann::json Testbed::renew(const std::string& username, const std::string& ou) const {
  return control_post(
      "/_testbed/renew",
      {{"project", project}, {"service", service}, {"username", username}, {"ou", ou}});
}

int Testbed::ack_count(const std::string& username) const {
  return control_get("/_testbed/acks?project=" + project + "&service=" + service +
                     "&username=" + username)
      .at("count")
      .get<int>();
}

void Testbed::add_fault(const nlohmann::json& fault) const {
  control_post("/_testbed/faults", fault);
}

void Testbed::clear_faults() const {
  control_delete("/_testbed/faults");
}

}  // namespace testbed
