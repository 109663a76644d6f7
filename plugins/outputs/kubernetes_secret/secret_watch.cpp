#include "secret_watch.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "certswap/secret_string.hpp"

namespace certswap {
namespace {

// The server ends a watch after this long; a new one resumes where it ended.
constexpr int kWatchSeconds = 290;

}  // namespace

SecretWatch::SecretWatch(KubeConnection connection, std::string ns, std::string name,
                         std::function<void()> changed)
    : connection_(std::move(connection)),
      ns_(std::move(ns)),
      name_(std::move(name)),
      changed_(std::move(changed)),
      http_([this] {
        HttpOptions options;
        options.base_url = connection_.server;
        options.ca_pem = connection_.ca_pem;
        options.client_cert_pem = connection_.client_cert_pem;
        options.client_key_pem = connection_.client_key_pem;
        options.connect_timeout = std::chrono::seconds(10);
        options.total_timeout = std::chrono::seconds(kWatchSeconds + 30);
        options.cancelled = [this] { return thread_.get_stop_token().stop_requested(); };
        return options;
      }()),
      thread_([this](std::stop_token stop) { loop(stop); }) {}

SecretWatch::~SecretWatch() {
  thread_.request_stop();
  wake_.notify_all();
}

void SecretWatch::loop(std::stop_token stop) {
  auto pause = std::chrono::seconds(1);
  while (!stop.stop_requested()) {
    if (watch_once(stop)) {
      pause = std::chrono::seconds(1);
      continue;
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, stop, pause, [] { return false; });
    pause = std::min<std::chrono::seconds>(pause * 2, std::chrono::seconds(30));
  }
}

bool SecretWatch::watch_once(const std::stop_token& stop) {
  auto auth = connection_.authorization();
  if (!auth) {
    spdlog::warn("watch of Secret {}/{}: {}", ns_, name_, auth.error().message);
    return false;
  }
  // RBAC by resourceNames allows a watch that names the object this way.
  std::string path = fmt::format(
      "/api/v1/namespaces/{}/secrets?fieldSelector=metadata.name%3D{}&watch=true&"
      "allowWatchBookmarks=true&timeoutSeconds={}",
      ns_, name_, kWatchSeconds);
  if (!resource_version_.empty()) path += "&resourceVersion=" + resource_version_;
  std::vector<std::string> headers{"accept: application/json"};
  if (!auth->empty()) headers.push_back(*auth);
  bool streamed = false;
  auto response =
      http_.request_streamed("GET", path, "", headers, false, [&](long status, std::istream& body) {
        if (status != 200) return;
        streamed = true;
        for (SecretString line; !stop.stop_requested() && std::getline(body, line);) {
          const auto event = nlohmann::json::parse(line, nullptr, false);
          if (!event.is_object()) continue;
          const std::string type = event.value("type", "");
          const auto& object = event.value("object", nlohmann::json::object());
          if (type == "ERROR") {
            // 410 Gone: the version to resume from is too old; start afresh.
            if (object.value("code", 0) == 410) resource_version_.clear();
            return;
          }
          if (object.contains("metadata")) {
            resource_version_ = object["metadata"].value("resourceVersion", resource_version_);
          }
          if (type != "BOOKMARK") changed_();
        }
      });
  for (auto& h : headers) SecretString(std::move(h)).wipe();
  if (stop.stop_requested()) return true;
  if (!response) {
    spdlog::warn("watch of Secret {}/{}: {}", ns_, name_, response.error().message);
    return false;
  }
  if (response->status != 200) {
    spdlog::warn("watch of Secret {}/{}: HTTP {} from {}", ns_, name_, response->status,
                 connection_.server);
    return false;
  }
  return streamed;
}

}  // namespace certswap
