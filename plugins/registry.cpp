#include "registry.hpp"

#include <filesystem>

#include "formats/pem/pem_format.hpp"
#include "formats/pkcs12/pkcs12_format.hpp"
#include "notifiers/exec/exec_notifier.hpp"
#include "notifiers/http/http_notifier.hpp"
#include "notifiers/signal/signal_notifier.hpp"
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
    } else {
      return fail(ErrorKind::Usage,
                  "target {}: unknown notifier \"{}\" (known: signal, exec, http)", target.name,
                  n.type);
    }
  }
  return notifiers;
}

}  // namespace certswap::plugins
