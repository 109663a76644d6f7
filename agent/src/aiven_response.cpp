#include "certswap/aiven_response.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

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

// What to build of an answer; everything else is read through and dropped
// without being built. An answer to GET of the service or to a PUT of a user
// is the whole service, every user's certificate (and key) included: 4 MiB
// with 1,000 users, 45 MiB with 10,000, of which certswap needs a few
// hundred bytes.
struct Picks {
  // Object keys from the root: a value on one of these paths, or inside one,
  // is built; the objects on the way to one are built with only those members.
  std::vector<std::vector<std::string_view>> paths;
  // Each element of the array at `filtered` (one of the paths) is kept only
  // if `keep` says so once it is built, so the array never holds more than
  // one unwanted element.
  std::vector<std::string_view> filtered;
  std::function<bool(const json&)> keep;
};

// A SAX reader that builds only the picks, and notes on the way whether the
// root is an object, whether its top-level "error" is truthy (anything but
// null, false and "") and its top-level "message". Memory: the picks, the
// parser's current token (one PEM at most) and a depth counter.
class Picker final : public nlohmann::json_sax<json> {
 public:
  explicit Picker(const Picks& picks) : picks_(picks) {}

  json root;  // the picks, in the shape of the answer
  bool object_root = false;
  bool error = false;
  std::optional<std::string> message;

  bool null() override {
    return scalar(false, [] { return json(nullptr); });
  }
  bool boolean(bool v) override {
    return scalar(v, [v] { return json(v); });
  }
  bool number_integer(number_integer_t v) override {
    return scalar(true, [v] { return json(v); });
  }
  bool number_unsigned(number_unsigned_t v) override {
    return scalar(true, [v] { return json(v); });
  }
  bool number_float(number_float_t v, const string_t&) override {
    return scalar(true, [v] { return json(v); });
  }
  bool string(string_t& v) override {
    if (skip_ == 0 && stack_.size() == 1 && key_ == "message") message = v;
    return scalar(!v.empty(), [&v] { return json(v); });
  }
  bool binary(binary_t&) override { return false; }  // never in JSON text
  bool start_object(std::size_t) override { return open(json::object()); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (skip_ == 0) key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  struct Frame {
    json* value;
    bool added_key;  // the container is an object member: path_ holds its key
  };

  // The path of the value about to be read (array elements add no key).
  bool member() const { return !stack_.empty() && stack_.back().value->is_object(); }

  bool wanted() const {
    const std::size_t depth = path_.size() + (member() ? 1 : 0);
    return std::ranges::any_of(picks_.paths, [&](const auto& pick) {
      const std::size_t common = std::min(depth, pick.size());
      for (std::size_t i = 0; i < common; ++i) {
        const std::string_view step = i < path_.size() ? std::string_view(path_[i]) : key_;
        if (step != pick[i]) return false;
      }
      return true;
    });
  }

  bool in_filtered_array() const {
    return !stack_.empty() && stack_.back().value->is_array() && picks_.keep &&
           std::ranges::equal(path_, picks_.filtered);
  }

  json* place(json value) {
    if (stack_.empty()) {
      root = std::move(value);
      return &root;
    }
    json& parent = *stack_.back().value;
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(value);
    return &slot;
  }

  // A value is made only when it is wanted: most are not.
  template <class Make>
  bool scalar(bool truthy, Make make) {
    if (stack_.empty()) return false;  // a scalar root is no object
    if (skip_ > 0) return true;
    if (stack_.size() == 1 && key_ == "error") error = truthy;
    if (!wanted()) return true;
    json value = make();
    if (in_filtered_array() && !picks_.keep(value)) return true;
    place(std::move(value));
    return true;
  }

  bool open(json container) {
    if (stack_.empty()) object_root = container.is_object();
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    if (stack_.size() == 1 && key_ == "error") error = true;
    if (!stack_.empty() && !wanted()) {
      skip_ = 1;
      return true;
    }
    const bool added_key = member();
    if (added_key) path_.push_back(key_);
    stack_.push_back({place(std::move(container)), added_key});
    return true;
  }

  bool close() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    const Frame done = stack_.back();
    stack_.pop_back();
    if (done.added_key) path_.pop_back();
    if (in_filtered_array() && !picks_.keep(*done.value))
      stack_.back().value->erase(stack_.back().value->size() - 1);
    return true;
  }

