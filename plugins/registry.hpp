#pragma once
// The one place that knows plugins by name.
#include <memory>

#include "certswap/aiven_client.hpp"
#include "certswap/config.hpp"
#include "certswap/format.hpp"
#include "certswap/leadership.hpp"
#include "certswap/notifier.hpp"
#include "certswap/output.hpp"
#include "certswap/source.hpp"

namespace certswap::plugins {

Result<std::unique_ptr<Source>> make_source(const TargetConfig& target, AivenClient& api);
Result<std::unique_ptr<Format>> make_format(const TargetConfig& target);
Result<std::vector<std::unique_ptr<Notifier>>> make_notifiers(const TargetConfig& target);
// Where the apps read the set: the output directory, or a Kubernetes Secret
// (whose credentials are resolved now, so a bad kubeconfig fails at start).
Result<OutputOpener> make_output(const TargetConfig& target, std::vector<std::string> names);
// The Lease that elects the one writing replica ("NAMESPACE/NAME").
Result<std::shared_ptr<Leadership>> make_leadership(const std::string& lease,
                                                    const std::filesystem::path& kubeconfig,
                                                    const std::string& identity,
                                                    std::chrono::seconds duration);
// What the sidecar watches besides the output directory: the Secret (none
// for a directory).
Result<OutputWatcher> make_output_watcher(const TargetConfig& target);

}  // namespace certswap::plugins
