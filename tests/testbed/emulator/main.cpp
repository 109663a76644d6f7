// aiven-emulator: an HTTPS server speaking the subset of the Aiven REST API
// that certswap uses (shared/aiven-api.md), owning a real project CA, with a
// control API under /_testbed/ for tests (renewals, faults, request log).
#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <shared_mutex>
#include <thread>

#include "pki.hpp"
#include "state.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace emulator {
namespace {

const std::string kProject = "test-project";
const std::string kService = "kafka-test";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_text(const fs::path& p, const std::string& text,
                fs::perms perms = fs::perms::owner_read | fs::perms::owner_write) {
  const auto tmp = p.string() + ".tmp";
  { std::ofstream(tmp, std::ios::binary | std::ios::trunc) << text; }
  fs::permissions(tmp, perms);
  fs::rename(tmp, p);
}

std::string random_token(int bytes) {
  static std::mt19937_64 rng{std::random_device{}()};
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < bytes * 2; ++i) out += digits[rng() % 16];
  return out;
}

const auto kPublic =
    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;

struct Fault {
  std::string method;  // GET, PUT, * ...
  std::regex path;
  int remaining;
  json spec;
  int skip = 0;  // matching calls that pass untouched before the fault applies
};

struct RequestRecord {
  std::string method, path, query;
  json headers;  // the authorization value masked
  int status;
  std::string time;
  // CLOCK_MONOTONIC (steady_clock) in milliseconds, taken before the answer
  // goes out: the time field has whole seconds, too coarse for a test to
  // measure a client's spacing of requests.
  std::int64_t monotonic_ms;
};

// Switches for behaviour that depends on the date or on what a test wants.
struct Settings {
  // Secrets redacted unless a GET asks with include_secrets=true: Aiven's
  // default from 1 March 2027 (aiven-docs tools/api/secret-redaction.md);
  // false is the behaviour before that date.
  bool redact_by_default = true;
  // The docs name passwords; whether access_key counts is not stated, so it
  // does here unless a test of the old behaviour turns it off.
  bool redact_access_key = true;
  KeyType key_type = KeyType::Rsa3072;
};

