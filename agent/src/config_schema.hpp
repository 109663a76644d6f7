#pragma once
// The shape of the --config file: every key the parser reads, at its level,
// with its JSON type. Anything else is refused, because a key the parser
// skips is a setting the user believes in and the agent ignores (a misspelt
// "notify" meant no app was told of a new certificate).
#include <nlohmann/json.hpp>

#include "certswap/error.hpp"

namespace certswap {

// Errors name the key's path in the file, e.g. targets[0].notify[1].pid_file,
// and the closest known key when the name looks like a typo.
Result<void> check_config_schema(const nlohmann::json& root);

}  // namespace certswap
