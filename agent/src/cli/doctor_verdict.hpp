#pragma once
// doctor's answer from an inspect_process() report: which path covers the
// process (the preload library on a shared OpenSSL 3, the Java agent) or
// exactly why none does, with what to do.
#include <nlohmann/json.hpp>
#include <string>

namespace certswap::cli {

inline constexpr int kDoctorWorks = 0, kDoctorWillNotWork = 1, kDoctorUnknown = 2;

struct Verdict {
  int code;
  std::string text;
};

Verdict verdict(const nlohmann::json& report);

}  // namespace certswap::cli
