#include "support/fault_proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <string>

#include "support/process.h"

namespace swapline::testing {
namespace {

// Waits up to `ms` for `fd` to be readable; false on timeout.
bool WaitReadable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

// Sends all `size` bytes; false when the peer is gone.
bool SendAll(int fd, const char* data, std::size_t size) {
  for (std::size_t sent = 0; sent < size;) {
    const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// close() of `fd` will send RST instead of FIN.
void ResetOnClose(int fd) {
  const linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
}

}  // namespace

const char* FaultName(Fault fault) {
  switch (fault) {
    case Fault::kReset:
      return "reset";
    case Fault::kSlowDown:
      return "503 SlowDown";
    case Fault::kStall:
      return "stall";
    case Fault::kResetMidTransfer:
      return "reset mid-transfer";
  }
  return "?";
}

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
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return active_ == 0; });
}

void FaultProxy::Inject(Fault fault, int connections) {
  std::lock_guard lock(mutex_);
  scheduled_ = false;
  fault_ = fault;
  faults_left_ = connections;
  requests_to_skip_ = -1;
}

void FaultProxy::InjectNthRequest(Fault fault, int n) {
  std::lock_guard lock(mutex_);
  scheduled_ = false;
  fault_ = fault;
  faults_left_ = 1;
  requests_to_skip_ = n - 1;
}

void FaultProxy::SetSchedule(const FaultSchedule& schedule) {
  std::lock_guard lock(mutex_);
  scheduled_ = true;
  schedule_ = schedule;
  random_.seed(schedule.seed);
  in_a_row_ = 0;
}

int FaultProxy::faults_done() const {
  int total = 0;
  for (const auto& count : faults_by_kind_) total += count;
  return total;
}

FaultProxy::Treatment FaultProxy::Draw(bool first_request) {
  std::lock_guard lock(mutex_);
  ++requests_;
  Treatment treatment;
  if (!scheduled_) {
    if (requests_to_skip_ > 0) {
      --requests_to_skip_;
      return treatment;
    }
    if ((first_request || requests_to_skip_ == 0) && faults_left_ > 0) {
      --faults_left_;
      treatment.spoil = true;
      treatment.fault = fault_;
    }
    return treatment;
  }
  // Every draw takes the same numbers from the generator, so a seed fixes the
  // whole sequence whatever is drawn.
  const double pick = std::uniform_real_distribution<double>(0, 1)(random_);
  const auto stall = std::chrono::milliseconds(
      std::uniform_int_distribution<std::int64_t>(1, std::max<std::int64_t>(1, schedule_.max_stall.count()))(random_));
  const std::uint64_t bytes =
      std::uniform_int_distribution<std::uint64_t>(1, std::max<std::uint64_t>(1, schedule_.max_bytes_before_reset))(
          random_);
  double edge = schedule_.reset;
  if (pick < edge) {
    treatment.fault = Fault::kReset;
  } else if (pick < (edge += schedule_.reset_mid_transfer)) {
    treatment.fault = Fault::kResetMidTransfer;
    treatment.reset_after_bytes = bytes;
  } else if (pick < (edge += schedule_.slow_down)) {
    treatment.fault = Fault::kSlowDown;
  } else if (pick < (edge += schedule_.stall)) {
    treatment.fault = Fault::kStall;
    treatment.stall = stall;
  } else {
    in_a_row_ = 0;
    return treatment;
  }
  if (in_a_row_ >= schedule_.max_in_a_row) {
    in_a_row_ = 0;
    return Treatment{};
  }
  ++in_a_row_;
  treatment.spoil = true;
  return treatment;
}

void FaultProxy::AcceptLoop() {
  while (!stopping_) {
    if (!WaitReadable(listen_fd_, 50)) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++connections_;
    {
      std::lock_guard lock(mutex_);
      ++active_;
    }
    // Detached, so a long run does not keep every ended connection's thread.
    std::thread([this, client] {
      Serve(client);
      std::unique_lock lock(mutex_);
      --active_;
      std::notify_all_at_thread_exit(idle_, std::move(lock));
    }).detach();
  }
}

