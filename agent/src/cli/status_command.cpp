#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "certswap/cert_info.hpp"
#include "certswap/exit_codes.hpp"
#include "certswap/identity.hpp"
#include "certswap/journal.hpp"
#include "cli/cli.hpp"
#include "registry.hpp"

namespace certswap::cli {
int run_status(const Flags& flags, bool as_json, bool offline) {
  auto config = build_config(flags);
  if (!config) return report_error(config.error());
  std::unique_ptr<AivenClient> api;
  if (!offline) {
    auto agent = build_agent(*config);
    if (!agent) return report_error(agent.error());
    api = std::move(agent->api);
  }
  nlohmann::json all = nlohmann::json::array();
  int code = kExitOk;
  for (const auto& t : config->targets) {
    nlohmann::json s{{"target", t.name}, {"output_dir", t.output_dir.string()}};
    if (!t.kubernetes_secret.empty()) s["kubernetes_secret"] = t.kubernetes_secret;
    auto format = plugins::make_format(t);
    const auto names = format ? (*format)->file_names() : std::vector<std::string>{};
    auto opener = plugins::make_output(t, names);
    auto output = opener ? (*opener)(OutputAccess::Read) : std::unexpected(opener.error());
    std::optional<CertInfo> live;
    if (!output) s["error"] = output.error().message;
    if (output) {
      s["generation"] = (*output)->current_generation().value_or("");
      auto files = (*output)->read_live(names);
      if (!files) s["error"] = files.error().message;
      if (files && files->contains("service.cert")) {
        auto info = inspect_certificate_pem(files->at("service.cert"),
                                            (*output)->describe() + "/service.cert");
        if (info) live = *info;
      }
    }
    if (live) {
      const auto days =
          std::chrono::duration_cast<std::chrono::hours>(live->not_after - Clock::now()).count() /
          24.0;
      s["live"] = {{"subject", live->subject},
                   {"issuer", live->issuer},
                   {"serial", live->serial_hex},
                   {"not_after", format_time(live->not_after)},
                   {"days_left", std::floor(days * 10) / 10},
                   {"sha256", live->sha256_fingerprint}};
      // Another user's set is no live set of this target, however valid.
      if (auto other = identity_mismatch(*live, t.user)) {
        s["live"]["not_this_target"] = *other;
        code = kExitInvalid;
      }
    } else {
      s["live"] = nullptr;
      code = kExitInvalid;
    }
    if (auto journal = Journal::read(t.state_dir); journal && *journal) {
      const auto& st = **journal;
      s["journal"] = {{"last_result", st.last_result},   {"last_error", st.last_error},
                      {"last_check", st.last_check},     {"last_rotation", st.last_rotation},
                      {"staged", st.staged_fingerprint}, {"next_check", st.next_check},
                      {"acknowledged", st.acknowledged}};
    }
    if (api) {
      auto user = api->get_user(t.project, t.service, t.user);
      if (user) {
        auto upstream = inspect_certificate_pem(user->access_cert, "access_cert");
        s["upstream"] = {{"sha256", upstream ? upstream->sha256_fingerprint : ""},
                         {"renewal_pending", user->renewal_pending()},
                         {"newer_than_live", upstream && (!live || upstream->sha256_fingerprint !=
                                                                       live->sha256_fingerprint)}};
      } else {
        s["upstream"] = {{"error", user.error().message}};
      }
    }
    all.push_back(s);
  }
  if (as_json) {
    std::puts(all.dump(2).c_str());
    return code;
  }
  for (const auto& s : all) {
    const auto where = s.contains("kubernetes_secret")
                           ? "Secret " + s["kubernetes_secret"].get<std::string>()
                           : s["output_dir"].get<std::string>();
    std::fputs(
        fmt::format("target      {}\noutput      {}\n", s["target"].get<std::string>(), where)
            .c_str(),
        stdout);
    if (s["live"].is_null()) {
      std::fputs(fmt::format("live        none or unreadable{}\n",
                             s.contains("error") ? ": " + s["error"].get<std::string>() : "")
                     .c_str(),
                 stdout);
    } else {
      const auto& l = s["live"];
      std::fputs(fmt::format("live        {} (serial {})\nnot after   {} ({} days left)\nsha256    "
                             "  {}\ngeneration  {}\n",
                             l["subject"].get<std::string>(), l["serial"].get<std::string>(),
                             l["not_after"].get<std::string>(), l["days_left"].dump(),
                             l["sha256"].get<std::string>(), s.value("generation", ""))
                     .c_str(),
                 stdout);
      if (l.contains("not_this_target"))
        std::fputs(fmt::format("WARNING     not this target's set: {}\n",
                               l["not_this_target"].get<std::string>())
                       .c_str(),
                   stdout);
    }
    if (s.contains("upstream")) {
      const auto& u = s["upstream"];
      std::fputs(fmt::format("upstream    {}\n", u.contains("error") ? u["error"].get<std::string>()
                                                 : u["newer_than_live"].get<bool>()
                                                     ? "a newer certificate is available"
                                                 : u["renewal_pending"].get<bool>()
                                                     ? "current; renewal not yet acknowledged"
                                                     : "current")
                     .c_str(),
                 stdout);
    }
    if (s.contains("journal")) {
      const auto& j = s["journal"];
      std::fputs(fmt::format("last result {}{}\n", j["last_result"].get<std::string>(),
                             j["last_error"].get<std::string>().empty()
                                 ? ""
                                 : ": " + j["last_error"].get<std::string>())
                     .c_str(),
                 stdout);
    }
  }
  return code;
}

}  // namespace certswap::cli
