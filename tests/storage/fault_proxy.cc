#include "fault_proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

namespace swapline::storage::testing {
namespace {

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Waits up to `ms` for `fd` to be readable; false on timeout.
bool WaitReadable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

}  // namespace

FaultProxy::FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));  // port 0: any free
  ::listen(listen_fd_, 64);
  socklen_t length = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  std::lock_guard lock(mutex_);
  for (std::thread& thread : threads_) thread.join();
}

void FaultProxy::Inject(Fault fault, int connections) {
  fault_ = fault;
  faults_left_ = connections;
}

void FaultProxy::AcceptLoop() {
  while (!stopping_) {
    if (!WaitReadable(listen_fd_, 50)) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lock(mutex_);
    threads_.emplace_back([this, client] { Serve(client); });
  }
}

void FaultProxy::Serve(int client) {
  if (faults_left_.fetch_sub(1) > 0) {
    ++faults_done_;
    Spoil(client, fault_);
  } else {
    Forward(client);
  }
  ::close(client);
}

void FaultProxy::Spoil(int client, Fault fault) {
  char buffer[65536];
  // Every fault first lets the request start arriving.
  WaitReadable(client, 2000);
  (void)::recv(client, buffer, sizeof(buffer), 0);
  switch (fault) {
    case Fault::kReset: {
      const linger hard{1, 0};  // close() sends RST
      ::setsockopt(client, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
      return;
    }
    case Fault::kSlowDown: {
      const std::string body =
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
          "<Message>Please reduce your request rate.</Message></Error>";
      const std::string response = "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                                   "Content-Length: " + std::to_string(body.size()) +
                                   "\r\nConnection: close\r\n\r\n" + body;
      (void)::send(client, response.data(), response.size(), MSG_NOSIGNAL);
      ::shutdown(client, SHUT_WR);
      // Drain what the client still sends, so it reads our answer instead of a reset.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
        if (WaitReadable(client, 50) && ::recv(client, buffer, sizeof(buffer), 0) <= 0) return;
      }
      return;
    }
    case Fault::kStall:
      // Hold the connection silently until the client gives up.
      while (!stopping_) {
        if (WaitReadable(client, 50) && ::recv(client, buffer, sizeof(buffer), 0) <= 0) return;
      }
      return;
  }
}

void FaultProxy::Forward(int client) {
  const int server = Connect(upstream_port_);
  if (server < 0) return;
  const int one = 1;
  ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::vector<char> buffer(256 * 1024);
  pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
  while (!stopping_) {
    if (::poll(fds, 2, 50) <= 0) continue;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t got = ::recv(fds[i].fd, buffer.data(), buffer.size(), 0);
      if (got <= 0) {
        closed = true;
        break;
      }
      const int to = fds[1 - i].fd;
      for (ssize_t sent = 0; sent < got;) {
        const ssize_t n = ::send(to, buffer.data() + sent, static_cast<std::size_t>(got - sent), MSG_NOSIGNAL);
        if (n <= 0) {
          closed = true;
          break;
        }
        sent += n;
      }
      (i == 0 ? bytes_up_ : bytes_down_) += static_cast<std::uint64_t>(got);
    }
    if (closed) break;
  }
  ::close(server);
}

}  // namespace swapline::storage::testing
