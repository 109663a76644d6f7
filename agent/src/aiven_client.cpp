#include "certswap/aiven_client.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>

#include "certswap/request_bound.hpp"

namespace certswap {

std::string url_encode_segment(std::string_view segment) {
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string AivenClient::user_path(const std::string& project, const std::string& service,
                                   const std::string& user) {
  return fmt::format("/v1/project/{}/service/{}/user/{}", url_encode_segment(project),
                     url_encode_segment(service), url_encode_segment(user));
}

std::chrono::milliseconds AivenClient::request_bound() const {
  return certswap::request_bound(http_.options());
}

namespace {

// The spec's server URL is https://api.aiven.io/v1 and every path here starts
// with /v1: either is accepted, with or without a trailing slash.
HttpOptions api_root(HttpOptions http) {
  auto& url = http.base_url;
  while (url.ends_with('/')) url.pop_back();
  if (url.ends_with("/v1")) url.resize(url.size() - 3);
  return http;
}

}  // namespace

// The full URL: a wrong --api-url shows in the error as it is.
std::string AivenClient::where(const std::string& method, const std::string& path) const {
  return method + " " + http_.options().base_url + path;
}

AivenClient::AivenClient(HttpOptions http, std::string token)
    : http_(api_root(std::move(http))), auth_header_("authorization: aivenv1 " + token) {}

Result<std::string> AivenClient::call(const std::string& method, const std::string& path,
                                      const std::string& body, bool retry,
                                      std::string_view forbidden_hint) {
  std::vector<std::string> headers{auth_header_, "accept: application/json"};
  if (!body.empty()) headers.emplace_back("content-type: application/json");
  auto response = http_.request(method, path, body, headers, retry);
  if (!response) return std::unexpected(response.error());
  if (auto ok =
          check_response(response->status, response->body, where(method, path), forbidden_hint);
      !ok) {
    return std::unexpected(ok.error());
  }
  return std::move(response->body);
}

Result<ServiceUser> AivenClient::get_user(const std::string& project, const std::string& service,
                                          const std::string& user) {
  const auto path = user_path(project, service, user) + "?include_secrets=true";
  auto body = call("GET", path, "", true,
                   "the token is invalid, or it may not read service secrets, which "
                   "include_secrets=true asks for: give it service:secrets:read, or the admin, "
                   "operator or developer role");
  if (!body) return std::unexpected(body.error());
  return decode_user_response(*body, "GET " + path);
}

void AivenClient::new_pass() {
  std::lock_guard lock(cache_mutex_);
  ++pass_;
}

template <class T, class Fetch>
Result<T> AivenClient::once_per_pass(Cache<T>& cache, const std::string& key, Fetch fetch) {
  Cached<T>* entry = nullptr;
  std::uint64_t pass = 0;
  {
    std::lock_guard lock(cache_mutex_);
    if (pass_ == 0) return fetch();
    pass = pass_;
    auto& slot = cache[key];
    if (!slot) slot = std::make_unique<Cached<T>>();
    entry = slot.get();  // entries are never erased: the pointer stays valid
  }
  std::lock_guard fetching(entry->fetching);
  if (entry->pass == pass) return entry->value;
  auto answer = fetch();
  if (answer) {
    entry->value = *answer;
    entry->pass = pass;
  }
  return answer;
}

Result<std::string> AivenClient::get_project_ca(const std::string& project) {
  return once_per_pass(cas_, project, [&] { return fetch_project_ca(project); });
}

Result<std::string> AivenClient::fetch_project_ca(const std::string& project) {
  const auto path = fmt::format("/v1/project/{}/kms/ca", url_encode_segment(project));
  auto body = call("GET", path, "", true);
  if (!body) return std::unexpected(body.error());
  return decode_ca_response(*body, "GET " + path);
}

Result<ServiceAddress> AivenClient::get_service_address(const std::string& project,
                                                        const std::string& service,
                                                        std::string_view route,
                                                        std::string_view privatelink_id) {
  // '/' cannot occur in an encoded segment, so the key is unambiguous.
  const auto key =
      fmt::format("{}/{}/{}/{}", url_encode_segment(project), url_encode_segment(service),
                  url_encode_segment(route), url_encode_segment(privatelink_id));
  return once_per_pass(addresses_, key, [&] {
    return fetch_service_address(project, service, route, privatelink_id);
  });
}

namespace {

// An error answer is the spec's small {"message", "errors"}: what is beyond
// this is not read, and the message is quoted from what is.
constexpr std::size_t kErrorBodyLimit = 64 * 1024;

std::string size_text(std::size_t bytes) {
  constexpr std::size_t mib = 1024 * 1024;
  return bytes % mib == 0 ? fmt::format("{} MiB", bytes / mib) : fmt::format("{} bytes", bytes);
}

}  // namespace

template <class Decode>
Result<StreamedResponse> AivenClient::call_streamed(const std::string& method,
                                                    const std::string& path,
                                                    const std::string& body, bool retry,
                                                    Decode decode) {
  std::vector<std::string> headers{auth_header_, "accept: application/json"};
  if (!body.empty()) headers.emplace_back("content-type: application/json");
  std::optional<Error> refused;
  auto response = http_.request_streamed(
      method, path, body, headers, retry, [&](long status, std::istream& in) {
        refused.reset();
        if (status >= 200 && status < 300) {
          decode(in);
          return;
        }
        std::string text(kErrorBodyLimit, '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(in.gcount()));
        if (auto ok = check_response(status, text, where(method, path)); !ok) {
          refused = ok.error();
        }
      });
  if (!response) return response;
  if (refused) return std::unexpected(*refused);
  return response;
}

Result<ServiceAddress> AivenClient::fetch_service_address(const std::string& project,
                                                          const std::string& service,
                                                          std::string_view route,
                                                          std::string_view privatelink_id) {
  const auto path = fmt::format("/v1/project/{}/service/{}", url_encode_segment(project),
                                url_encode_segment(service));
  const auto url = http_.options().base_url + path;
  // The answer lists every user with its certificate: read as it arrives and
  // only the listeners built (aiven_response.hpp), so its size does not matter
  // up to the limit against a hostile server.
  std::optional<Result<ServiceAddress>> address;
  auto response = call_streamed("GET", path, "", true, [&](std::istream& in) {
    address = decode_service_response(in, "GET " + url, route, privatelink_id);
  });
  if (!response) return std::unexpected(response.error());
  switch (response->end) {
    case BodyEnd::OverLimit:
      return fail(ErrorKind::Api,
                  "GET {} answered more than {}; refusing to read further (a real service answer "
                  "is far smaller: check the API URL or the proxy in between)",
                  url, size_text(http_.options().max_streamed_body_bytes));
    case BodyEnd::Broken:
      return fail(ErrorKind::Api, "GET {}: the answer was cut off: {}", url, response->failure);
    case BodyEnd::Complete:
      break;
  }
  if (!address) return fail(ErrorKind::Api, "GET {} answered no body", url);
  return *address;
}

// The answer to a PUT of a user is the whole service (spec
// ServiceUserCredentialsModifyResponse). It is read as it arrives, only for a
// truthy "error" (the official client's check) and, for a reset, the user's
// own pair. Its status is what says whether Aiven acted: an answer that is
// cut off, too large or not JSON after a 2xx does not make a PUT that was
// done look failed (a retried reset would reset twice).
Result<ModifyAnswer> AivenClient::modify_user(const std::string& project,
                                              const std::string& service, const std::string& user,
                                              const std::string& operation, bool retry,
                                              const std::string& wanted_user) {
  const auto path = user_path(project, service, user);
  const auto body = fmt::format(R"({{"operation":"{}"}})", operation);
  ModifyAnswer answer;
  auto response = call_streamed("PUT", path, body, retry, [&](std::istream& in) {
    answer = decode_modify_response(in, wanted_user);
  });
  if (!response) return std::unexpected(response.error());
  const auto url = http_.options().base_url + path;
  if (answer.error) {
    return fail(ErrorKind::Api, "PUT {} ({}) answered an error: \"{}\"", url, operation,
                *answer.error);
  }
  if (response->end != BodyEnd::Complete || !answer.readable) {
    answer.user.reset();  // a pair from an answer not read to its end is not kept
    spdlog::warn("PUT {} ({}): HTTP {}, so it was done; its answer was {}, and is not needed", url,
                 operation, response->status,
                 response->end == BodyEnd::OverLimit
                     ? "larger than " + size_text(http_.options().max_streamed_body_bytes)
                 : response->end == BodyEnd::Broken ? "cut off (" + response->failure + ")"
                                                    : std::string("not a JSON object"));
  }
  return answer;
}

Result<void> AivenClient::acknowledge_renewal(const std::string& project,
                                              const std::string& service, const std::string& user) {
  // Idempotent upstream, so retrying after a lost response is safe.
  auto answer = modify_user(project, service, user, "acknowledge-renewal", true, "");
  if (!answer) return std::unexpected(answer.error());
  return {};
}

Result<std::optional<ServiceUser>> AivenClient::reset_credentials(const std::string& project,
                                                                  const std::string& service,
                                                                  const std::string& user) {
  // Not retried: a second reset would replace the pair the first one made.
  auto answer = modify_user(project, service, user, "reset-credentials", false, user);
  if (!answer) return std::unexpected(answer.error());
  return std::move(answer->user);
}

}  // namespace certswap
