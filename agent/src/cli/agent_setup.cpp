#include <spdlog/spdlog.h>

#include <algorithm>

#include "certswap/exit_codes.hpp"
#include "certswap/log_setup.hpp"
#include "cli/cli.hpp"
#include "registry.hpp"

namespace certswap::cli {
Result<Agent> build_agent(const Config& config) {
  Agent agent;
  // An inbox target that names no Aiven user never calls the API.
  const bool needs_api = std::ranges::any_of(
      config.targets, [](const TargetConfig& t) { return t.source != "inbox" || !t.user.empty(); });
  auto token = needs_api ? read_token(config.api) : Result<std::string>(std::string());
  if (!token) return std::unexpected(token.error());
  HttpOptions http;
  http.base_url = config.api.url;
  http.extra_ca_file = config.api.ca_file;
  http.allow_plain_http = config.api.allow_plain_http;
  http.connect_timeout = config.api.connect_timeout;
  http.total_timeout = config.api.total_timeout;
  http.retry = config.api.retry;
  http.budget = std::make_shared<ApiBudget>(
      ApiBudget::Limits{.rate = config.api.rate, .max_in_flight = config.api.concurrency});
  agent.api = std::make_unique<AivenClient>(std::move(http), std::move(*token));
  for (const auto& t : config.targets) {
    Target target;
    target.config = t;
    auto source = plugins::make_source(t, *agent.api);
    if (!source) return std::unexpected(source.error());
    auto format = plugins::make_format(t);
    if (!format) return std::unexpected(format.error());
    auto notifiers = plugins::make_notifiers(t);
    if (!notifiers) return std::unexpected(notifiers.error());
    auto output = plugins::make_output(t, (*format)->file_names());
    if (!output) return std::unexpected(output.error());
    target.output = std::move(*output);
    auto watcher = plugins::make_output_watcher(t);
    if (!watcher) return std::unexpected(watcher.error());
    target.watch_output = std::move(*watcher);
    target.source = std::move(*source);
    target.format = std::move(*format);
    target.notifiers = std::move(*notifiers);
    agent.targets.push_back(std::move(target));
  }
  return agent;
}

int report_error(const Error& e) {
  const int code = exit_code_for(e.kind);
  log_failure(e, code);
  return code;
}

}  // namespace certswap::cli
