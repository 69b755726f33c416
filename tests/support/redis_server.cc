#include "support/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

namespace swapline::testing {

Result<std::unique_ptr<RedisServer>> RedisServer::Start(const RedisServerOptions& options) {
  const std::string binary = FindExecutable("redis-server");
  if (binary.empty()) return FailedPrecondition("redis-server is not installed: run make deps");
  char tmpl[] = "/tmp/swapline-redis-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return IOError("cannot create a temporary folder");
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {  // a parallel test may take the port
    std::unique_ptr<RedisServer> server(new RedisServer(binary, FreePort(), tmpl, options));
    last = server->Launch();
    if (last.ok()) return server;
    server->dir_.clear();  // keep the folder for the next attempt
  }
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  return last;
}

Status RedisServer::Launch() {
  const std::string log = dir_ + "/redis.log";
  std::vector<std::string> argv = {binary_, "--port", std::to_string(port_), "--bind", "127.0.0.1", "--dir", dir_,
                                   "--save", "", "--daemonize", "no"};
  if (options_.appendfsync.empty()) {
    argv.insert(argv.end(), {"--appendonly", "no"});
  } else {
    argv.insert(argv.end(), {"--appendonly", "yes", "--appendfsync", options_.appendfsync});
  }
  if (!process_.Start(argv, log)) {
    return IOError("fork failed");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const std::string ours = "process_id:" + std::to_string(process_.pid());
  while (std::chrono::steady_clock::now() < deadline) {
    // Ours, not another test's server that took the port first.
    Result<std::string> info = RawCommand("INFO server");
    if (info.ok() && info->find(ours + "\r\n") != std::string::npos) return Status::Ok();
    if (!process_.Running()) return Unavailable("redis-server exited at start; see " + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  process_.Kill();
  return Unavailable("redis-server did not answer within 10 s; see " + log);
}

Result<std::string> RedisServer::RawCommand(const std::string& command) const {
  const int fd = ConnectLoopback(port_);
  if (fd < 0) return Unavailable("connect failed");
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
  if (process_.pid() <= 0) return Status::Ok();
  if (keep_data) {
    (void)RawCommand("SHUTDOWN SAVE");
    process_.Wait();
  } else {
    std::error_code ec;
    std::filesystem::remove(dir_ + "/dump.rdb", ec);
    process_.Kill();
  }
  return Status::Ok();
}

void RedisServer::Crash() { process_.Kill(); }

Status RedisServer::Restart() {
  if (process_.pid() > 0) return FailedPrecondition("redis-server is still running");
  return Launch();
}

RedisServer::~RedisServer() {
  process_.Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace swapline::testing
