#include "job/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

namespace swapline::job::testing {
namespace {

std::string FindRedisServer() {
  const char* path = std::getenv("PATH");
  std::string paths = path != nullptr ? path : "";
  paths += ":/usr/bin:/usr/sbin:/usr/local/bin";
  std::size_t start = 0;
  while (start <= paths.size()) {
    const std::size_t colon = paths.find(':', start);
    const std::string dir = paths.substr(start, colon - start);
    if (!dir.empty()) {
      const std::string candidate = dir + "/redis-server";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return "";
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace

Result<std::unique_ptr<RedisServer>> RedisServer::Start() {
  if (FindRedisServer().empty()) {
    return FailedPrecondition("redis-server is not installed: run make deps");
  }
  char tmpl[] = "/tmp/swapline-redis-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return IOError("cannot create a temporary folder");
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {  // a parallel test may take the port
    std::unique_ptr<RedisServer> server(new RedisServer(FreePort(), tmpl));
    last = server->Launch();
    if (last.ok()) return server;
    server->dir_.clear();  // keep the folder for the next attempt
  }
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  return last;
}

Status RedisServer::Launch() {
  const std::string binary = FindRedisServer();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return IOError("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    const std::string port = std::to_string(port_);
    const std::string log = dir_ + "/redis.log";
    std::vector<const char*> argv = {binary.c_str(), "--port", port.c_str(), "--bind", "127.0.0.1",
                                     "--dir", dir_.c_str(), "--save", "", "--appendonly", "no",
                                     "--daemonize", "no", "--logfile", log.c_str(), nullptr};
    ::execv(binary.c_str(), const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const std::string ours = "process_id:" + std::to_string(pid_);
  while (std::chrono::steady_clock::now() < deadline) {
    // Ours, not another test's server that took the port first.
    Result<std::string> info = RawCommand("INFO server");
    if (info.ok() && info->find(ours + "\r\n") != std::string::npos) return Status::Ok();
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return Unavailable("redis-server exited at start; see " + dir_ + "/redis.log");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  int wstatus = 0;
  ::waitpid(pid_, &wstatus, 0);
  pid_ = -1;
  return Unavailable("redis-server did not answer within 10 s; see " + dir_ + "/redis.log");
}

Result<std::string> RedisServer::RawCommand(const std::string& command) const {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port_));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return Unavailable("connect failed");
  }
  const std::string line = command + "\r\n";
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    ::close(fd);
    return Unavailable("send failed");
  }
  std::string reply;
  char c;
  while (::recv(fd, &c, 1, 0) == 1 && c != '\n') {
    if (c != '\r') reply.push_back(c);
  }
  if (!reply.empty() && reply[0] == '$') {  // bulk string: read its body too
    const long length = std::strtol(reply.c_str() + 1, nullptr, 10);
    std::string body;
    char buf[4096];
    while (length > 0 && static_cast<long>(body.size()) < length + 2) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      body.append(buf, static_cast<std::size_t>(n));
    }
    reply = body;
  }
  ::close(fd);
  return reply;
}

Status RedisServer::Stop(bool keep_data) {
  if (pid_ <= 0) return Status::Ok();
  if (keep_data) {
    (void)RawCommand("SHUTDOWN SAVE");
  } else {
    std::error_code ec;
    std::filesystem::remove(dir_ + "/dump.rdb", ec);
    ::kill(pid_, SIGKILL);
  }
  int wstatus = 0;
  ::waitpid(pid_, &wstatus, 0);
  pid_ = -1;
  return Status::Ok();
}

Status RedisServer::Restart() {
  if (pid_ > 0) return FailedPrecondition("redis-server is still running");
  return Launch();
}

RedisServer::~RedisServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int wstatus = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, &wstatus, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &wstatus, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace swapline::job::testing
