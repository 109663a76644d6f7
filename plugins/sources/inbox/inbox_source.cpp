#include "sources/inbox/inbox_source.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "certswap/cert_info.hpp"
#include "certswap/durable_file.hpp"
#include "certswap/unique_fd.hpp"

namespace certswap::plugins {
namespace {
constexpr const char* kNames[] = {"ca.pem", "service.cert", "service.key"};

bool same_file(const struct stat& st, dev_t dev, ino_t ino, const timespec& mtime, off_t size) {
  return st.st_dev == dev && st.st_ino == ino && st.st_mtim.tv_sec == mtime.tv_sec &&
         st.st_mtim.tv_nsec == mtime.tv_nsec && st.st_size == size;
}
}  // namespace

InboxSource::InboxSource(std::filesystem::path inbox, AivenClient* api, const TargetConfig& target)
    : inbox_(std::move(inbox)),
      api_(api),
      project_(target.project),
      service_(target.service),
      user_(target.user),
      bootstrap_(target.bootstrap),
      route_(target.kafka_route),
      privatelink_id_(target.privatelink_connection_id) {}

// Anyone who can write the inbox can put a FIFO or a symlink there: opened
// without blocking and without following, and refused unless a regular file.
Result<std::string> InboxSource::take(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    return fail(ErrorKind::Io, "inbox: cannot open {}: {}{}", path.string(), std::strerror(errno),
                errno == ELOOP ? " (a symlink; drop the file itself)" : "");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return fail(ErrorKind::Io, "inbox: fstat({}) failed: {}", path.string(), std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    return fail(ErrorKind::Io,
                "inbox: {} is not a regular file (a FIFO, socket or device?); not reading it: "
                "replace it with the PEM file itself",
                path.string());
  }
  auto text = read_all(fd.get(), path);
  if (!text) return fail(ErrorKind::Io, "inbox: {}", text.error().message);
  taken_.push_back({path, st.st_dev, st.st_ino, st.st_mtim, st.st_size});
  return text;
}

Result<Fetched> InboxSource::fetch() {
  taken_.clear();
  int present = 0;
  for (const char* name : kNames) {
    std::error_code ec;
    present += std::filesystem::symlink_status(inbox_ / name, ec).type() !=
                       std::filesystem::file_type::not_found
                   ? 1
                   : 0;
  }
  if (present == 0) {
    Fetched nothing;
    nothing.empty = true;
    return nothing;
  }
  if (present < 3) {
    // A drop in progress (or an incomplete one): wait for the whole set.
    return fail(ErrorKind::Invalid,
                "inbox {}: incomplete set (need ca.pem, service.cert and service.key)",
                inbox_.string());
  }
  Fetched fetched;
  for (auto [name, field] : {std::pair<const char*, std::string*>{"ca.pem", &fetched.set.ca_pem},
                             {"service.cert", &fetched.set.cert_pem},
                             {"service.key", &fetched.set.key_pem}}) {
    auto text = take(inbox_ / name);
    if (!text) {
      taken_.clear();
      return std::unexpected(text.error());
    }
    *field = std::move(*text);
  }
  fetched.set.origin = "inbox " + inbox_.string();
  if (api_) {
    auto user = api_->get_user(project_, service_, user_);
    if (!user) return std::unexpected(user.error());
    auto upstream = inspect_certificate_pem(user->access_cert, "access_cert");
    auto dropped = inspect_certificate_pem(fetched.set.cert_pem, "inbox service.cert");
    fetched.renewal_pending = user->renewal_pending() && upstream && dropped &&
                              upstream->sha256_fingerprint == dropped->sha256_fingerprint;
  }
  return fetched;
}

Result<Fetched> InboxSource::reset_credentials() {
  return fail(ErrorKind::Usage, "the inbox source cannot reset credentials; use the aiven source");
}

Result<std::string> InboxSource::bootstrap() {
  if (!bootstrap_.empty()) return bootstrap_;
  if (api_) {
    auto address = api_->get_service_address(project_, service_, route_, privatelink_id_);
    if (!address) return std::unexpected(address.error());
    bootstrap_ = address->bootstrap;
    return bootstrap_;
  }
  return fail(ErrorKind::Usage,
              "the inbox source needs --bootstrap (or an Aiven project/service to ask)");
}

Result<void> InboxSource::acknowledge() {
  if (!api_)
    return fail(ErrorKind::Usage, "the inbox target names no Aiven user to acknowledge for");
  return api_->acknowledge_renewal(project_, service_, user_);
}

Result<void> InboxSource::consumed() {
  for (const auto& t : taken_) {
    struct stat st {};
    if (::lstat(t.path.c_str(), &st) != 0) continue;  // already gone
    if (!same_file(st, t.dev, t.ino, t.mtime, t.size)) {
      spdlog::info("inbox: {} was replaced after it was read; keeping it for the next check",
                   t.path.string());
      continue;
    }
    if (::unlink(t.path.c_str()) != 0 && errno != ENOENT) {
      return fail(ErrorKind::Io, "inbox: cannot remove {}: {}", t.path.string(),
                  std::strerror(errno));
    }
  }
  taken_.clear();
  return {};
}

}  // namespace certswap::plugins
