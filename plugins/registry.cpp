#include "registry.hpp"

#include <filesystem>

#include "certswap/directory_output.hpp"
#include "formats/pem/pem_format.hpp"
#include "formats/pkcs12/pkcs12_format.hpp"
#include "notifiers/exec/exec_notifier.hpp"
#include "notifiers/http/http_notifier.hpp"
#include "notifiers/kubernetes_restart/restart_notifier.hpp"
#include "notifiers/signal/signal_notifier.hpp"
#include "outputs/kubernetes_secret/lease_election.hpp"
#include "outputs/kubernetes_secret/secret_output.hpp"
#include "outputs/kubernetes_secret/secret_watch.hpp"
#include "sources/aiven/aiven_source.hpp"
#include "sources/inbox/inbox_source.hpp"

namespace certswap::plugins {

Result<std::unique_ptr<Source>> make_source(const TargetConfig& target, AivenClient& api) {
  if (target.source == "aiven") return std::make_unique<AivenSource>(api, target);
  if (target.source == "inbox") {
    const bool names_user =
        !target.project.empty() && !target.service.empty() && !target.user.empty();
    return std::make_unique<InboxSource>(target.inbox_dir, names_user ? &api : nullptr, target);
  }
  return fail(ErrorKind::Usage, "target {}: unknown source \"{}\" (known: aiven, inbox)",
              target.name, target.source);
}

Result<std::unique_ptr<Format>> make_format(const TargetConfig& target) {
  if (target.format == "pem") return std::make_unique<PemFormat>();
  if (target.format == "pkcs12") {
    // A directory avn laid out for Java (user-kafka-java-creds) has apps that
    // read client.truststore.jks: keep publishing that name, or they would
    // miss the next project CA. Once published it is a link, so this stays on.
    std::error_code ec;
    const bool avn_layout =
        std::filesystem::symlink_status(target.output_dir / Pkcs12Format::kAvnTruststore, ec)
            .type() != std::filesystem::file_type::not_found;
    return std::make_unique<Pkcs12Format>(target.pkcs12_password_file, target.pkcs12_legacy,
                                          target.pkcs12_jks_truststore || avn_layout);
  }
  return fail(ErrorKind::Usage, "target {}: unknown format \"{}\" (known: pem, pkcs12)",
              target.name, target.format);
}

Result<std::vector<std::unique_ptr<Notifier>>> make_notifiers(const TargetConfig& target) {
  std::vector<std::unique_ptr<Notifier>> notifiers;
  for (const auto& n : target.notifiers) {
    if (n.type == "signal") {
      if (n.pid <= 0 && n.pid_file.empty()) {
        return fail(ErrorKind::Usage, "target {}: the signal notifier needs a pid or a pid_file",
                    target.name);
      }
      auto signal = parse_signal(n.signal);
      if (!signal) return std::unexpected(signal.error());
      notifiers.push_back(std::make_unique<SignalNotifier>(n.pid, n.pid_file, *signal, n.signal));
    } else if (n.type == "exec") {
      if (n.command.empty())
        return fail(ErrorKind::Usage, "target {}: the exec notifier needs a command", target.name);
      notifiers.push_back(std::make_unique<ExecNotifier>(n.command, n.timeout, n.env_pass));
    } else if (n.type == "http") {
      if (n.url.empty())
        return fail(ErrorKind::Usage, "target {}: the http notifier needs a url", target.name);
      notifiers.push_back(std::make_unique<HttpNotifier>(n.url, n.timeout));
    } else if (n.type == "kubernetes-restart") {
      if (target.kubernetes_secret.empty() || n.workloads.empty()) {
        return fail(ErrorKind::Usage,
                    "target {}: the kubernetes-restart notifier needs a Kubernetes Secret output "
                    "(its namespace holds the workloads) and \"workloads\"",
                    target.name);
      }
      std::vector<Workload> workloads;
      for (const auto& text : n.workloads) {
        auto w = parse_workload(text);
        if (!w) return std::unexpected(w.error());
        workloads.push_back(*w);
      }
      auto ref = parse_secret_ref(target.kubernetes_secret);
      if (!ref) return std::unexpected(ref.error());
      auto connection = resolve_kube_connection(target.kubeconfig);
      if (!connection) return std::unexpected(connection.error());
      notifiers.push_back(std::make_unique<RestartNotifier>(
          std::make_shared<KubeApi>(std::move(*connection), n.timeout), ref->first,
          std::move(workloads)));
    } else {
      return fail(ErrorKind::Usage,
                  "target {}: unknown notifier \"{}\" (known: signal, exec, http, "
                  "kubernetes-restart)",
                  target.name, n.type);
    }
  }
  return notifiers;
}

Result<OutputOpener> make_output(const TargetConfig& target, std::vector<std::string> names) {
  if (target.kubernetes_secret.empty()) {
    return OutputOpener([target, names](OutputAccess access) {
      return open_directory_output(target, names, access);
    });
  }
  auto ref = parse_secret_ref(target.kubernetes_secret);
  if (!ref) return std::unexpected(ref.error());
  auto connection = resolve_kube_connection(target.kubeconfig);
  if (!connection) {
    Error e = connection.error();
    e.message = fmt::format("target {}: {}", target.name, e.message);
    return std::unexpected(std::move(e));
  }
  // One client for the target's whole life: its connections are kept alive.
  auto api = std::make_shared<KubeApi>(std::move(*connection), target.live_timeout);
  SecretOutputOptions options{target.kubernetes_take_over, target.kubernetes_operator_keys};
  return OutputOpener([api, ref = *ref, names, options](OutputAccess) {
    return Result<std::unique_ptr<Output>>(
        std::make_unique<SecretOutput>(api, ref.first, ref.second, names, options));
  });
}

Result<std::shared_ptr<Leadership>> make_leadership(const std::string& lease,
                                                    const std::filesystem::path& kubeconfig,
                                                    const std::string& identity,
                                                    std::chrono::seconds duration) {
  auto ref = parse_secret_ref(lease);  // the same NAMESPACE/NAME rules
  if (!ref) {
    return fail(ErrorKind::Usage, "--leader-lease: {}", ref.error().message);
  }
  if (duration < std::chrono::seconds(3)) {
    return fail(ErrorKind::Usage, "--leader-lease-duration: at least 3s");
  }
  auto connection = resolve_kube_connection(kubeconfig);
  if (!connection) return std::unexpected(connection.error());
  // client-go's proportions: renew deadline 2/3 of the duration, a retry
  // every 2/15 of it.
  LeaseTiming timing{duration, duration * 2 / 3,
                     std::max(std::chrono::seconds(1), duration * 2 / 15)};
  return std::shared_ptr<Leadership>(std::make_shared<LeaseElection>(
      std::move(*connection), ref->first, ref->second, identity, timing));
}

Result<OutputWatcher> make_output_watcher(const TargetConfig& target) {
  if (target.kubernetes_secret.empty()) return OutputWatcher();
  auto ref = parse_secret_ref(target.kubernetes_secret);
  if (!ref) return std::unexpected(ref.error());
  auto connection = resolve_kube_connection(target.kubeconfig);
  if (!connection) return std::unexpected(connection.error());
  return OutputWatcher([connection = *connection, ref = *ref](std::function<void()> changed) {
    return std::unique_ptr<OutputWatch>(
        std::make_unique<SecretWatch>(connection, ref.first, ref.second, std::move(changed)));
  });
}

}  // namespace certswap::plugins
