#include "sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "certswap/unique_fd.hpp"

namespace certswap {

namespace {

// The whole of `text` as a decimal number, or nothing: no sign, no spaces, no
// trailing garbage, no overflow.
template <typename T>
std::optional<T> parse_decimal(const char* text) {
  if (text == nullptr) return std::nullopt;
  const std::string_view s(text);
  T value{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

}  // namespace

NotifyResult notify_service_manager_at(const char* notify_socket, std::string_view state) {
  if (notify_socket == nullptr || *notify_socket == '\0') return NotifyResult::no_manager;
  const std::string_view name(notify_socket);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (name.front() != '/' && name.front() != '@') return NotifyResult::failed;
  // A path keeps room for its terminating NUL; an abstract name has none, its
  // leading NUL (the '@') counts in the address length instead.
  const bool abstract = name.front() == '@';
  if (name.size() > sizeof addr.sun_path - (abstract ? 0 : 1)) return NotifyResult::failed;
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (abstract) addr.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());

  const UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return NotifyResult::failed;
  ssize_t sent;
  do {
    // MSG_NOSIGNAL: a manager that went away must not kill the agent with SIGPIPE.
    sent = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&addr), length);
  } while (sent < 0 && errno == EINTR);
  return sent == static_cast<ssize_t>(state.size()) ? NotifyResult::sent : NotifyResult::failed;
}

NotifyResult notify_service_manager(std::string_view state) {
  return notify_service_manager_at(std::getenv("NOTIFY_SOCKET"), state);
}

std::optional<std::chrono::microseconds> watchdog_interval(const char* usec, const char* pid,
                                                           pid_t self) {
  const auto every = parse_decimal<std::uint64_t>(usec);
  if (!every || *every == 0) return std::nullopt;
  if (pid != nullptr) {
    const auto watched = parse_decimal<pid_t>(pid);
    if (!watched || *watched <= 0 || *watched != self) return std::nullopt;
  }
  using Rep = std::chrono::microseconds::rep;
  if (*every > static_cast<std::uint64_t>(std::chrono::microseconds::max().count()))
    return std::nullopt;
  return std::chrono::microseconds(static_cast<Rep>(*every));
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  return watchdog_interval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
}

}  // namespace certswap
