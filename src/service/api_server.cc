#include "service/api_server.h"

#include <spdlog/spdlog.h>

#include "service/api_server_impl.h"
#include "service/openapi.h"
#include "service/web/web_ui.h"

namespace swapline::service {
namespace {

// Signed object URLs: the key is the rest of the path, slashes included.
constexpr std::string_view kObjectPattern = "/v1/objects/{key+}";

// The OpenAPI template of a front pattern: its "{key+}" (the rest of the path) is
// "{key}" there.
std::string OpenApiTemplate(std::string_view pattern) {
  std::string path(pattern);
  if (const std::size_t plus = path.rfind("+}"); plus != std::string::npos) path.erase(plus, 1);
  return path;
}

}  // namespace

void ApiServer::Impl::Route(const std::string& method, const std::string& pattern, bool auth,
                            TenantHandler handler) {
  routes_.emplace_back(method, OpenApiTemplate(pattern));
  const bool events_route = pattern == "/v1/events/s3";
  const bool metrics_route = pattern == "/metrics" && options_.protect_metrics;
  auto wrapped = [this, auth, events_route, metrics_route, pattern, handler = std::move(handler)](
                     const Request& req, Response& res) {
    std::optional<std::string> tenant = std::string();
    if (auth) tenant = Authenticate(req, res, events_route);
    if (metrics_route) tenant = AuthenticateMetrics(req, res);
    if (tenant) {
      try {
        handler(req, res, *tenant);
      } catch (const std::exception& e) {
        spdlog::error("{} {}: unexpected exception: {}", req.method, pattern, e.what());
        SendError(res, 500, "internal", "internal error");
      }
    }
  };
  // JSON bodies on the routes that take one; none elsewhere.
  const std::uint64_t body_limit = method == "POST" ? options_.max_body_bytes : 0;
  server_.Handle(method, pattern, body_limit, std::move(wrapped));
}

std::optional<std::string> ApiServer::Impl::Authenticate(const Request& req, Response& res, bool events_route) {
  if (!options_.tokens) {
    if (!IsLoopback(req.remote_addr)) {
      SendError(res, 403, "permission_denied",
                "this server runs without --tokens and serves only loopback clients");
      return std::nullopt;
    }
    if (events_route && !options_.allow_local_events) {
      SendError(res, 403, "permission_denied",
                "S3 events without --tokens act for every tenant: the operator must allow them (--allow-local-events)");
      return std::nullopt;
    }
    return events_route ? std::string(kEventTenant) : std::string(kLocalTenant);
  }
  const std::string header = req.header("Authorization");
  const std::string_view token = TokenTable::BearerToken(header);
  std::optional<std::string> tenant = options_.tokens->Authenticate(token);
  if (!tenant) {
    res.set_header("WWW-Authenticate", "Bearer");
    SendError(res, 401, "unauthenticated",
              header.empty() ? "missing 'Authorization: Bearer <token>' header" : "unknown bearer token");
    return std::nullopt;
  }
  if (*tenant == kEventTenant && !events_route) {
    SendError(res, 403, "permission_denied", "this token may only post S3 events");
    return std::nullopt;
  }
  if (*tenant == kMetricsTenant) {
    SendError(res, 403, "permission_denied", "this token may only read /metrics");
    return std::nullopt;
  }
  return tenant;
}

std::optional<std::string> ApiServer::Impl::AuthenticateMetrics(const Request& req, Response& res) {
  const std::string header = req.header("Authorization");
  const std::optional<std::string> tenant =
      options_.tokens ? options_.tokens->Authenticate(TokenTable::BearerToken(header)) : std::nullopt;
  if (!tenant) {
    res.set_header("WWW-Authenticate", "Bearer");
    SendError(res, 401, "unauthenticated", "/metrics needs the token of tenant 'metrics'");
    return std::nullopt;
  }
  if (*tenant != kMetricsTenant) {
    SendError(res, 403, "permission_denied", "/metrics needs the token of tenant 'metrics'");
    return std::nullopt;
  }
  return tenant;
}

HttpServerOptions ApiServer::Impl::FrontOptions() {
  HttpServerOptions front;
  front.host = options_.host;
  front.port = options_.port;
  front.threads = std::max(2, options_.threads);
  front.limits = options_.http;
  // Every exchange, whichever route (or none) answered it and however it ended:
  // streamed uploads and downloads are counted and timed to their last byte.
  front.on_exchange = [this](const HttpExchange& exchange) {
    const std::string route = exchange.pattern.empty() ? "unmatched" : OpenApiTemplate(exchange.pattern);
    metrics_.Add("swapline_http_requests_total",
                 {{"method", exchange.method.empty() ? "-" : std::string(exchange.method)},
                  {"route", route},
                  {"status", exchange.status == 0 ? "aborted" : std::to_string(exchange.status)}});
    if (!exchange.pattern.empty()) {
      metrics_.Observe("swapline_http_request_duration_seconds", {{"route", route}}, exchange.seconds);
    }
  };
  // Signed URLs and the OpenAPI document name the server; with port 0 its address
  // is known only once bound, and it must be set before the first request.
  front.on_listening = [this](int port) {
    if (!options_.public_url.empty()) {
      base_url_ = options_.public_url;
      while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
      return;
    }
    const bool v6 = options_.host.find(':') != std::string::npos;
    const std::string host = options_.host == "0.0.0.0" ? "127.0.0.1" : options_.host;
    base_url_ = "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  };
  return front;
}

void ApiServer::Impl::Setup() {
  DeclareApiMetrics(metrics_);
  metrics_.AddCollector([this](MetricsRegistry& m) { CollectQueueStats(m); });

  Route("POST", "/v1/jobs", true, [this](const Request& q, Response& r, const std::string& t) { SubmitJob(q, r, t); });
  Route("GET", "/v1/jobs", true, [this](const Request& q, Response& r, const std::string& t) { ListJobs(q, r, t); });
  Route("GET", "/v1/jobs/{id}", true, [this](const Request& q, Response& r, const std::string& t) { GetJob(q, r, t); });
  Route("POST", "/v1/jobs/{id}/cancel", true,
        [this](const Request& q, Response& r, const std::string& t) { CancelJob(q, r, t); });
  Route("GET", "/v1/jobs/{id}/result", true,
        [this](const Request& q, Response& r, const std::string& t) { JobResult(q, r, t); });
  Route("POST", "/v1/uploads", true,
        [this](const Request& q, Response& r, const std::string& t) { CreateUpload(q, r, t); });
  Route("POST", "/v1/events/s3", true, [this](const Request& q, Response& r, const std::string& t) { S3Event(q, r, t); });
  Route("GET", "/healthz", false,
        [](const Request&, Response& r, const std::string&) { SendJson(r, 200, {{"status", "ok"}}); });
  Route("GET", "/readyz", false, [this](const Request&, Response& r, const std::string&) { Ready(r); });
  Route("GET", "/metrics", false, [this](const Request&, Response& r, const std::string&) {
    r.set_content(metrics_.Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  Route("GET", "/openapi.json", false, [this](const Request&, Response& r, const std::string&) {
    SendJson(r, 200, OpenApiDocument(base_url_));
  });
  // Signed object URLs (file stores; on S3 stores they answer 404 as no URL exists):
  // the signature is the credential, no token.
  Route("GET", std::string(kObjectPattern), false,
        [this](const Request& q, Response& r, const std::string&) { GetObject(q, r); });
  routes_.emplace_back("PUT", OpenApiTemplate(kObjectPattern));
  server_.HandleStream("PUT", std::string(kObjectPattern), options_.limits.max_upload_bytes,
                       [this](const Request& req, Response& res) { return PutObject(req, res); });
  // The page at "/" (service/web), a client of the routes above.
  for (const WebPage& page : WebUiPages(store_, options_.store_uri)) {
    server_.Handle("GET", page.path, 0, [page](const Request&, Response& res) {
      res.body = std::string(page.bytes);
      res.headers = page.headers;
    });
  }
}

ApiServer::ApiServer(job::JobQueue& queue, storage::ObjectStore& store, MetricsRegistry& metrics, ApiOptions options)
    : impl_(std::make_unique<Impl>(queue, store, metrics, std::move(options), draining_)) {
  impl_->Setup();
}

ApiServer::~ApiServer() { Stop(); }

Result<int> ApiServer::Impl::Start() {
  SWAPLINE_RETURN_IF_ERROR(signer_.status());
  SWAPLINE_RETURN_IF_ERROR(server_.Start());
  return server_.port();
}

Status ApiServer::Start() {
  SWAPLINE_ASSIGN_OR_RETURN(port_, impl_->Start());
  return Status::Ok();
}

void ApiServer::Stop() { impl_->Stop(); }

std::string ApiServer::base_url() const { return impl_->base_url(); }

std::vector<std::pair<std::string, std::string>> ApiServer::Routes() const { return impl_->routes(); }

}  // namespace swapline::service
