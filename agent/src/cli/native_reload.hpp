#pragma once
// Whether the clients in a process could reload their certificate by
// themselves: librdkafka once PR #5483 ships (ssl.certificate.refresh.interval.ms),
// kafka-clients once KIP-1288 does (ssl.hotreload.enable). doctor prefers that
// path where the build has it and says what to set.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

namespace certswap::cli {

inline constexpr const char* kJavaNativeReload =
    "kafka-clients reloads by itself once KIP-1288 ships (ssl.hotreload.enable=true; not in "
    "releases up to 4.4.0)";

// [{object, version, native_reload}] for each mapped object that is a
// librdkafka or has one linked in; `objects` as the process names them,
// read through `proc`/root.
nlohmann::json librdkafka_report(const std::filesystem::path& proc,
                                 const std::set<std::string>& objects);

// What to set when a librdkafka in the report has its own reload.
std::optional<std::string> native_reload_advice(const nlohmann::json& report);

}  // namespace certswap::cli
