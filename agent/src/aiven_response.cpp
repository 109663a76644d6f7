#include "certswap/aiven_response.hpp"

#include <nlohmann/json.hpp>

namespace certswap {
namespace {

using nlohmann::json;

// The API's own words are the most useful part of an error: quote them.
std::string api_message(std::string_view body) {
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_object()) {
    if (auto it = parsed.find("message"); it != parsed.end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  return body.size() > 200 ? std::string(body.substr(0, 200)) + "..." : std::string(body);
}

// What the API puts in place of a secret it won't show (aiven-docs
// tools/api/secret-redaction.md).
constexpr std::string_view kRedacted = "<redacted>";

std::string status_hint(long status, std::string_view forbidden_hint) {
  if (status == 403 && !forbidden_hint.empty()) return fmt::format(" ({})", forbidden_hint);
  switch (status) {
    case 401:
      return " (the API token is missing or invalid)";
    case 403:
      return " (the token is not allowed to do this: check the token and project membership)";
    case 404:
      return " (check the project, service and user names)";
    case 429:
      return " (rate limited)";
    default:
      return status >= 500 ? " (Aiven API error; it will be retried later)" : "";
  }
}

Result<json> parse_object(std::string_view body, const std::string& where) {
  if (body.empty()) return json::object();
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return fail(ErrorKind::Api,
                "response to {} is not a JSON object ({} bytes; truncated or malformed)", where,
                body.size());
  }
  return parsed;
}

Result<std::string> required_string(const json& object, const char* field,
                                    const std::string& where) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return fail(ErrorKind::Api, "response to {} has no \"{}\" string", where, field);
  }
  return it->get<std::string>();
}

