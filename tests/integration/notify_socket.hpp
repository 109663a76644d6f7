#pragma once
// The socket systemd gives a Type=notify service in $NOTIFY_SOCKET, played by
// the test: it records each datagram the service sends, line by line.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace certswap_test {

struct NotifySocket {
  struct Message {
    std::string text;  // one assignment, e.g. "READY=1"
    std::chrono::steady_clock::time_point at;
  };

  std::filesystem::path path;
  int fd = -1;

  explicit NotifySocket(std::filesystem::path where) : path(std::move(where)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.string().size() >= sizeof addr.sun_path)
      throw std::runtime_error("NotifySocket: path too long: " + path.string());
    std::strcpy(addr.sun_path, path.c_str());
    std::filesystem::remove(path);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("NotifySocket: cannot bind " + path.string());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  ~NotifySocket() {
    close(fd);
    std::filesystem::remove(path);
  }

  std::vector<Message> receive_for(std::chrono::milliseconds span) const {
    std::vector<Message> messages;
    const auto deadline = std::chrono::steady_clock::now() + span;
    for (auto now = std::chrono::steady_clock::now(); now < deadline;
         now = std::chrono::steady_clock::now()) {
      pollfd p{fd, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      if (poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
      char buffer[4096];
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) continue;
      const auto at = std::chrono::steady_clock::now();
      std::istringstream lines(std::string(buffer, static_cast<size_t>(n)));
      for (std::string line; std::getline(lines, line);)
        if (!line.empty()) messages.push_back({line, at});
    }
    return messages;
  }
};

}  // namespace certswap_test
