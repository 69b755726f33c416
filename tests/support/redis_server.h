// A throwaway redis-server for tests and benchmarks: a free loopback port, its own
// temporary data folder, no persistence unless asked (RDB on SHUTDOWN SAVE, or an
// append-only file), stopped by PID (and killed with the process that started it).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "support/process.h"

namespace swapline::testing {

struct RedisServerOptions {
  // "always" or "everysec": `appendonly yes` with this `appendfsync`; "": no AOF.
  std::string appendfsync;
};

class RedisServer {
 public:
  // FailedPrecondition naming `make deps` when redis-server is not installed.
  static Result<std::unique_ptr<RedisServer>> Start(const RedisServerOptions& options = {});
  ~RedisServer();

  int port() const { return port_; }
  std::string Uri(const std::string& stream) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/0?stream=" + stream;
  }

  // Stops the server: with keep_data by `SHUTDOWN SAVE` (the data set is dumped to
  // its folder and loaded again by Restart), otherwise by SIGKILL (everything lost).
  Status Stop(bool keep_data);
  // SIGKILL, the folder kept: Restart recovers what the append-only file holds.
  void Crash();
  // Starts it again on the same port and folder.
  Status Restart();
  // Sends one inline command; returns the first reply line ("+PONG"), or the body of
  // a bulk-string reply.
  Result<std::string> RawCommand(const std::string& command) const;

 private:
  RedisServer(std::string binary, int port, std::string dir, RedisServerOptions options)
      : binary_(std::move(binary)), port_(port), dir_(std::move(dir)), options_(std::move(options)) {}
  Status Launch();

  std::string binary_;
  int port_;
  std::string dir_;
  RedisServerOptions options_;
  ChildProcess process_;
};

}  // namespace swapline::testing
