#pragma once
// The service manager's readiness and watchdog protocol (sd_notify(3)), spoken
// without libsystemd: systemd documents the protocol as stable and meant to be
// implemented independently, and libsystemd with libgcrypt, libgpg-error,
// liblzma and libcap, which only it needed, was 2.5 MB of the container image
// for three calls (issue 15).
// Only what a Type=notify service with WatchdogSec= needs; vsock addresses
// (services in a VM notifying their host) are not supported.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string_view>

namespace certswap {

enum class NotifyResult {
  sent,
  no_manager,  // no socket named: not started by a service manager, nothing to do
  failed,      // a malformed address, or the datagram could not be sent
};

// Sends `state`, newline-separated assignments such as "READY=1", as one
// datagram to `notify_socket`: an absolute path, or "@name" for a name in the
// abstract socket namespace. Null or empty: no_manager.
NotifyResult notify_service_manager_at(const char* notify_socket, std::string_view state);
// The same to $NOTIFY_SOCKET, which is left set: threads read it concurrently.
NotifyResult notify_service_manager(std::string_view state);

// How often the service manager wants WATCHDOG=1, from the values of
// $WATCHDOG_USEC and $WATCHDOG_PID: nothing when the watchdog is off (unset,
// malformed or zero) or when it watches another process, `self` being this one's
// pid (a child that inherited the environment must not ping for its parent).
std::optional<std::chrono::microseconds> watchdog_interval(const char* usec, const char* pid,
                                                           pid_t self);
// The same from this process's environment.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace certswap