constexpr const char* kRedacted = "<redacted>";

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class Emulator {
 public:
  explicit Emulator(fs::path dir) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    ensure_pki();
    state_ = State::load(dir_ / "state.json");
    if (state_.projects.empty()) seed();
    persister_ = std::thread([this] { persist_loop(); });
  }

  // What the last change left unwritten is written before the process ends.
  ~Emulator() {
    {
      std::lock_guard lock(persist_mutex_);
      stopping_ = true;
    }
    persist_wanted_.notify_all();
    persister_.join();
  }
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  const fs::path& dir() const { return dir_; }

  void routes(httplib::Server& server) {
    const std::string p = "/v1/project/([^/]+)";
    server.Get(p + "/service/([^/]+)/user/([^/]+)",
               aiven([this](const httplib::Request& r) { return get_user(r); }));
    server.Put(p + "/service/([^/]+)/user/([^/]+)",
               aiven([this](const httplib::Request& r) { return modify_user(r); }));
    server.Delete(p + "/service/([^/]+)/user/([^/]+)",
                  aiven([this](const httplib::Request& r) { return delete_user(r); }));
    server.Get(p + "/service/([^/]+)/user",
               aiven([this](const httplib::Request& r) { return list_users(r); }));
    server.Post(p + "/service/([^/]+)/user",
                aiven([this](const httplib::Request& r) { return create_user(r); }));
    server.Get(p + "/service/([^/]+)",
               aiven([this](const httplib::Request& r) { return get_service(r); }));
    server.Get(p + "/kms/ca", aiven([this](const httplib::Request& r) { return get_ca(r); }));

    // A path nothing serves fails like every other Aiven call, with
    // the spec's error body ("Failed responses"), not httplib's empty one.
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty() || !req.path.starts_with("/v1/"))
            return httplib::Server::HandlerResponse::Unhandled;
          const std::string message = res.status == 404 ? "Not found" : "Bad request";
          res.set_content(error_body(message, res.status).dump(), "application/json");
          return httplib::Server::HandlerResponse::Handled;
        }));

    server.Post("/_testbed/service", control([this](const json& b) { return set_service(b); }));
    // Settings and faults are not part of state.json: they end with the process.
    server.Post("/_testbed/settings",
                control([this](const json& b) { return set_settings(b); }, false));
    server.Get("/_testbed/settings", [this](const httplib::Request&, httplib::Response& res) {
      std::shared_lock lock(mutex_);
      res.set_content(settings_json().dump(), "application/json");
    });
    server.Post("/_testbed/users",
                control([this](const json& b) { return control_create_user(b); }));
    server.Post("/_testbed/padding-users",
                control([this](const json& b) { return padding_users(b); }));
    server.Post("/_testbed/renew", control([this](const json& b) { return renew(b); }));
    server.Post("/_testbed/ca-bundle", control([this](const json& b) { return ca_bundle(b); }));
    server.Post("/_testbed/faults", control([this](const json& b) { return add_fault(b); }, false));
    // How many injected faults are still to apply: a test learns that a
    // delayed call has arrived (its fault was taken) without sleeping.
    server.Get("/_testbed/faults", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(faults_mutex_);
      int pending = 0;
      for (const auto& f : faults_) pending += f.remaining;
      res.set_content(json{{"pending", pending}}.dump(), "application/json");
    });
    server.Delete("/_testbed/faults", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(faults_mutex_);
      faults_.clear();
      res.set_content("{}", "application/json");
    });
    server.Get("/_testbed/acks", [this](const httplib::Request& req, httplib::Response& res) {
      std::shared_lock lock(mutex_);
      const User* u = find_user(req.get_param_value("project"), req.get_param_value("service"),
                                req.get_param_value("username"));
      if (!u) {
        res.status = 404;
        res.set_content(error_body("Service user does not exist", 404).dump(), "application/json");
        return;
      }
      res.set_content(json{{"count", u->ack_count},
                           {"fingerprints", u->ack_fingerprints},
                           {"pending", u->expiring_cert_not_valid_after_time.has_value()}}
                          .dump(),
                      "application/json");
    });
    server.Get("/_testbed/requests", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(requests_mutex_);
      json list = json::array();
      for (const auto& r : requests_)
        list.push_back({{"method", r.method},
                        {"path", r.path},
                        {"query", r.query},
                        {"headers", r.headers},
                        {"status", r.status},
                        {"time", r.time},
                        {"monotonic_ms", r.monotonic_ms}});
      res.set_content(list.dump(), "application/json");
    });
    server.Delete("/_testbed/requests", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(requests_mutex_);
      requests_.clear();
      res.set_content("{}", "application/json");
    });
    // Test-bed only, no Aiven behaviour: how many Aiven calls are being
    // served at once, and the most so far, so that a test can see the
    // client's bound from the server's side. DELETE starts a new peak.
    server.Get("/_testbed/concurrency", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(concurrency_mutex_);
      res.set_content(json{{"in_flight", in_flight_}, {"peak", peak_in_flight_}}.dump(),
                      "application/json");
    });
    server.Delete("/_testbed/concurrency", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(concurrency_mutex_);
      peak_in_flight_ = in_flight_;
      res.set_content("{}", "application/json");
    });
  }

 private:
  struct Answer {
    int status;
    json body;
  };
  using AivenHandler = std::function<Answer(const httplib::Request&)>;

  // Counts one Aiven call from its arrival to its answer (GET /_testbed/concurrency).
  class InFlight {
   public:
    explicit InFlight(Emulator& emu) : emu_(emu) {
      std::lock_guard lock(emu_.concurrency_mutex_);
      emu_.peak_in_flight_ = std::max(emu_.peak_in_flight_, ++emu_.in_flight_);
    }
    ~InFlight() {
      std::lock_guard lock(emu_.concurrency_mutex_);
      --emu_.in_flight_;
    }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

   private:
    Emulator& emu_;
  };

  // The spec's error shape: {"message", "errors": [{"error_code", "message", "status"}]}.
  static json error_body(const std::string& message, int status,
                         const std::string& error_code = "") {
    json error{{"message", message}, {"status", status}};
    if (!error_code.empty()) error["error_code"] = error_code;
    return {{"message", message}, {"errors", json::array({error})}};
  }

  // Authentication, faults, request log and JSON for every Aiven path.
  httplib::Server::Handler aiven(AivenHandler handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      const InFlight counted(*this);
      // A rejected request does not use up a fault meant for an authenticated one.
      bool may_read_secrets = false;
      Answer answer = authenticate(req, may_read_secrets);
      const bool asks_secrets = req.get_param_value("include_secrets") == "true";
      if (answer.status == 0 && asks_secrets && !may_read_secrets) {
        // aiven-docs secret-redaction.md: "calls without the required
        // permissions receive a 403 Forbidden response".
        answer = {403, error_body("Permission denied: this token may not read service secrets", 403,
                                  "permission_denied")};
      }
      std::optional<json> fault;
      if (answer.status == 0) fault = take_fault(req.method, req.path);
      if (fault) {
        const std::string kind = fault->value("kind", "");
        if (kind == "status") {
          const int status = fault->value("status", 500);
          answer = {status, error_body(fault->value("message", "Injected failure"), status)};
        } else if (kind == "rate_limit") {
          res.set_header("Retry-After", std::to_string(fault->value("retry_after", 1)));
          answer = {429, error_body("Too many requests", 429)};
        } else if (kind == "delay") {
          std::this_thread::sleep_for(std::chrono::milliseconds(fault->value("ms", 1000)));
        } else if (kind == "drop") {
          // Headers promise a body that never comes: the client sees the
          // connection close mid-response.
          log(req, 0);  // 0: the client never gets a complete status
          res.set_content_provider(4096, "application/json",
                                   [](size_t, size_t, httplib::DataSink&) { return false; });
          return;
        }
      }
      if (answer.status == 0) {
        // GETs read side by side; a change waits for them and they for it.
        const bool reads = req.method == "GET";
        std::shared_lock shared(mutex_, std::defer_lock);
        std::unique_lock exclusive(mutex_, std::defer_lock);
        if (reads)
          shared.lock();
        else
          exclusive.lock();
        answer = handler(req);
        if (answer.status < 300 && !reads) persist();
        // Only GETs reveal secrets, and only when asked; the POST that makes a
        // user returns its new credentials (secret-redaction.md).
        const bool reveal = (reads && asks_secrets) || req.method == "POST";
        if (answer.status < 300 && settings_.redact_by_default && !reveal) redact(answer.body);
        if (fault && answer.status < 300) apply_body_fault(*fault, answer.body);
      }
      std::string text = answer.body.dump();
      const std::string kind = fault ? fault->value("kind", "") : "";
      if (kind == "malformed_json" && answer.status < 300)
        text = "{\"user\": {\"username\": \"oops\", <html>";
      res.status = answer.status;
      log(req, answer.status);
      if (kind == "truncated_body" && answer.status < 300) {
        const std::string full = text;
        res.set_content_provider(full.size(), "application/json",
                                 [full](size_t offset, size_t, httplib::DataSink& sink) {
                                   if (offset == 0) sink.write(full.data(), full.size() / 2);
                                   return false;
                                 });
        return;
      }
      res.set_content(text, "application/json");
    };
  }

  httplib::Server::Handler control(std::function<Answer(const json&)> handler,
                                   bool changes_state = true) {
    return [this, handler, changes_state](const httplib::Request& req, httplib::Response& res) {
      json body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
      Answer answer;
      if (body.is_discarded()) {
        answer = {400, error_body("control body is not JSON", 400)};
      } else {
        std::lock_guard lock(mutex_);
        try {
          answer = handler(body);
          if (answer.status < 300 && changes_state) persist();
        } catch (const std::exception& e) {
          answer = {400, error_body(e.what(), 400)};
        }
      }
      res.status = answer.status;
      res.set_content(answer.body.dump(), "application/json");
      // Stderr only: the request log served to tests is for Aiven calls.
      std::cerr << iso8601(std::chrono::system_clock::now()) << " " << req.method << " " << req.path
                << " " << answer.status << std::endl;
    };
  }

  // aiven-client sends "aivenv1 <token>", Aiven's docs show "Bearer <token>";
  // HTTP auth schemes are case-insensitive (RFC 9110 11.1).
  Answer authenticate(const httplib::Request& req, bool& may_read_secrets) {
    const std::string header = req.get_header_value("Authorization");
    if (header.empty()) return {401, error_body("Authentication required", 401)};
    std::string presented;
    for (const char* scheme : {"aivenv1 ", "bearer "}) {
      if (lower(header.substr(0, std::strlen(scheme))) == scheme)
        presented = header.substr(std::strlen(scheme));
    }
    if (presented == token_) {
      may_read_secrets = true;
    } else if (presented != token_no_secrets_) {
      return {403, error_body("Invalid token", 403, "authentication_failed")};
    }
    return {0, {}};
  }

  void redact_user(json& u) const {
    if (!u.is_object()) return;
    if (u.contains("password")) u["password"] = kRedacted;
    if (settings_.redact_access_key && u.contains("access_key")) u["access_key"] = kRedacted;
  }

  void redact(json& body) const {
    if (body.contains("user")) redact_user(body["user"]);
    for (json* users :
         {body.contains("users") ? &body["users"] : nullptr,
          body.contains("service") && body["service"].contains("users") ? &body["service"]["users"]
                                                                        : nullptr}) {
      if (users && users->is_array())
        for (auto& u : *users) redact_user(u);
    }
  }

  json settings_json() const {
    return {{"redact_by_default", settings_.redact_by_default},
            {"redact_access_key", settings_.redact_access_key},
            {"key_type", settings_.key_type == KeyType::Rsa3072 ? "rsa" : "ec"}};
  }

  Answer set_settings(const json& b) {
    settings_.redact_by_default = b.value("redact_by_default", settings_.redact_by_default);
    settings_.redact_access_key = b.value("redact_access_key", settings_.redact_access_key);
    if (b.contains("key_type")) {
      const std::string type = b["key_type"];
      if (type != "rsa" && type != "ec") return {400, error_body("key_type: rsa or ec", 400)};
      settings_.key_type = type == "rsa" ? KeyType::Rsa3072 : KeyType::EcP256;
    }
    return {200, settings_json()};
  }

  std::optional<json> take_fault(const std::string& method, const std::string& path) {
    std::lock_guard lock(faults_mutex_);
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if ((it->method == "*" || it->method == method) && std::regex_match(path, it->path)) {
        if (it->skip > 0) {
          --it->skip;
          return std::nullopt;
        }
        json spec = it->spec;
        if (--it->remaining <= 0) faults_.erase(it);
        return spec;
      }
    }
    return std::nullopt;
  }

  CertRequest user_request(const std::string& user, const std::string& ou,
                           std::chrono::system_clock::time_point not_before,
                           std::chrono::system_clock::time_point not_after) const {
    return {user, ou, false, false, false, not_before, not_after, settings_.key_type, kService};
  }

  void apply_body_fault(const json& fault, json& body) {
    const std::string kind = fault.value("kind", "");
    const auto now = std::chrono::system_clock::now();
    if (kind == "malformed_pem_ca" && body.contains("certificate")) {
      body["certificate"] =
          "-----BEGIN CERTIFICATE-----\nthis is not base64 @@@\n-----END CERTIFICATE-----\n";
    }
    if (!body.contains("user")) return;
    json& u = body["user"];
    if (kind == "redacted_key") {
      u["access_key"] = kRedacted;
    } else if (kind == "malformed_pem_cert") {
      u["access_cert"] =
          "-----BEGIN CERTIFICATE-----\nMIIB!!!not base64\n-----END CERTIFICATE-----\n";
    } else if (kind == "malformed_pem_key") {
      u["access_key"] =
          "-----BEGIN PRIVATE KEY-----\nMIIB!!!not base64\n-----END PRIVATE KEY-----\n";
    } else if (kind == "mismatched_key") {
      u["access_key"] = new_key_pem(settings_.key_type);
    } else if (kind == "foreign_ca_cert") {
      const Authority foreign{read_text(dir_ / "foreign-ca.pem"),
                              read_text(dir_ / "foreign-ca.key")};
      auto issued = issue(
          user_request(u.value("username", "x"), "foreign", now - 1h, now + 800 * 24h), &foreign);
      u["access_cert"] = issued.cert_pem;
      u["access_key"] = issued.key_pem;
    } else if (kind == "expired_cert") {
      auto issued =
          issue(user_request(u.value("username", "x"), "expired", now - 30 * 24h, now - 24h),
                &project_ca_);
      u["access_cert"] = issued.cert_pem;
      u["access_key"] = issued.key_pem;
    } else if (kind == "not_yet_valid_cert") {
      auto issued =
          issue(user_request(u.value("username", "x"), "future", now + 10 * 24h, now + 800 * 24h),
                &project_ca_);
      u["access_cert"] = issued.cert_pem;
      u["access_key"] = issued.key_pem;
    } else if (kind == "missing_field") {
      u.erase(fault.value("field", "access_key"));
    }
  }

  void log(const httplib::Request& req, int status) {
    const auto now = iso8601(std::chrono::system_clock::now());
    std::cerr << now << " " << req.method << " " << req.path << " " << status << std::endl;
    std::string query;
    for (const auto& [k, v] : req.params) query += (query.empty() ? "" : "&") + k + "=" + v;
    json headers = json::object();
    for (const auto& [k, v] : req.headers) {
      const bool auth = lower(k) == "authorization";
      headers[lower(k)] = auth ? v.substr(0, v.find(' ')) + " ***" : v;
    }
    std::lock_guard lock(requests_mutex_);
    const auto monotonic = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now().time_since_epoch());
    requests_.push_back({req.method, req.path, query, headers, status, now, monotonic.count()});
  }

  User* find_user(const std::string& project, const std::string& service, const std::string& user) {
    auto p = state_.projects.find(project);
    if (p == state_.projects.end()) return nullptr;
    auto s = p->second.services.find(service);
    if (s == p->second.services.end()) return nullptr;
    auto u = s->second.users.find(user);
    return u == s->second.users.end() ? nullptr : &u->second;
  }

  Service* find_service(const std::string& project, const std::string& service) {
    auto p = state_.projects.find(project);
    if (p == state_.projects.end()) return nullptr;
    auto s = p->second.services.find(service);
    return s == p->second.services.end() ? nullptr : &s->second;
  }

  // Aiven's profile: CN=<user>,OU=<id>,O=<service>, no extended key usage,
  // RSA-3072 by default (shared/aiven-api.md "Certificates").
  void issue_credentials(User& u, const std::string& service, const std::string& ou, int days,
                         std::chrono::seconds not_before_offset, const Authority& signer) {
    const auto now = std::chrono::system_clock::now() + not_before_offset;
    CertRequest request =
        user_request(u.username, ou.empty() ? "certswap-testbed" : ou, now - 1h, now + days * 24h);
    request.organization = service;
    auto issued = issue(request, &signer);
    u.set_credentials(std::move(issued.cert_pem), std::move(issued.key_pem));
  }

  User make_user(const std::string& service, const std::string& name, const std::string& type,
                 const std::string& ou, int days) {
    User u;
    u.username = name;
    u.type = type;
    u.password = random_token(12);
    u.password_updated_time = iso8601(std::chrono::system_clock::now());
    issue_credentials(u, service, ou, days, 0s, project_ca_);
    return u;
  }

  Answer not_found(const std::string& what) {
    return {404, error_body(what + " does not exist", 404)};
  }

  Answer get_user(const httplib::Request& r) {
    User* u = find_user(r.matches[1], r.matches[2], r.matches[3]);
    if (!u) return not_found("Service user");
    return {200, {{"user", u->to_api()}}};
  }

  Answer list_users(const httplib::Request& r) {
    Service* s = find_service(r.matches[1], r.matches[2]);
    if (!s) return not_found("Service");
    json users = json::array();
    for (const auto& [name, u] : s->users) users.push_back(u.to_api());
    return {200, {{"users", users}}};
  }

  Answer create_user(const httplib::Request& r) {
    Service* s = find_service(r.matches[1], r.matches[2]);
    if (!s) return not_found("Service");
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.contains("username"))
      return {400, error_body("username is required", 400)};
    const std::string name = body["username"];
    if (s->users.contains(name)) return {409, error_body("Service user already exists", 409)};
    s->users[name] = make_user(r.matches[2], name, "normal", "", 820);
    // 200, not 201: the spec's ServiceUserCreate lists only 200 (aiven-client
    // and go-client-codegen take any 2xx).
    return {200, {{"user", s->users[name].to_api()}}};
  }

  Answer delete_user(const httplib::Request& r) {
    Service* s = find_service(r.matches[1], r.matches[2]);
    User* u = find_user(r.matches[1], r.matches[2], r.matches[3]);
    if (!s || !u) return not_found("Service user");
    if (u->type == "primary")
      return {400, error_body("The primary service user cannot be deleted", 400)};
    s->users.erase(u->username);
    return {200, json::object()};
  }

  // Every operation answers the whole service (spec ServiceUserCredentialsModify
  // -> ServiceUserCredentialsModifyResponse {"message", "service"}; go-client-codegen
  // ServiceUserCredentialsModifyOut), not the user.
  Answer modify_user(const httplib::Request& r) {
    User* u = find_user(r.matches[1], r.matches[2], r.matches[3]);
    if (!u) return not_found("Service user");
    auto answer = [&](const std::string& message) -> Answer {
      return {200,
              {{"message", message},
               {"service", service_json(r.matches[2], *find_service(r.matches[1], r.matches[2]))}}};
    };
    json body = json::parse(r.body, nullptr, false);
    const std::string op = body.is_object() ? body.value("operation", "") : "";
    if (op == "acknowledge-renewal") {
      // Idempotent: every call is counted so that tests can prove "exactly once".
      u->expiring_cert_not_valid_after_time.reset();
      ++u->ack_count;
      u->ack_fingerprints.push_back(fingerprint_sha256(u->access_cert));
      return answer("Renewal acknowledged");
    }
    if (op == "reset-credentials") {
      u->password = body.value("new_password", random_token(12));
      u->password_updated_time = iso8601(std::chrono::system_clock::now());
      issue_credentials(*u, r.matches[2], "reset", 820, 0s, project_ca_);
      return answer("Service user credentials reset");
    }
    if (op == "set-access-control") return answer("Service user access control updated");
    return {400, error_body("Unsupported operation \"" + op + "\"", 400, "invalid_operation")};
  }

  // A listener nothing answers on, on loopback only: a client that picks it
  // fails fast without leaving the machine.
  static Endpoint nowhere(int n) { return {fmt::format("127.0.0.{}", 2 + n), 1}; }

  // The service object with the spec's required fields (ServiceGet ->
  // ServiceGetResponse.service); `avn service get` reads cloud_name, plan, ...
  json service_json(const std::string& name, const Service& s) {
    json users = json::array();
    for (const auto& [uname, u] : s.users) users.push_back(u.to_api());
    // Several kafka listeners per service (spec ComponentOut: route,
    // usage, kafka_authentication_method), in no guaranteed order.
    json components = json::array();
    if (s.list_components && s.port > 0) {
      auto endpoint = [&](const std::string& route, int n) {
        auto it = s.routes.find(route);
        return it != s.routes.end() ? it->second : nowhere(n);
      };
      auto kafka = [&](const std::string& route, const Endpoint& e, const std::string& auth) {
        components.push_back({{"component", "kafka"},
                              {"host", e.host},
                              {"port", e.port},
                              {"route", route},
                              {"usage", "primary"},
                              {"ssl", true},
                              {"kafka_authentication_method", auth}});
      };
      // A service with certificate authentication off lists its SASL
      // listeners only (spec ComponentOut.kafka_authentication_method).
      const std::string cert = s.certificate_auth ? "certificate" : "sasl";
      kafka("dynamic", {s.host, s.port}, cert);
      kafka("dynamic", nowhere(0), "sasl");
      kafka("public", endpoint("public", 1), cert);
      kafka("private", endpoint("private", 2), cert);
      if (s.routes.contains("privatelink")) kafka("privatelink", s.routes.at("privatelink"), cert);
      // One component per PrivateLink connection, named by its id: the field
      // avn's --privatelink-connection-id matches (spec ComponentOut.
      // privatelink_connection_id, aiven-client connection_info/_utils.py).
      for (const auto& [id, e] : s.privatelink_connections) {
        kafka("privatelink", e, cert);
        components.back()["privatelink_connection_id"] = id;
      }
      for (const char* other : {"schema_registry", "kafka_rest"}) {
        components.push_back({{"component", other},
                              {"host", nowhere(3).host},
                              {"port", 1},
                              {"route", "dynamic"},
                              {"usage", "primary"},
                              {"ssl", true}});
      }
      // Per thread: GETs of the service run side by side.
      thread_local std::mt19937_64 rng{std::random_device{}()};
      std::shuffle(components.begin(), components.end(), rng);
    }
    const std::string uri =
        s.service_uri.value_or(s.port > 0 ? fmt::format("{}:{}", s.host, s.port) : "");
    const std::string created = s.create_time.empty() ? "2024-01-01T00:00:00Z" : s.create_time;
    return {{"service_name", name},
            {"service_type", "kafka"},
            {"service_type_description", "Kafka - High-Throughput Distributed Messaging System"},
            {"state", "RUNNING"},
            {"cloud_name", "google-europe-north1"},
            {"cloud_description", "Europe, Finland - Google Cloud: Finland"},
            {"plan", "business-4"},
            // Required, a 36-character string (spec ServiceGetResponse.service).
            {"project_vpc_id", "4a1f2c3e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"},
            {"group_list", json::array({"default"})},
            {"create_time", created},
            {"update_time", created},
            {"node_count", 3},
            {"node_cpu_count", 2},
            {"node_memory_mb", 4096.0},
            {"disk_space_mb", 614400},
            {"termination_protection", false},
            {"service_uri", uri},
            {"service_uri_params", json::object()},
            {"service_integrations", json::array()},
            {"user_config", json::object()},
            {"metadata", json::object()},
            {"node_states", json::array()},
            {"backups", json::array()},
            {"users", users},
            {"components", components}};
  }

  Answer get_service(const httplib::Request& r) {
    Service* s = find_service(r.matches[1], r.matches[2]);
    if (!s) return not_found("Service");
    return {200, {{"service", service_json(r.matches[2], *s)}}};
  }

  Answer get_ca(const httplib::Request& r) {
    auto p = state_.projects.find(r.matches[1]);
    if (p == state_.projects.end()) return not_found("Project");
    std::string bundle = project_ca_.cert_pem;
    if (p->second.extra_ca) bundle += new_ca_.cert_pem;
    return {200, {{"certificate", bundle}}};
  }

  // Points a service at a broker; a service of the project that does not exist
  // yet is created, so a test can bring a broker of its own.
  Answer set_service(const json& b) {
    auto p = state_.projects.find(b.value("project", kProject));
    if (p == state_.projects.end()) return not_found("Project");
    Service* s = &p->second.services[b.value("service", kService)];
    s->host = b.value("host", "127.0.0.1");
    s->port = b.value("port", 0);
    s->routes.clear();
    const json routes = b.value("routes", json::object());
    for (const auto& [route, e] : routes.items())
      s->routes[route] = {e.value("host", "127.0.0.1"), e.value("port", 0)};
    s->privatelink_connections.clear();
    const json links = b.value("privatelink_connections", json::object());
    for (const auto& [id, e] : links.items())
      s->privatelink_connections[id] = {e.value("host", "127.0.0.1"), e.value("port", 0)};
    s->list_components = b.value("components", true);
    s->certificate_auth = b.value("certificate_auth", true);
    s->service_uri.reset();
    if (b.contains("service_uri")) s->service_uri = b["service_uri"].get<std::string>();
    if (s->create_time.empty()) s->create_time = iso8601(std::chrono::system_clock::now());
    return {200, json::object()};
  }

  Answer control_create_user(const json& b) {
    Service* s = find_service(b.value("project", kProject), b.value("service", kService));
    if (!s) return not_found("Service");
    const std::string name = b.at("username");
    if (!s->users.contains(name))
      s->users[name] = make_user(b.value("service", kService), name, "normal", b.value("ou", ""),
                                 b.value("days", 820));
    return {200,
            {{"user", s->users[name].to_api()},
             {"fingerprint", fingerprint_sha256(s->users[name].access_cert)}}};
  }

  // Makes the service as large as a big real one: GET of the service and the
  // answers to PUT .../user/{user} list every user with its certificate and
  // key (spec ServiceGetResponse.service.users, ServiceUserCredentialsModify
  // Response.service.users; "users": [ServiceUser...]). {"count": N} leaves
  // exactly N users named <prefix>-00000...; 0 removes them. They share one
  // generated pair: an RSA-3072 key per user would take minutes, and only the
  // size of the answers matters for them.
  Answer padding_users(const json& b) {
    const std::string service = b.value("service", kService);
    Service* s = find_service(b.value("project", kProject), service);
    if (!s) return not_found("Service");
    const int count = b.at("count").get<int>();
    const std::string prefix = b.value("prefix", "padding");
    auto name = [&](int i) { return fmt::format("{}-{:05}", prefix, i); };
    std::optional<User> model;
    for (int i = 0; i < count; ++i) {
      if (s->users.contains(name(i))) continue;
      if (!model) model = make_user(service, prefix, "normal", "padding", 820);
      User u = *model;
      u.username = name(i);
      s->users[u.username] = std::move(u);
    }
    int beyond = count;
    while (s->users.erase(name(beyond)) > 0) ++beyond;
    return {200, {{"users", s->users.size()}}};
  }

  // Aiven's renewal: a new key and certificate; the old one stays valid and
  // its end is reported until the renewal is acknowledged.
  Answer renew(const json& b) {
    User* u =
        find_user(b.value("project", kProject), b.value("service", kService), b.at("username"));
    if (!u) return not_found("Service user");
    if (!u->expiring_cert_not_valid_after_time) {
      u->expiring_cert_not_valid_after_time = iso8601(not_after_of(u->access_cert));
    }
    const Authority& signer = b.value("signer", "") == "new-ca" ? new_ca_ : project_ca_;
    issue_credentials(*u, b.value("service", kService), b.value("ou", "renewed"),
                      b.value("days", 820), std::chrono::seconds(b.value("not_before_offset_s", 0)),
                      signer);
    return {200, {{"user", u->to_api()}, {"fingerprint", fingerprint_sha256(u->access_cert)}}};
  }

  Answer ca_bundle(const json& b) {
    auto p = state_.projects.find(b.value("project", kProject));
    if (p == state_.projects.end()) return not_found("Project");
    p->second.extra_ca = b.value("extra_ca", false);
    return {200, json::object()};
  }

  Answer add_fault(const json& b) {
    std::lock_guard lock(faults_mutex_);
    faults_.push_back({b.value("method", "*"), std::regex(b.value("path_regex", ".*")),
                       b.value("count", 1), b.at("fault"), b.value("skip", 0)});
    return {200, json::object()};
  }

  Authority load_or_create_ca(const std::string& name, const std::string& cn, KeyType type) {
    const auto cert = dir_ / (name + ".pem");
    const auto key = dir_ / (name + ".key");
    if (!fs::exists(cert)) {
      const auto now = std::chrono::system_clock::now();
      auto issued = issue({cn, "", true, false, false, now - 1h, now + 3650 * 24h, type}, nullptr);
      write_text(key, issued.key_pem);
      write_text(cert, issued.cert_pem, kPublic);
    }
    return {read_text(cert), read_text(key)};
  }

  void ensure_pki() {
    // Aiven's project CA is RSA and signs SHA384withRSA, like its user certificates.
    project_ca_ = load_or_create_ca("project-ca", "certswap-testbed Project CA", KeyType::Rsa3072);
    new_ca_ = load_or_create_ca("new-ca", "certswap-testbed Project CA (next)", KeyType::Rsa3072);
    load_or_create_ca("foreign-ca", "Some Other CA", KeyType::Rsa3072);
    api_ca_ = load_or_create_ca("api-ca", "certswap-testbed API CA", KeyType::EcP256);
    const auto now = std::chrono::system_clock::now();
    auto leaf = [&](const char* name, CertRequest req, const Authority& ca, bool chain) {
      if (fs::exists(dir_ / (std::string(name) + ".pem"))) return;
      auto issued = issue(req, &ca);
      write_text(dir_ / (std::string(name) + ".key"), issued.key_pem);
      write_text(dir_ / (std::string(name) + ".pem"), issued.cert_pem + (chain ? ca.cert_pem : ""),
                 kPublic);
    };
    leaf("api-server", {"localhost", "", false, true, false, now - 1h, now + 3650 * 24h}, api_ca_,
         false);
    leaf("broker", {"kafka-broker", "", false, true, true, now - 1h, now + 3650 * 24h}, project_ca_,
         true);
    leaf("admin", {"testbed-admin", "", false, false, true, now - 1h, now + 3650 * 24h},
         project_ca_, false);
    // "token" may read secrets; "token-no-secrets" is a token kind without
    // that permission (secret-redaction.md).
    for (auto [file, token] :
         {std::pair{"token", &token_}, {"token-no-secrets", &token_no_secrets_}}) {
      if (!fs::exists(dir_ / file)) write_text(dir_ / file, random_token(24) + "\n");
      *token = read_text(dir_ / file);
      while (!token->empty() && token->back() == '\n') token->pop_back();
    }
  }

  void seed() {
    Service& s = state_.projects[kProject].services[kService];
    s.users["avnadmin"] = make_user(kService, "avnadmin", "primary", "", 820);
    s.users["app"] = make_user(kService, "app", "normal", "", 820);
    state_.save(dir_ / "state.json");
  }

  // Called with mutex_ held exclusively, after a change to state_. The
  // persister writes state.json off the request path: a 1,000-user state is
  // megabytes, and writing and fsyncing it inside every call serialised them
  // all (the benchmarks then measured the emulator). Changes that come while
  // it writes are written together next.
  void persist() {
    {
      std::lock_guard lock(persist_mutex_);
      dirty_ = true;
    }
    persist_wanted_.notify_one();
  }

  void persist_loop() {
    std::unique_lock lock(persist_mutex_);
    for (;;) {
      persist_wanted_.wait(lock, [&] { return dirty_ || stopping_; });
      if (!dirty_) return;
      dirty_ = false;
      lock.unlock();
      State snapshot;
      {
        std::shared_lock reading(mutex_);
        snapshot = state_;
      }
      try {
        snapshot.save(dir_ / "state.json");
      } catch (const std::exception& e) {
        std::cerr << "aiven-emulator: " << e.what() << std::endl;
      }
      lock.lock();
    }
  }

  fs::path dir_;
  Authority project_ca_, new_ca_, api_ca_;
  std::string token_, token_no_secrets_;
  Settings settings_;  // guarded by mutex_, like state_
  State state_;
  std::shared_mutex mutex_;
  std::mutex faults_mutex_;
  std::vector<Fault> faults_;
  std::mutex requests_mutex_;
  std::vector<RequestRecord> requests_;
  std::mutex persist_mutex_;
  std::condition_variable persist_wanted_;
  bool dirty_ = false, stopping_ = false;
  std::thread persister_;
  std::mutex concurrency_mutex_;
  int in_flight_ = 0, peak_in_flight_ = 0;
};

}  // namespace
}  // namespace emulator

