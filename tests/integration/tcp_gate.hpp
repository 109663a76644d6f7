#pragma once
// A TCP port in front of the real broker that a test can open and shut, to
// play a broker fault without touching the broker the other tests share.
// Shut, it accepts connections and never answers (a hung broker: the TLS
// handshake waits until the client gives up); open, it relays bytes both ways.
// It can also play what a load balancer without a backend does: close every
// connection at once (EOF in the handshake), or answer in plain text.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace certswap_test {

class TcpGate {
 public:
  // `target` is "host:port" with a numeric IPv4 host or "localhost".
  explicit TcpGate(const std::string& target) {
    const auto colon = target.rfind(':');
    std::string host = target.substr(0, colon);
    if (host == "localhost") host = "127.0.0.1";
    target_.sin_family = AF_INET;
    target_.sin_port = htons(static_cast<uint16_t>(std::stoi(target.substr(colon + 1))));
    if (inet_pton(AF_INET, host.c_str(), &target_.sin_addr) != 1)
      throw std::runtime_error("TcpGate: not an IPv4 address: " + host);

    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(listener_, 64) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("TcpGate: cannot listen on 127.0.0.1");
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  TcpGate(const TcpGate&) = delete;
  TcpGate& operator=(const TcpGate&) = delete;

  ~TcpGate() {
    stopping_ = true;
    acceptor_.join();
    std::lock_guard lock(mutex_);
    for (auto& t : relays_) t.join();
    for (int fd : held_) close(fd);
    close(listener_);
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  enum class Mode { Hold, Relay, Close, PlainText };
  void set_open(bool open) { mode_ = open ? Mode::Relay : Mode::Hold; }
  void set_mode(Mode mode) { mode_ = mode; }
  int connections() const { return connections_; }

 private:
  void accept_loop() {
    while (!stopping_) {
      pollfd p{listener_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      const int client = accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      ++connections_;
      std::lock_guard lock(mutex_);
      switch (mode_.load()) {
        case Mode::Hold:
          held_.push_back(client);  // closed when the gate goes away
          break;
        case Mode::Close:
          close(client);
          break;
        case Mode::PlainText: {
          static constexpr char kReply[] = "HTTP/1.1 503 Service Unavailable\r\n\r\nno backend\n";
          write_all(client, kReply, sizeof kReply - 1);
          close(client);
          break;
        }
        case Mode::Relay:
          relays_.emplace_back([this, client] { relay(client); });
          break;
      }
    }
  }

  void relay(int client) {
    const int upstream = socket(AF_INET, SOCK_STREAM, 0);
    if (upstream < 0 ||
        connect(upstream, reinterpret_cast<const sockaddr*>(&target_), sizeof target_) != 0) {
      close(client);
      if (upstream >= 0) close(upstream);
      return;
    }
    const int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    char buffer[16384];
    while (!stopping_) {
      if (poll(fds, 2, 100) <= 0) continue;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        done = n <= 0 || !write_all(fds[1 - i].fd, buffer, static_cast<size_t>(n));
      }
      if (done) break;
    }
    close(client);
    close(upstream);
  }

  static bool write_all(int fd, const char* data, size_t size) {
    while (size > 0) {
      const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);  // no SIGPIPE in the test
      if (n <= 0) return false;
      data += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  sockaddr_in target_{};
  int listener_ = -1;
  int port_ = 0;
  std::atomic<Mode> mode_{Mode::Hold};
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  std::vector<std::thread> relays_;
  std::vector<int> held_;
  std::thread acceptor_;
};

}  // namespace certswap_test
