#include "certswap/log_setup.hpp"

#include <fmt/chrono.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "certswap/exit_codes.hpp"

namespace certswap {
namespace {

struct Settings {
  LogFormat format = LogFormat::Text;
  LogLevel level = LogLevel::Info;
  bool journald = false;
};
Settings settings;
std::mutex write_mutex;  // one record at a time, whole, from any thread

std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", std::chrono::floor<std::chrono::seconds>(now),
                     ms);
}

std::string_view name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "info";
}

// sd-daemon(3)'s prefixes: <3> err, <4> warning, <6> info, <7> debug.
int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return 7;
    case LogLevel::Info:
      return 6;
    case LogLevel::Warn:
      return 4;
    case LogLevel::Error:
      return 3;
  }
  return 6;
}

// systemd sets JOURNAL_STREAM to the device and inode of the stream it
// connected; only when that is still our stderr are the prefixes understood.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (!stream || fstat(2, &st) != 0) return false;
  return fmt::format("{}:{}", st.st_dev, st.st_ino) == stream;
}

std::optional<ErrorKind> kind_named(std::string_view status) {
  for (auto kind : {ErrorKind::Usage, ErrorKind::Api, ErrorKind::Invalid, ErrorKind::Rejected,
                    ErrorKind::Inconclusive, ErrorKind::Io, ErrorKind::Notify, ErrorKind::Locked,
                    ErrorKind::Internal}) {
    if (to_string(kind) == status) return kind;
  }
  return std::nullopt;
}

struct Record {
  LogLevel level = LogLevel::Info;
  std::string_view event, target, msg;
  // A step's fields.
  bool is_step = false;
  std::string_view status;
  std::chrono::microseconds took{0};
  // A failure's.
  std::optional<std::string_view> error;
  int exit_code = 0;
};

void write(const Record& r) {
  if (r.level < settings.level) return;
  std::string line;
  if (settings.format == LogFormat::Json) {
    nlohmann::json j{{"time", rfc3339_now()},
                     {"level", name(r.level)},
                     {"event", r.event},
                     {"target", r.target},
                     {"msg", r.msg}};
    if (r.is_step) {
      j["step"] = r.event;
      j["status"] = r.status;
      j["ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(r.took).count();
      j["us"] = r.took.count();
      j["detail"] = r.msg;
    }
    if (r.error) {
      j["error"] = *r.error;
      j["exit_code"] = r.exit_code;
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else if (r.is_step) {
    line =
        fmt::format("{} {:<5} {:<28} {:<16} {:<12} {:>6} ms  {}", rfc3339_now(), name(r.level),
                    r.target, r.event, r.status,
                    std::chrono::duration_cast<std::chrono::milliseconds>(r.took).count(), r.msg);
  } else {
    line = fmt::format("{} {:<5} {}", rfc3339_now(), name(r.level), r.msg);
  }
  if (r.error && settings.format == LogFormat::Text && !r.is_step) {
    line += fmt::format(" [{} error, exit {}]", *r.error, r.exit_code);
  }
  if (settings.journald) line = fmt::format("<{}>{}", syslog_priority(r.level), line);
  line += '\n';
  std::lock_guard lock(write_mutex);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

LogLevel from_spdlog(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return LogLevel::Debug;
    case spdlog::level::info:
      return LogLevel::Info;
    case spdlog::level::warn:
      return LogLevel::Warn;
    default:
      return LogLevel::Error;
  }
}

// spdlog's lines become records of the same schema.
class RecordSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    Record r;
    r.level = from_spdlog(msg.level);
    r.event = "log";
    r.msg = std::string_view(msg.payload.data(), msg.payload.size());
    write(r);
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

Result<LogLevel> parse_log_level(std::string_view text) {
  for (auto level : {LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error}) {
    if (name(level) == text) return level;
  }
  return fail(ErrorKind::Usage, "--log-level \"{}\": use error, warn, info or debug", text);
}

void setup_logging(LogFormat format, LogLevel level) {
  settings = {format, level, stderr_is_journal()};
  auto logger = std::make_shared<spdlog::logger>("certswap", std::make_shared<RecordSink>());
  logger->set_level(spdlog::level::trace);  // write() filters, for steps and lines alike
  spdlog::set_default_logger(logger);
}

void log_failure(const Error& error, int exit_code) {
  Record r;
  r.level = LogLevel::Error;
  r.event = "log";
  r.msg = error.message;
  r.error = to_string(error.kind);
  r.exit_code = exit_code;
  write(r);
}

void PrintingReporter::step(std::string_view target, std::string_view step, std::string_view status,
                            std::chrono::microseconds took, std::string_view detail) {
  Record r;
  r.is_step = true;
  r.event = step;
  r.target = target;
  r.status = status;
  r.took = took;
  r.msg = detail;
  if (status == "warning" || status == "emergency") {
    r.level = LogLevel::Warn;
  } else if (status == "failed") {
    r.level = LogLevel::Error;
  } else if (auto kind = kind_named(status)) {
    r.level = LogLevel::Error;
    r.error = to_string(*kind);
    r.exit_code = exit_code_for(*kind);
  }
  write(r);
}

}  // namespace certswap
