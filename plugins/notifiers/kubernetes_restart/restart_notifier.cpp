#include "restart_notifier.hpp"

namespace certswap::plugins {

Result<Workload> parse_workload(const std::string& text) {
  const auto slash = text.find('/');
  const std::string kind = text.substr(0, slash);
  const std::string name = slash == std::string::npos ? "" : text.substr(slash + 1);
  for (const auto& [singular, plural] :
       {std::pair{"deployment", "deployments"}, std::pair{"statefulset", "statefulsets"},
        std::pair{"daemonset", "daemonsets"}}) {
    if (kind == singular && !name.empty() && !name.contains('/')) {
      return Workload{plural, name, text};
    }
  }
  return fail(ErrorKind::Usage,
              "workload \"{}\": write deployment/NAME, statefulset/NAME or daemonset/NAME (in "
              "the Secret's namespace)",
              text);
}

std::string RestartNotifier::name() const {
  std::string list;
  for (const auto& w : workloads_) list += (list.empty() ? "" : ", ") + w.spelling;
  return "kubernetes-restart " + list;
}

Result<void> RestartNotifier::notify(const SwapEvent& event) {
  const nlohmann::json patch{
      {"spec",
       {{"template",
         {{"metadata", {{"annotations", {{"certswap/restarted-for", event.fingerprint}}}}}}}}}};
  for (const auto& w : workloads_) {
    auto patched =
        api_->patch(fmt::format("/apis/apps/v1/namespaces/{}/{}/{}", ns_, w.resource, w.name),
                    patch, fmt::format("{} in namespace {}", w.spelling, ns_));
    if (!patched) {
      return fail(ErrorKind::Notify, "kubernetes-restart: {}", patched.error().message);
    }
  }
  return {};
}

}  // namespace certswap::plugins