std::optional<std::string> optional_string(const json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

namespace {

// Reads a body through without building it: is it one JSON object, and is its
// top-level "error" truthy (anything but null, false and "")? An answer to a
// PUT of a user is the whole service, every user's certificate included:
// megabytes with 1,000 users, once per acknowledgement.
class TopLevelError final : public nlohmann::json_sax<json> {
 public:
  bool object_root = false;
  bool error = false;

  bool null() override { return value(false); }
  bool boolean(bool v) override { return value(v); }
  bool number_integer(number_integer_t) override { return value(true); }
  bool number_unsigned(number_unsigned_t) override { return value(true); }
  bool number_float(number_float_t, const string_t&) override { return value(true); }
  bool string(string_t& v) override { return value(!v.empty()); }
  bool binary(binary_t&) override { return value(true); }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    error_next_ = depth_ == 1 && k == "error";
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool value(bool truthy) {
    if (depth_ == 0) return false;  // a scalar root is no object
    if (error_next_) error = truthy;
    error_next_ = false;
    return true;
  }
  bool open(bool is_object) {
    if (depth_ == 0) object_root = is_object;
    if (error_next_) error = true;
    error_next_ = false;
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  int depth_ = 0;
  bool error_next_ = false;
};

}  // namespace

Result<void> check_response(long status, std::string_view body, const std::string& where,
                            std::string_view forbidden_hint) {
  if (status < 200 || status >= 300) {
    auto error = fail(ErrorKind::Api, "{} failed with HTTP {}: \"{}\"{}", where, status,
                      api_message(body), status_hint(status, forbidden_hint));
    error.error().http_status = static_cast<int>(status);
    return error;
  }
  if (body.empty()) return {};  // an empty body is an empty object
  TopLevelError sax;
  if (!json::sax_parse(body, &sax) || !sax.object_root) {
    return fail(ErrorKind::Api,
                "response to {} is not a JSON object ({} bytes; truncated or malformed)", where,
                body.size());
  }
  // The official client treats a truthy "error" in a 2xx body as a failure too.
  if (sax.error) {
    return fail(ErrorKind::Api, "{} answered an error: \"{}\"", where, api_message(body));
  }
  return {};
}

namespace {

bool looks_like_pem(std::string_view text, std::string_view label_end) {
  return text.find("-----BEGIN ") != std::string_view::npos &&
         text.find(label_end) != std::string_view::npos;
}

// The fields of one user object; `where` names the answer it came from.
Result<ServiceUser> user_from(const json& u, const std::string& where) {
  auto name = required_string(u, "username", where);
  if (!name) return std::unexpected(name.error());
  auto cert = required_string(u, "access_cert", where);
  if (!cert) return std::unexpected(cert.error());
  auto key = required_string(u, "access_key", where);
  if (!key) return std::unexpected(key.error());
  ServiceUser user;
  user.username = *name;
  user.access_cert = *cert;
  user.access_key = *key;
  user.access_cert_not_valid_after_time =
      optional_string(u, "access_cert_not_valid_after_time").value_or("");
  user.expiring_cert_not_valid_after_time =
      optional_string(u, "expiring_cert_not_valid_after_time");
  return user;
}

// A secret the API redacted is not a malformed credential: it means the token
// may not read it, and only the token's owner can change that.
Result<void> check_not_redacted(const ServiceUser& user, const std::string& where) {
  for (auto [field, value, end] :
       {std::tuple{"access_key", std::string_view(user.access_key), "PRIVATE KEY-----"},
        std::tuple{"access_cert", std::string_view(user.access_cert), "CERTIFICATE-----"}}) {
    if (looks_like_pem(value, end)) continue;
    return fail(ErrorKind::Api,
                "{} returned the {} of service user \"{}\" {}: the API hides secrets unless the "
                "request asks with include_secrets=true (certswap does) and the token may read "
                "them; give the token the permission to read service secrets "
                "(service:secrets:read, or the admin, operator or developer role)",
                where, field, user.username,
                value == kRedacted ? "redacted (\"<redacted>\")"
                                   : fmt::format("as {} bytes that are not PEM", value.size()));
  }
  return {};
}

}  // namespace

Result<ServiceUser> decode_user_response(std::string_view body, const std::string& where) {
  auto response = parse_object(body, where);
  if (!response) return std::unexpected(response.error());
  auto user_it = response->find("user");
  if (user_it == response->end() || !user_it->is_object()) {
    return fail(ErrorKind::Api, "response to {} has no \"user\" object", where);
  }
  auto user = user_from(*user_it, where);
  if (!user) return user;
  if (auto shown = check_not_redacted(*user, where); !shown) return std::unexpected(shown.error());
  return user;
}

std::optional<ServiceUser> decode_modify_response_user(std::string_view body,
                                                       const std::string& username) {
  auto response = parse_object(body, "PUT");
  if (!response) return std::nullopt;
  const auto svc = response->find("service");
  if (svc == response->end() || !svc->is_object()) return std::nullopt;
  const auto users = svc->find("users");
  if (users == svc->end() || !users->is_array()) return std::nullopt;
  for (const auto& u : *users) {
    if (!u.is_object() || optional_string(u, "username") != username) continue;
    auto user = user_from(u, "PUT");
    if (!user || !check_not_redacted(*user, "PUT")) return std::nullopt;
    return std::move(*user);
  }
  return std::nullopt;
}

Result<std::string> decode_ca_response(std::string_view body, const std::string& where) {
  auto response = parse_object(body, where);
  if (!response) return std::unexpected(response.error());
  return required_string(*response, "certificate", where);
}

Result<ServiceAddress> decode_service_response(std::string_view body, const std::string& where,
                                               std::string_view route) {
  auto response = parse_object(body, where);
  if (!response) return std::unexpected(response.error());
  auto svc = response->find("service");
  if (svc == response->end() || !svc->is_object()) {
    return fail(ErrorKind::Api, "response to {} has no \"service\" object", where);
  }
  // The spec lists components in no guaranteed order, several per route and
  // authentication method. Like avn, take route + certificate authentication;
  // a primary one before a replica. Components of another shape are skipped.
  std::optional<ServiceAddress> replica;
  if (auto comps = svc->find("components"); comps != svc->end() && comps->is_array()) {
    for (const auto& c : *comps) {
      if (!c.is_object()) continue;
      const auto host = optional_string(c, "host");
      const auto port = c.find("port");
      if (optional_string(c, "component") != "kafka" ||
          optional_string(c, "kafka_authentication_method") != "certificate" ||
          optional_string(c, "route") != route || !host || host->empty() || port == c.end() ||
          !port->is_number_integer()) {
        continue;
      }
      ServiceAddress address{
          fmt::format("{}:{}", *host, port->get<long long>()),
          fmt::format("kafka component, route {}, certificate authentication", route)};
      if (optional_string(c, "usage").value_or("primary") == "primary") return address;
      if (!replica) replica = address;
    }
  }
  if (replica) return *replica;
  // service_uri is what `avn service user-kafka-java-creds` writes as
  // bootstrap.servers; it is the default route's address, no other's.
  const auto uri = optional_string(*svc, "service_uri");
  if (route == "dynamic" && uri && !uri->empty()) return ServiceAddress{*uri, "service_uri"};
  return fail(ErrorKind::Api,
              "no usable Kafka listener in the answer to {}: no kafka component with route "
              "\"{}\" and certificate authentication{}; choose another --kafka-route or give "
              "--bootstrap host:port",
              where, route, route == "dynamic" ? ", and no service_uri" : "");
}

}  // namespace certswap