int main(int argc, char** argv) {
  std::string state_dir, listen = "127.0.0.1", ready_file;
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--state-dir")
      state_dir = argv[i + 1];
    else if (flag == "--listen")
      listen = argv[i + 1];
    else if (flag == "--port")
      port = std::stoi(argv[i + 1]);
    else if (flag == "--ready-file")
      ready_file = argv[i + 1];
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 64;
    }
  }
  if (state_dir.empty()) {
    std::cerr << "usage: aiven-emulator --state-dir DIR [--listen 127.0.0.1] [--port 0] "
                 "[--ready-file FILE]\n";
    return 64;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);

  emulator::Emulator emu(state_dir);
  const auto dir = emu.dir();
  httplib::SSLServer server((dir / "api-server.pem").c_str(), (dir / "api-server.key").c_str());
  if (!server.is_valid()) {
    std::cerr << "cannot set up TLS from " << dir << "\n";
    return 1;
  }
  // Without TCP_NODELAY every answer waited ~40 ms (Nagle holding the body
  // behind the headers until the client's delayed ACK), which the benchmarks
  // counted as certswap's fetch time. A runtime call, not the
  // CPPHTTPLIB_TCP_NODELAY macro: Debian's httplib is a compiled library, so
  // the macro in our translation unit never reached its sockets.
  server.set_tcp_nodelay(true);
  emu.routes(server);
  // A keep-alive connection holds one server thread while it is open: enough
  // threads for a client's pool of connections (several targets at once)
  // besides the tests' control calls. httplib takes ownership of the queue.
  server.new_task_queue = [] { return new httplib::ThreadPool(64); };
  server.set_keep_alive_max_count(1000);
  const int bound =
      port == 0 ? server.bind_to_any_port(listen) : (server.bind_to_port(listen, port) ? port : -1);
  if (bound <= 0) {
    std::cerr << "cannot listen on " << listen << ":" << port << "\n";
    return 1;
  }
  if (!ready_file.empty()) {
    const nlohmann::json ready{{"port", bound},
                               {"api_url", fmt::format("https://{}:{}", listen, bound)}};
    const auto tmp = ready_file + ".tmp";
    { std::ofstream(tmp) << ready.dump() << "\n"; }
    std::filesystem::rename(tmp, ready_file);
  }
  std::cerr << "aiven-emulator listening on https://" << listen << ":" << bound << " (state in "
            << dir << ")\n";
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&mask, &sig);
    server.stop();
  });
  server.listen_after_bind();
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  return 0;
}