  const Picks& picks_;
  std::vector<Frame> stack_;
  std::vector<std::string> path_;  // the keys of the open containers that are members
  std::string key_;                // the last key read in the innermost open object
  int skip_ = 0;                   // depth inside a container that is not wanted
};

// Reads `body` (a string or a stream, as it arrives) through a Picker.
// Nothing when it is not one JSON object.
template <class Input>
std::optional<Picker> pick(Input&& body, const Picks& picks) {
  std::optional<Picker> picker(std::in_place, picks);
  if (!json::sax_parse(std::forward<Input>(body), &*picker) || !picker->object_root) {
    return std::nullopt;
  }
  return picker;
}

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
  const Picks nothing;          // only the root, "error" and "message" are looked at
  const auto read = pick(body, nothing);
  if (!read) {
    return fail(ErrorKind::Api,
                "response to {} is not a JSON object ({} bytes; truncated or malformed)", where,
                body.size());
  }
  // The official client treats a truthy "error" in a 2xx body as a failure too.
  if (read->error) {
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

namespace {

template <class Input>
ModifyAnswer decode_modify(Input&& body, const std::string& username) {
  Picks picks;
  if (!username.empty()) {
    // Only this user's object is built, one user object at a time at most.
    picks.paths = {{"service", "users"}};
    picks.filtered = {"service", "users"};
    picks.keep = [&](const json& u) {
      return u.is_object() && optional_string(u, "username") == username;
    };
  }
  ModifyAnswer answer;
  auto read = pick(std::forward<Input>(body), picks);
  if (!read) return answer;
  answer.readable = true;
  if (read->error) {
    answer.error = read->message.value_or("(no message)");
    return answer;
  }
  if (username.empty()) return answer;
  // Looked up, not indexed: a "service" that is not an object (a broken or
  // hostile answer) must not throw.
  const json& root = read->root;
  const auto svc = root.is_object() ? root.find("service") : root.end();
  if (svc == root.end() || !svc->is_object()) return answer;
  const auto users = svc->find("users");
  if (users == svc->end() || !users->is_array() || users->empty()) return answer;
  auto user = user_from(users->back(), "PUT");
  if (user && check_not_redacted(*user, "PUT")) answer.user = std::move(*user);
  return answer;
}

}  // namespace

ModifyAnswer decode_modify_response(std::istream& body, const std::string& username) {
  return decode_modify(body, username);
}

std::optional<ServiceUser> decode_modify_response_user(std::string_view body,
                                                       const std::string& username) {
  return decode_modify(body, username).user;
}

Result<std::string> decode_ca_response(std::string_view body, const std::string& where) {
  auto response = parse_object(body, where);
  if (!response) return std::unexpected(response.error());
  return required_string(*response, "certificate", where);
}

namespace {

template <class Input>
Result<ServiceAddress> decode_service(Input&& body, const std::string& where,
                                      std::string_view route, std::string_view privatelink_id) {
  // Of the whole service, only where its brokers are: not its users, ACLs, topics.
  const Picks picks{{{"service", "components"}, {"service", "service_uri"}}, {}, {}};
  auto read = pick(std::forward<Input>(body), picks);
  if (!read) {
    return fail(ErrorKind::Api, "response to {} is not a JSON object (truncated or malformed)",
                where);
  }
  if (read->error) {
    return fail(ErrorKind::Api, "{} answered an error: \"{}\"", where,
                read->message.value_or("(no message)"));
  }
  const json& response = read->root;
  auto svc = response.find("service");
  if (svc == response.end() || !svc->is_object()) {
    return fail(ErrorKind::Api, "response to {} has no \"service\" object", where);
  }
  // The spec lists components in no guaranteed order, several per route and
  // authentication method. Like avn, take route + certificate authentication;
  // a primary one before a replica. Components of another shape are skipped.
  std::optional<ServiceAddress> replica;
  bool kafka_listed = false;
  std::vector<std::string> certificate_routes;
  // A service with several PrivateLink connections lists one component per
  // connection, told apart by privatelink_connection_id (spec ComponentOut;
  // avn's --privatelink-connection-id filters on it, connection_info/_utils.py).
  std::vector<std::string> privatelink_ids;
  if (auto comps = svc->find("components"); comps != svc->end() && comps->is_array()) {
    for (const auto& c : *comps) {
      if (!c.is_object()) continue;
      const auto host = optional_string(c, "host");
      const auto port = c.find("port");
      // Only a listener that says its route and method tells what the service offers.
      const auto method = optional_string(c, "kafka_authentication_method");
      const auto its_route = optional_string(c, "route");
      if (optional_string(c, "component") == "kafka" && method && its_route) {
        kafka_listed = true;
        if (*method == "certificate" &&
            std::ranges::find(certificate_routes, *its_route) == certificate_routes.end())
          certificate_routes.push_back(*its_route);
      }
      if (optional_string(c, "component") != "kafka" ||
          optional_string(c, "kafka_authentication_method") != "certificate" ||
          optional_string(c, "route") != route || !host || host->empty() || port == c.end() ||
          !port->is_number_integer()) {
        continue;
      }
      const auto its_id = optional_string(c, "privatelink_connection_id");
      if (its_id && std::ranges::find(privatelink_ids, *its_id) == privatelink_ids.end())
        privatelink_ids.push_back(*its_id);
      if (!privatelink_id.empty() && its_id != privatelink_id) continue;
      ServiceAddress address{
          fmt::format("{}:{}", *host, port->get<long long>()),
          privatelink_id.empty()
              ? fmt::format("kafka component, route {}, certificate authentication", route)
              : fmt::format("kafka component, route {}, privatelink_connection_id {}, "
                            "certificate authentication",
                            route, privatelink_id)};
      if (optional_string(c, "usage").value_or("primary") == "primary") return address;
      if (!replica) replica = address;
    }
  }
  if (replica) return *replica;
  if (!privatelink_id.empty()) {
    return fail(ErrorKind::Api,
                "no usable Kafka listener in the answer to {}: no kafka component with route "
                "\"{}\", privatelink_connection_id \"{}\" and certificate authentication ({}); "
                "choose another --privatelink-connection-id or give --bootstrap host:port",
                where, route, privatelink_id,
                privatelink_ids.empty()
                    ? "the service lists no PrivateLink connection"
                    : fmt::format("connections listed: {}", fmt::join(privatelink_ids, ", ")));
  }
  // Kafka listeners are listed, none with certificates: service_uri is then a
  // SASL listener, where a client certificate proves nothing. avn refuses
  // here too ("Certificate authentication is not enabled", aiven-client
  // connection_info/kafka.py).
  if (kafka_listed && certificate_routes.empty()) {
    return fail(ErrorKind::Api,
                "certificate authentication is not enabled on the Kafka listeners in the answer "
                "to {} (only other methods, such as SASL, are listed); enable it on the service, "
                "or give --bootstrap host:port of a listener that takes client certificates",
                where);
  }
  // service_uri is what `avn service user-kafka-java-creds` writes as
  // bootstrap.servers; it is the default route's address, no other's.
  const auto uri = optional_string(*svc, "service_uri");
  if (route == "dynamic" && uri && !uri->empty()) return ServiceAddress{*uri, "service_uri"};
  return fail(ErrorKind::Api,
              "no usable Kafka listener in the answer to {}: no kafka component with route "
              "\"{}\" and certificate authentication{}{}; choose another --kafka-route or give "
              "--bootstrap host:port",
              where, route, route == "dynamic" ? ", and no service_uri" : "",
              certificate_routes.empty()
                  ? ""
                  : fmt::format(" (routes with one: {})", fmt::join(certificate_routes, ", ")));
}

}  // namespace

Result<ServiceAddress> decode_service_response(std::string_view body, const std::string& where,
                                               std::string_view route,
                                               std::string_view privatelink_id) {
  return decode_service(body, where, route, privatelink_id);
}

Result<ServiceAddress> decode_service_response(std::istream& body, const std::string& where,
                                               std::string_view route,
                                               std::string_view privatelink_id) {
  return decode_service(body, where, route, privatelink_id);
}

}  // namespace certswap
