#include "sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "temp_dir.hpp"

using namespace certswap;
using namespace std::chrono_literals;

namespace {

// The service manager's end: a datagram socket bound to a path or, for a name
// starting with '@', to that name in the abstract namespace.
struct Manager {
  int fd = -1;
  explicit Manager(const std::string& name) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name.front() == '@') addr.sun_path[0] = '\0';
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), length) != 0)
      throw std::runtime_error("cannot bind " + name);
  }
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;
  ~Manager() { ::close(fd); }

  // A local datagram is queued by the time sendto() returns, so there is
  // nothing to wait for: empty means nothing was sent.
  std::optional<std::string> received() const {
    char buffer[512];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
  }
};

// Sets an environment variable for one scope, restoring what was there.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string n, const char* value) : name(std::move(n)) {
    if (const char* was = std::getenv(name.c_str())) old = was;
    if (value)
      ::setenv(name.c_str(), value, 1);
    else
      ::unsetenv(name.c_str());
  }
  ~ScopedEnv() {
    if (old)
      ::setenv(name.c_str(), old->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
};

}  // namespace

TEST_CASE("a state goes as one datagram to the socket path in $NOTIFY_SOCKET", "[sd_notify]") {
  certswap_test::TempDir dir("certswap-sd-notify", true);
  const auto path = (dir.path / "notify").string();
  Manager manager(path);
  ScopedEnv socket("NOTIFY_SOCKET", path.c_str());
  CHECK(notify_service_manager("READY=1") == NotifyResult::sent);
  CHECK(manager.received() == "READY=1");
  CHECK(notify_service_manager("STATUS=all targets ready") == NotifyResult::sent);
  CHECK(manager.received() == "STATUS=all targets ready");
  CHECK_FALSE(manager.received());
}

TEST_CASE("an '@' in $NOTIFY_SOCKET names the abstract namespace", "[sd_notify]") {
  const auto name = "@certswap-unit-notify-" + std::to_string(::getpid());
  Manager manager(name);
  CHECK(notify_service_manager_at(name.c_str(), "WATCHDOG=1") == NotifyResult::sent);
  CHECK(manager.received() == "WATCHDOG=1");
  // The same name as a path is another socket, which nobody listens on.
  const auto as_path = "/" + name.substr(1);
  CHECK(notify_service_manager_at(as_path.c_str(), "WATCHDOG=1") == NotifyResult::failed);
  CHECK_FALSE(manager.received());
}

TEST_CASE("without $NOTIFY_SOCKET nothing is sent and that is no error, and a bad address fails",
          "[sd_notify]") {
  ScopedEnv socket("NOTIFY_SOCKET", nullptr);
  CHECK(notify_service_manager("READY=1") == NotifyResult::no_manager);
  CHECK(notify_service_manager_at("", "READY=1") == NotifyResult::no_manager);
  CHECK(notify_service_manager_at("relative/notify", "READY=1") == NotifyResult::failed);
  CHECK(notify_service_manager_at("vsock:2:1234", "READY=1") == NotifyResult::failed);
  const std::string too_long = "/" + std::string(sizeof(sockaddr_un::sun_path), 'x');
  CHECK(notify_service_manager_at(too_long.c_str(), "READY=1") == NotifyResult::failed);
}

TEST_CASE("the watchdog interval comes from WATCHDOG_USEC when WATCHDOG_PID is unset or ours",
          "[sd_notify]") {
  const pid_t self = 4242;
  CHECK(watchdog_interval("1000000", nullptr, self) == 1s);
  CHECK(watchdog_interval("1500", "4242", self) == 1500us);
  // Inherited by a child of the watched process: not ours to ping.
  CHECK_FALSE(watchdog_interval("1000000", "4243", self));
  // Off, or malformed: no watchdog rather than a guess.
  CHECK_FALSE(watchdog_interval(nullptr, nullptr, self));
  CHECK_FALSE(watchdog_interval("0", nullptr, self));
  CHECK_FALSE(watchdog_interval("", nullptr, self));
  CHECK_FALSE(watchdog_interval("-1", nullptr, self));
  CHECK_FALSE(watchdog_interval("+5", nullptr, self));
  CHECK_FALSE(watchdog_interval("10s", nullptr, self));
  CHECK_FALSE(watchdog_interval("99999999999999999999999", nullptr, self));
  CHECK_FALSE(watchdog_interval("1000000", "", self));
  CHECK_FALSE(watchdog_interval("1000000", "0", self));
  CHECK_FALSE(watchdog_interval("1000000", "42x", self));
}

TEST_CASE("the watchdog interval is read from this process's environment", "[sd_notify]") {
  const auto self = std::to_string(::getpid());
  ScopedEnv usec("WATCHDOG_USEC", "2000000");
  {
    ScopedEnv pid("WATCHDOG_PID", self.c_str());
    CHECK(watchdog_interval() == 2s);
  }
  {
    ScopedEnv pid("WATCHDOG_PID", nullptr);
    CHECK(watchdog_interval() == 2s);
  }
  {
    const auto parent = std::to_string(::getppid());
    ScopedEnv pid("WATCHDOG_PID", parent.c_str());
    CHECK_FALSE(watchdog_interval());
  }
}