void FaultProxy::Serve(int client) {
  // Clients send one request at a time (HTTP/1.1 without pipelining, no "Expect:
  // 100-continue"), so client bytes after an answer from the server start a request.
  int server = -1;
  bool request_starts = true;
  bool first_request = true;
  std::uint64_t moved = 0;
  std::uint64_t reset_at = 0;  // 0: none planned
  bool reset_on_answer = false;
  std::vector<char> buffer(256 * 1024);
  const int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  while (!stopping_) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (::poll(fds, server < 0 ? 1 : 2, 50) <= 0) continue;
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && request_starts) {
      char peek;
      if (::recv(client, &peek, 1, MSG_PEEK) <= 0) break;  // closed between requests
      request_starts = false;
      const Treatment treatment = Draw(first_request);
      first_request = false;
      if (treatment.spoil) {
        ++faults_by_kind_[static_cast<int>(treatment.fault)];
        if (treatment.fault == Fault::kResetMidTransfer) {
          reset_on_answer = treatment.reset_after_bytes == 0;
          if (!reset_on_answer) reset_at = moved + treatment.reset_after_bytes;
        } else if (!Spoil(client, treatment)) {
          break;
        }
      }
    }
    if (server < 0) {
      server = ConnectLoopback(upstream_port_);
      if (server < 0) break;
      ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      std::size_t want = buffer.size();
      if (reset_at > 0) want = std::min<std::uint64_t>(want, reset_at - moved);
      if (i == 1 && reset_on_answer) {  // the request was carried out; its answer is lost
        ResetOnClose(client);
        ResetOnClose(server);
        closed = true;
        break;
      }
      const int from = i == 0 ? client : server;
      const ssize_t got = ::recv(from, buffer.data(), want, 0);
      if (got <= 0) {
        closed = true;
        break;
      }
      closed = !SendAll(i == 0 ? server : client, buffer.data(), static_cast<std::size_t>(got));
      (i == 0 ? bytes_up_ : bytes_down_) += static_cast<std::uint64_t>(got);
      moved += static_cast<std::uint64_t>(got);
      if (i == 1) request_starts = true;
      if (reset_at > 0 && moved >= reset_at) {
        ResetOnClose(client);
        ResetOnClose(server);
        closed = true;
      }
    }
    if (closed) break;
  }
  if (server >= 0) ::close(server);
  ::close(client);
}

bool FaultProxy::Spoil(int client, const Treatment& treatment) {
  char buffer[65536];
  switch (treatment.fault) {
    case Fault::kReset:
      // Let the request start arriving, then reset.
      WaitReadable(client, 2000);
      (void)::recv(client, buffer, sizeof(buffer), 0);
      ResetOnClose(client);
      return false;
    case Fault::kSlowDown: {
      WaitReadable(client, 2000);
      (void)::recv(client, buffer, sizeof(buffer), 0);
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
        if (WaitReadable(client, 50) && ::recv(client, buffer, sizeof(buffer), 0) <= 0) break;
      }
      return false;
    }
    case Fault::kStall: {
      // Say nothing; the request waits in the socket. A timed stall then lets it
      // go on; an untimed one lasts until the client gives up. A request whose
      // client gave up is dropped, never sent late: a server acting on it after
      // the client's retry (a second multipart upload started) leaves garbage no
      // client can see coming, which only a bucket lifecycle rule removes.
      const auto until = std::chrono::steady_clock::now() + treatment.stall;
      while (!stopping_ && (treatment.stall.count() == 0 || std::chrono::steady_clock::now() < until)) {
        pollfd p{client, POLLRDHUP, 0};
        if (::poll(&p, 1, 50) > 0) return false;
      }
      return treatment.stall.count() != 0;
    }
    case Fault::kResetMidTransfer:
      return true;  // Serve counts the bytes
  }
  return false;
}

}  // namespace swapline::testing
