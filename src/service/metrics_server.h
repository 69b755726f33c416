// A tiny HTTP server for a standalone worker's /metrics (Prometheus text) and
// /healthz, so job durations, bytes and retries measured in worker processes can be
// scraped (the API's /metrics shows the queue and its own embedded workers only).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "service/http_server.h"
#include "service/metrics.h"

namespace swapline::service {

class MetricsServer {
 public:
  explicit MetricsServer(MetricsRegistry& metrics);
  ~MetricsServer();  // Stop()
  // Binds host:port (0: a free port) and serves on a background thread.
  Status Start(const std::string& host, int port);
  void Stop();
  int port() const { return port_; }

 private:
  MetricsRegistry& metrics_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

}  // namespace swapline::service
