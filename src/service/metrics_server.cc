#include "service/metrics_server.h"

namespace swapline::service {

MetricsServer::MetricsServer(MetricsRegistry& metrics) : metrics_(metrics) {}

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Start(const std::string& host, int port) {
  HttpServerOptions options;
  options.host = host;
  options.port = port;
  options.threads = 2;
  server_ = std::make_unique<HttpServer>(options);
  server_->Handle("GET", "/metrics", 0, [this](const HttpRequest&, HttpResponse& res) {
    res.set_content(metrics_.Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Handle("GET", "/healthz", 0, [](const HttpRequest&, HttpResponse& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  if (const Status started = server_->Start(); !started.ok()) {
    server_.reset();
    return started.WithContext("metrics");
  }
  port_ = server_->port();
  return Status::Ok();
}

void MetricsServer::Stop() {
  if (server_) server_->Stop();
}

}  // namespace swapline::service
