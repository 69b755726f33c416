#include "service/metrics_server.h"

#include <httplib.h>

#include <chrono>

namespace swapline::service {

MetricsServer::MetricsServer(MetricsRegistry& metrics) : metrics_(metrics), server_(std::make_unique<httplib::Server>()) {
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_timeout(5);
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
}

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Start(const std::string& host, int port) {
  const int bound = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return Unavailable("cannot listen on " + host + ":" + std::to_string(port) + " for metrics");
  port_ = bound;
  listener_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return Status::Ok();
}

void MetricsServer::Stop() {
  if (listener_.joinable()) {
    server_->stop();
    listener_.join();
  }
}

}  // namespace swapline::service
