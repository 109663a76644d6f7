#pragma once
// Whether a directory is one certswap writes (atomic_store.cpp's layout:
// `..data` a symlink to a "..<timestamp>" generation beside it, holding the
// files), the only kind the reload helpers serve from.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace certswap::cli {

// The files a helper reads from the live generation.
inline const std::vector<std::string> kPreloadFiles{"service.cert", "service.key", "ca.pem"};
inline const std::vector<std::string> kJavaAgentFiles{"client.keystore.p12"};

// Why `dir` is not a certswap output directory holding `files` in its live
// generation, in words for the user; nullopt when it is one.
std::optional<std::string> why_not_managed(const std::filesystem::path& dir,
                                           const std::vector<std::string>& files);

}  // namespace certswap::cli
