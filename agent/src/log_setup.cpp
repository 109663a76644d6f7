#include "certswap/log_setup.hpp"

#include <fmt/chrono.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

namespace certswap {
namespace {

std::string iso_now() {
  const auto now = std::chrono::system_clock::now();
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(now));
}

// One JSON object per line, so log shippers need no parsing rules.
class JsonSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    nlohmann::json line{{"time", iso_now()},
                        {"level", spdlog::level::to_string_view(msg.level).data()},
                        {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    std::fputs((line.dump() + "\n").c_str(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

void setup_logging(LogFormat format) {
  std::shared_ptr<spdlog::logger> logger;
  if (format == LogFormat::Json) {
    logger = std::make_shared<spdlog::logger>("certswap", std::make_shared<JsonSink>());
  } else {
    logger = std::make_shared<spdlog::logger>("certswap",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  spdlog::set_default_logger(logger);
}

void PrintingReporter::step(std::string_view target, std::string_view step, std::string_view status,
                            std::chrono::microseconds took, std::string_view detail) {
  if (format_ == LogFormat::Json) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
    nlohmann::json line{{"time", iso_now()}, {"target", target}, {"step", step},
                        {"status", status},  {"ms", ms},         {"us", took.count()},
                        {"detail", detail}};
    std::fputs((line.dump() + "\n").c_str(), stdout);
  } else {
    std::fputs(
        fmt::format("{:<28} {:<16} {:<12} {:>6} ms  {}\n", target, step, status,
                    std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), detail)
            .c_str(),
        stdout);
  }
  std::fflush(stdout);
}

}  // namespace certswap
