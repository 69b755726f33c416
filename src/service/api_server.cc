#include "service/api_server.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "service/api_server_impl.h"
#include "service/openapi.h"
#include "service/web/web_ui.h"

namespace swapline::service {

void ApiServer::Impl::Route(const std::string& method, const std::string& pattern, const std::string& path,
                            bool auth, TenantHandler handler) {
  routes_.emplace_back(method, path);
  route_patterns_.emplace_back(std::regex(pattern), method);
  const bool events_route = path == "/v1/events/s3";
  const bool metrics_route = path == "/metrics" && options_.protect_metrics;
  auto wrapped = [this, auth, events_route, metrics_route, method, path, handler = std::move(handler)](
                     const Request& req, Response& res) {
    const auto start = std::chrono::steady_clock::now();
    std::optional<std::string> tenant = std::string();
    if (auth) tenant = Authenticate(req, res, events_route);
    if (metrics_route) tenant = AuthenticateMetrics(req, res);
    if (tenant) {
      try {
        handler(req, res, *tenant);
      } catch (const std::exception& e) {
        spdlog::error("{} {}: unexpected exception: {}", req.method, req.path, e.what());
        SendError(res, 500, "internal", "internal error");
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_.Add("swapline_http_requests_total",
                 {{"method", method}, {"route", path}, {"status", StatusLabel(res)}});
    metrics_.Observe("swapline_http_request_duration_seconds", {{"route", path}}, seconds);
  };
  if (method == "GET") server_.Get(pattern, wrapped);
  else if (method == "POST") server_.Post(pattern, wrapped);
  else if (method == "PUT") server_.Put(pattern, wrapped);
  else if (method == "DELETE") server_.Delete(pattern, wrapped);
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
  const std::string header = req.get_header_value("Authorization");
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
  const std::string header = req.get_header_value("Authorization");
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

void ApiServer::Impl::Setup() {
  DeclareApiMetrics(metrics_);
  metrics_.AddCollector([this](MetricsRegistry& m) { CollectQueueStats(m); });

  // httplib's default sets SO_REUSEPORT, which lets a second server bind the same
  // port and silently share its connections: address reuse only.
  server_.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_max_count(100000);
  server_.set_keep_alive_timeout(5);  // also bounds how long Stop() waits on idle connections
  server_.set_read_timeout(30, 0);
  server_.set_write_timeout(30, 0);
  server_.set_payload_max_length(static_cast<std::size_t>(options_.limits.max_upload_bytes));
  const int threads = std::max(2, options_.threads);
  server_.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };

  // Bodies are refused before they are read, on every route and before auth: chunked
  // ones and ones without a declared length (httplib would read those to the end of
  // the connection), and ones declared over the limit (JSON routes: max_body_bytes,
  // object uploads: max_upload_bytes).
  server_.set_pre_routing_handler([this](const Request& req, Response& res) {
    const bool object = IsObjectPath(req.path);
    const bool sends_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
    if (req.has_header("Transfer-Encoding") || (sends_body && !req.has_header("Content-Length"))) {
      res.set_header("Connection", "close");
      SendError(res, 411, "length_required", "send request bodies with a Content-Length, not chunked or unframed");
      metrics_.Add("swapline_http_requests_total", {{"method", req.method}, {"route", "unmatched"}, {"status", "411"}});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.has_header("Content-Length")) {
      const std::uint64_t limit = object ? options_.limits.max_upload_bytes : options_.max_body_bytes;
      std::uint64_t length = 0;
      try {
        length = std::stoull(req.get_header_value("Content-Length"));
      } catch (const std::exception&) {
        length = UINT64_MAX;
      }
      if (length > limit) {
        res.set_header("Connection", "close");
        SendError(res, 413, "too_large",
                  "request body of " + std::to_string(length) + " bytes is over the limit of " +
                      std::to_string(limit) + " bytes");
        metrics_.Add("swapline_http_requests_total", {{"method", req.method}, {"route", "unmatched"}, {"status", "413"}});
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server_.set_error_handler(httplib::Server::HandlerWithResponse([this](const Request& req, Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404) {
      std::string allowed;
      for (const auto& [pattern, method] : route_patterns_) {
        if (std::regex_match(req.path, pattern) && allowed.find(method) == std::string::npos) {
          allowed += (allowed.empty() ? "" : ", ") + method;
        }
      }
      if (!allowed.empty()) {
        res.status = 405;
        res.set_header("Allow", allowed);
        SendError(res, 405, "method_not_allowed", req.method + " is not allowed on " + req.path + " (" + allowed + ")");
      } else {
        SendError(res, 404, "not_found", "no route for " + req.method + " " + req.path);
      }
    } else if (res.status == 413) {
      SendError(res, 413, "too_large", "request body over the limit");
    } else {
      SendError(res, res.status, CodeNameForHttpStatus(res.status), "HTTP " + std::to_string(res.status));
    }
    if (res.status == 404 || res.status == 405 || res.status == 413 || res.status == 400) {
      metrics_.Add("swapline_http_requests_total",
                   {{"method", req.method}, {"route", "unmatched"}, {"status", std::to_string(res.status)}});
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  server_.set_exception_handler([](const Request& req, Response& res, std::exception_ptr ep) {
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      spdlog::error("{} {}: unexpected exception: {}", req.method, req.path, e.what());
    }
    SendError(res, 500, "internal", "internal error");
  });

  const std::string id = "([^/]+)";
  Route("POST", "/v1/jobs", "/v1/jobs", true,
        [this](const Request& q, Response& r, const std::string& t) { SubmitJob(q, r, t); });
  Route("GET", "/v1/jobs", "/v1/jobs", true,
        [this](const Request& q, Response& r, const std::string& t) { ListJobs(q, r, t); });
  Route("GET", "/v1/jobs/" + id, "/v1/jobs/{id}", true,
        [this](const Request& q, Response& r, const std::string& t) { GetJob(q, r, t); });
  Route("POST", "/v1/jobs/" + id + "/cancel", "/v1/jobs/{id}/cancel", true,
        [this](const Request& q, Response& r, const std::string& t) { CancelJob(q, r, t); });
  Route("GET", "/v1/jobs/" + id + "/result", "/v1/jobs/{id}/result", true,
        [this](const Request& q, Response& r, const std::string& t) { JobResult(q, r, t); });
  Route("POST", "/v1/uploads", "/v1/uploads", true,
        [this](const Request& q, Response& r, const std::string& t) { CreateUpload(q, r, t); });
  Route("POST", "/v1/events/s3", "/v1/events/s3", true,
        [this](const Request& q, Response& r, const std::string& t) { S3Event(q, r, t); });
  Route("GET", "/healthz", "/healthz", false,
        [](const Request&, Response& r, const std::string&) { SendJson(r, 200, {{"status", "ok"}}); });
  Route("GET", "/readyz", "/readyz", false, [this](const Request&, Response& r, const std::string&) { Ready(r); });
  Route("GET", "/metrics", "/metrics", false, [this](const Request&, Response& r, const std::string&) {
    r.set_content(metrics_.Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  Route("GET", "/openapi.json", "/openapi.json", false, [this](const Request&, Response& r, const std::string&) {
    SendJson(r, 200, OpenApiDocument(base_url_));
  });
  // Signed object URLs (file stores; on S3 stores they answer 404 as no URL exists).
  const std::string object = "/v1/objects/(.+)";
  routes_.emplace_back("PUT", "/v1/objects/{key}");
  route_patterns_.emplace_back(std::regex(object), "PUT");
  server_.Put(object, [this](const Request& req, Response& res, const httplib::ContentReader& reader) {
    PutObject(req, res, reader);
    metrics_.Add("swapline_http_requests_total",
                 {{"method", "PUT"}, {"route", "/v1/objects/{key}"}, {"status", StatusLabel(res)}});
  });
  Route("GET", object, "/v1/objects/{key}", false,
        [this](const Request& q, Response& r, const std::string&) { GetObject(q, r); });
  RegisterWebUi(server_, store_, options_.store_uri);  // the page at "/" (service/web), a client of the routes above
}

ApiServer::ApiServer(job::JobQueue& queue, storage::ObjectStore& store, MetricsRegistry& metrics, ApiOptions options)
    : impl_(std::make_unique<Impl>(queue, store, metrics, std::move(options), draining_)) {
  impl_->Setup();
}

ApiServer::~ApiServer() { Stop(); }

Result<int> ApiServer::Impl::Bind() {
  SWAPLINE_RETURN_IF_ERROR(signer_.status());
  int port = options_.port;
  if (port == 0) {
    port = server_.bind_to_any_port(options_.host);
  } else if (!server_.bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return Unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                       " (port in use, or not an address of this machine)");
  }
  if (!options_.public_url.empty()) {
    base_url_ = options_.public_url;
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  } else {
    const bool v6 = options_.host.find(':') != std::string::npos;
    const std::string host = options_.host == "0.0.0.0" ? "127.0.0.1" : options_.host;
    base_url_ = "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
  return port;
}

Status ApiServer::Start() {
  SWAPLINE_ASSIGN_OR_RETURN(port_, impl_->Bind());
  listener_ = std::thread([this] { impl_->server().listen_after_bind(); });
  // stop() before the accept loop runs would be lost (httplib checks is_running).
  while (!impl_->server().is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return Status::Ok();
}

void ApiServer::Stop() {
  if (listener_.joinable()) {
    impl_->server().stop();
    listener_.join();
  }
}

std::string ApiServer::base_url() const { return impl_->base_url(); }

std::vector<std::pair<std::string, std::string>> ApiServer::Routes() const { return impl_->routes(); }

}  // namespace swapline::service
