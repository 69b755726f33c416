#include "service/api_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <regex>

#include "service/api_error.h"
#include "service/local_urls.h"
#include "service/openapi.h"
#include "service/s3_events.h"
#include "service/tenancy.h"
#include "service/web/web_ui.h"
#include "storage/file_store.h"
#include "storage/object_key.h"

namespace swapline::service {

namespace fs = std::filesystem;
using httplib::Request;
using httplib::Response;
using nlohmann::json;

Result<WatchRule> ParseWatchRule(const std::string& text) {
  WatchRule rule;
  const std::size_t eq = text.find('=');
  rule.prefix = text.substr(0, eq);
  if (eq != std::string::npos) rule.default_source = text.substr(eq + 1);
  if (rule.prefix.empty()) return InvalidArgument("--watch '" + text + "': empty prefix (PREFIX[=SOURCE_KEY])");
  return rule;
}

void DeclareApiMetrics(MetricsRegistry& m) {
  using T = MetricsRegistry::Type;
  m.Declare("swapline_http_requests_total", T::kCounter, "HTTP requests by method, route and status");
  m.Declare("swapline_http_request_duration_seconds", T::kHistogram, "HTTP request handling time by route",
            RequestLatencyBuckets());
  m.Declare("swapline_api_jobs_submitted_total", T::kCounter, "jobs submitted through the API, by source");
  m.Declare("swapline_api_bytes_total", T::kCounter, "object bytes through /v1/objects, by direction");
  m.Declare("swapline_jobs", T::kGauge, "jobs in the queue by state");
  m.Declare("swapline_queue_ready", T::kGauge, "queued jobs due now (backlog)");
  m.Declare("swapline_queue_delayed", T::kGauge, "queued jobs waiting out a retry backoff");
  m.Declare("swapline_queue_in_flight", T::kGauge, "jobs leased to workers");
  m.Declare("swapline_queue_lag", T::kGauge, "consumer group lag (Redis; -1 unknown), ready jobs (SQLite)");
  m.Declare("swapline_queue_dead_letter", T::kGauge, "dead-lettered jobs");
  m.Declare("swapline_queue_oldest_ready_age_seconds", T::kGauge, "age of the oldest ready job");
  m.Declare("swapline_queue_stats_errors_total", T::kCounter, "failed queue statistics reads");
}

namespace {

bool IsLoopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address.rfind("::ffff:127.", 0) == 0;
}

// The status a response goes out with: httplib leaves -1 for "200 once sent".
std::string StatusLabel(const Response& res) { return std::to_string(res.status == -1 ? 200 : res.status); }

void SendJson(Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void SendError(Response& res, int status, std::string_view code, std::string_view message) {
  res.status = status;
  res.set_content(ErrorBody(code, message), "application/json");
}

void SendStatus(Response& res, const Status& status) {
  SendError(res, HttpStatusFor(status.code()), CodeName(status.code()), status.message());
}

std::string FormatExpiry(std::chrono::system_clock::time_point t) { return job::FormatTime(t); }

// Is `path` one of the JSON routes (not the object routes, whose bodies are media)?
bool IsObjectPath(const std::string& path) { return path.rfind("/v1/objects/", 0) == 0; }

}  // namespace

class ApiServer::Impl {
 public:
  Impl(job::JobQueue& queue, storage::ObjectStore& store, MetricsRegistry& metrics, ApiOptions options,
       const std::atomic<bool>& draining)
      : queue_(queue), store_(store), metrics_(metrics), options_(std::move(options)), draining_(draining),
        admission_(options_.limits, options_.store_uri), signer_(options_.url_secret) {}

  void Setup();
  // Binds the listening socket; returns the port.
  Result<int> Bind();
  httplib::Server& server() { return server_; }
  std::vector<std::pair<std::string, std::string>> routes() const { return routes_; }
  void set_base_url(std::string url) { base_url_ = std::move(url); }
  const std::string& base_url() const { return base_url_; }

 private:
  using TenantHandler = std::function<void(const Request&, Response&, const std::string& tenant)>;

  // Registers an operation; `pattern` is the regex httplib matches, `path` the
  // OpenAPI template. With `auth`, the handler gets the caller's tenant.
  void Route(const std::string& method, const std::string& pattern, const std::string& path, bool auth,
             TenantHandler handler);
  std::optional<std::string> Authenticate(const Request& req, Response& res, bool events_route);
  // /metrics with protect_metrics: the "metrics" tenant's token only.
  std::optional<std::string> AuthenticateMetrics(const Request& req, Response& res);

  void SubmitJob(const Request& req, Response& res, const std::string& tenant);
  void ListJobs(const Request& req, Response& res, const std::string& tenant);
  void GetJob(const Request& req, Response& res, const std::string& tenant);
  void CancelJob(const Request& req, Response& res, const std::string& tenant);
  void JobResult(const Request& req, Response& res, const std::string& tenant);
  void CreateUpload(const Request& req, Response& res, const std::string& tenant);
  void S3Event(const Request& req, Response& res, const std::string& tenant);
  void Ready(Response& res);
  void PutObject(const Request& req, Response& res, const httplib::ContentReader& reader);
  void GetObject(const Request& req, Response& res);

  // Admits `spec` (admission.h); its sources and target must exist within the
  // upload size limit.
  Result<AdmittedJob> AdmitSpec(const job::JobSpec& spec);
  Status CheckObjectUrl(const Request& req, const std::string& method, std::string& key);
  void CollectQueueStats(MetricsRegistry& m);

  job::JobQueue& queue_;
  storage::ObjectStore& store_;
  MetricsRegistry& metrics_;
  const ApiOptions options_;
  const std::atomic<bool>& draining_;
  const Admission admission_;
  LocalUrlSigner signer_;
  httplib::Server server_;
  std::string base_url_;
  std::vector<std::pair<std::string, std::string>> routes_;
  std::vector<std::pair<std::regex, std::string>> route_patterns_;  // for 405 answers

  std::mutex ready_mutex_;
  std::chrono::steady_clock::time_point ready_checked_{};
  Status ready_status_;  // guarded by ready_mutex_
};

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

Result<AdmittedJob> ApiServer::Impl::AdmitSpec(const job::JobSpec& spec) {
  SWAPLINE_ASSIGN_OR_RETURN(AdmittedJob admitted, admission_.Admit(spec));
  auto check_input = [&](const std::string& key, const std::string& field) -> Status {
    auto info = store_.Stat(key);
    if (!info.ok()) {
      if (info.status().code() == Code::kNotFound) {
        return InvalidArgument(field + ": object '" + key + "' does not exist (upload it first: POST /v1/uploads)");
      }
      return info.status().WithContext(field);
    }
    return admission_.CheckInputSize(field, info->size);
  };
  for (std::size_t i = 0; i < admitted.source_keys.size(); ++i) {
    SWAPLINE_RETURN_IF_ERROR(check_input(admitted.source_keys[i], "sources[" + std::to_string(i) + "]"));
  }
  SWAPLINE_RETURN_IF_ERROR(check_input(admitted.target_key, "target"));
  return admitted;
}

void ApiServer::Impl::SubmitJob(const Request& req, Response& res, const std::string& tenant) {
  auto spec = job::JobSpec::Parse(req.body);
  if (!spec.ok()) return SendStatus(res, spec.status());
  const bool chosen_id = !spec->id.empty();
  Status status = job::FinalizeJobSpec(*spec, tenant);
  if (!status.ok()) return SendStatus(res, status);
  auto admitted = AdmitSpec(*spec);
  if (!admitted.ok()) return SendStatus(res, admitted.status());
  if (chosen_id) {
    // A retried submission gets its job back; a different spec under the same id,
    // or an id whose time is not now, is refused.
    auto existing = queue_.Get(tenant, spec->id);
    if (existing.ok()) {
      if (existing->spec != admitted->spec) {
        return SendError(res, 409, "failed_precondition", "id: job " + spec->id + " exists with a different spec");
      }
      return SendJson(res, 200, existing->ToJson());
    }
    if (existing.status().code() != Code::kNotFound) return SendStatus(res, existing.status());
    status = Admission::CheckNewJobId(spec->id, std::chrono::system_clock::now());
    if (!status.ok()) return SendStatus(res, status);
  }
  auto record = queue_.Submit(admitted->spec, options_.limits.max_active_jobs_per_tenant);
  if (!record.ok()) {
    // An id taken by another tenant must look like any other conflict.
    return SendStatus(res, record.status());
  }
  if (record->spec != admitted->spec) {
    return SendError(res, 409, "failed_precondition", "id: job " + spec->id + " exists with a different spec");
  }
  metrics_.Add("swapline_api_jobs_submitted_total", {{"source", "api"}});
  res.set_header("Location", "/v1/jobs/" + record->id());
  SendJson(res, 201, record->ToJson());
}

void ApiServer::Impl::ListJobs(const Request& req, Response& res, const std::string& tenant) {
  job::ListOptions list;
  if (req.has_param("state") && !req.get_param_value("state").empty()) {
    auto state = job::ParseJobState(req.get_param_value("state"));
    if (!state.ok()) return SendError(res, 400, "invalid_argument", "state: " + state.status().message());
    list.state = *state;
  }
  if (req.has_param("limit")) {
    const std::string text = req.get_param_value("limit");
    int limit = 0;
    std::size_t used = 0;
    try {
      limit = std::stoi(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || text.empty() || limit < 1 || limit > 1000) {
      return SendError(res, 400, "invalid_argument", "limit: must be an integer from 1 to 1000");
    }
    list.limit = limit;
  }
  list.cursor = req.get_param_value("cursor");
  auto page = queue_.List(tenant, list);
  if (!page.ok()) {
    if (page.status().code() == Code::kInvalidArgument) {
      return SendError(res, 400, "invalid_argument", "cursor: " + page.status().message());
    }
    return SendStatus(res, page.status());
  }
  json jobs = json::array();
  for (const auto& record : page->jobs) jobs.push_back(record.ToJson());
  SendJson(res, 200, {{"jobs", std::move(jobs)}, {"next_cursor", page->next_cursor}});
}

namespace {
// Ids are checked before any lookup so a malformed one is a plain 404.
bool ValidIdOr404(const std::string& id, Response& res) {
  if (job::IsValidJobId(id)) return true;
  SendError(res, 404, "not_found", "no job '" + id + "'");
  return false;
}
}  // namespace

void ApiServer::Impl::GetJob(const Request& req, Response& res, const std::string& tenant) {
  const std::string id = req.matches[1];
  if (!ValidIdOr404(id, res)) return;
  auto record = queue_.Get(tenant, id);
  if (!record.ok()) return SendStatus(res, record.status());
  SendJson(res, 200, record->ToJson());
}

void ApiServer::Impl::CancelJob(const Request& req, Response& res, const std::string& tenant) {
  const std::string id = req.matches[1];
  if (!ValidIdOr404(id, res)) return;
  auto current = queue_.Get(tenant, id);
  if (!current.ok()) return SendStatus(res, current.status());
  if (job::IsTerminal(current->state)) {
    return SendError(res, 409, "failed_precondition",
                     "job " + id + " has already ended (" + job::JobStateName(current->state) + ")");
  }
  auto record = queue_.Cancel(tenant, id);
  if (!record.ok()) return SendStatus(res, record.status());
  SendJson(res, 200, record->ToJson());
}

void ApiServer::Impl::JobResult(const Request& req, Response& res, const std::string& tenant) {
  const std::string id = req.matches[1];
  if (!ValidIdOr404(id, res)) return;
  auto record = queue_.Get(tenant, id);
  if (!record.ok()) return SendStatus(res, record.status());
  if (record->state != job::JobState::kSucceeded || !record->result_uri) {
    return SendError(res, 409, "failed_precondition",
                     "job " + id + " is " + job::JobStateName(record->state) + "; it has no result");
  }
  auto key = KeyInStore(options_.store_uri, *record->result_uri, "result.uri");
  if (!key.ok()) return SendStatus(res, Internal(key.status().message()));
  const auto expires = std::chrono::system_clock::now() + options_.url_expiry;
  std::string url;
  if (options_.store_uri.is_s3()) {
    auto presigned = store_.Presign(*key, storage::PresignMethod::kGet, options_.url_expiry);
    if (!presigned.ok()) return SendStatus(res, presigned.status());
    url = *presigned;
  } else {
    url = signer_.Sign(base_url_, "GET", *key, expires);
  }
  res.set_header("Location", url);
  SendJson(res, 302, {{"url", url}, {"uri", *record->result_uri}, {"expires_at", FormatExpiry(expires)}});
}

void ApiServer::Impl::CreateUpload(const Request& req, Response& res, const std::string& tenant) {
  const json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return SendError(res, 400, "invalid_argument", "body: must be a JSON object {\"filename\": \"...\"}");
  }
  if (!body.contains("filename") || !body["filename"].is_string()) {
    return SendError(res, 400, "invalid_argument", "filename: must be a string");
  }
  for (const auto& [name, value] : body.items()) {
    if (name != "filename" && name != "content_type") {
      return SendError(res, 400, "invalid_argument", name + ": unknown field");
    }
  }
  const auto now = std::chrono::system_clock::now();
  auto key = UploadKey(tenant, body["filename"].get<std::string>(), now);
  if (!key.ok()) return SendStatus(res, key.status());
  const auto expires = now + options_.url_expiry;
  std::string url;
  if (options_.store_uri.is_s3()) {
    auto presigned = store_.Presign(*key, storage::PresignMethod::kPut, options_.url_expiry);
    if (!presigned.ok()) return SendStatus(res, presigned.status());
    url = *presigned;
  } else {
    url = signer_.Sign(base_url_, "PUT", *key, expires);
  }
  SendJson(res, 201,
           {{"key", *key}, {"uri", *key}, {"url", url}, {"method", "PUT"}, {"expires_at", FormatExpiry(expires)}});
}

namespace {
// The tenant of an input key "[hh/]{images|videos}/input/{tenant}/…", or "".
std::string InputKeyTenant(const std::string& key) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= key.size()) {
    const std::size_t slash = key.find('/', start);
    parts.push_back(key.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::size_t i = 0;
  if (parts.size() > 1 && parts[0].size() == 2 && std::isxdigit(static_cast<unsigned char>(parts[0][0])) &&
      std::isxdigit(static_cast<unsigned char>(parts[0][1]))) {
    i = 1;
  }
  if (parts.size() < i + 4) return "";
  if ((parts[i] != "images" && parts[i] != "videos") || parts[i + 1] != "input") return "";
  return parts[i + 2];
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}
}  // namespace

void ApiServer::Impl::S3Event(const Request& req, Response& res, const std::string& caller) {
  const json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return SendError(res, 400, "invalid_argument", "body: malformed JSON");
  auto notification = ParseBucketNotification(body);
  if (!notification.ok()) return SendStatus(res, notification.status());
  json jobs = json::array();
  json ignored = json::array();
  int ignored_count = notification->ignored;
  const auto now = std::chrono::system_clock::now();
  for (const CreatedObject& object : notification->created) {
    auto skip = [&](const std::string& why) {
      ++ignored_count;
      ignored.push_back({{"key", object.key}, {"reason", why}});
    };
    if (options_.store_uri.is_s3() && object.bucket != options_.store_uri.bucket) {
      skip("bucket '" + object.bucket + "' is not this service's store");
      continue;
    }
    const WatchRule* rule = nullptr;
    for (const WatchRule& r : options_.watch) {
      if (object.key.rfind(r.prefix, 0) == 0) rule = &r;
    }
    if (rule == nullptr) {
      skip("not under a watched prefix");
      continue;
    }
    const std::string tenant = InputKeyTenant(object.key);
    if (tenant.empty() || !CheckTenantKey(tenant, object.key).ok()) {
      skip("not a tenant input key ({images,videos}/input/{tenant}/...)");
      continue;
    }
    if (caller != kEventTenant && caller != tenant) {
      skip("the token's tenant may not post events for tenant '" + tenant + "'");
      continue;
    }
    auto info = store_.Stat(object.key);
    if (!info.ok()) {
      if (info.status().code() == Code::kNotFound) {
        skip("object does not exist");
        continue;
      }
      return SendStatus(res, info.status());
    }
    std::vector<std::string> sources;
    auto meta = info->metadata.find("swapline-sources");
    if (meta != info->metadata.end()) sources = SplitComma(meta->second);
    if (sources.empty() && !rule->default_source.empty()) {
      std::string source = rule->default_source;
      const std::size_t at = source.find("{tenant}");
      if (at != std::string::npos) source.replace(at, 8, tenant);
      sources.push_back(source);
    }
    if (sources.empty()) {
      skip("no source face: set user metadata 'swapline-sources' or a default in --watch PREFIX=SOURCE");
      continue;
    }
    job::JobSpec spec;
    spec.id = EventJobId(object, now);
    spec.sources = sources;
    spec.target = object.key;
    Status status = job::FinalizeJobSpec(spec, tenant);
    Result<AdmittedJob> admitted = status.ok() ? AdmitSpec(spec) : Result<AdmittedJob>(status);
    if (!admitted.ok()) {
      skip(admitted.status().message());
      continue;
    }
    auto record = queue_.Submit(admitted->spec, options_.limits.max_active_jobs_per_tenant);
    if (!record.ok() && record.status().code() == Code::kThrottled) {
      skip(record.status().message());
      continue;
    }
    if (!record.ok()) return SendStatus(res, record.status());
    metrics_.Add("swapline_api_jobs_submitted_total", {{"source", "s3_event"}});
    jobs.push_back({{"id", record->id()}, {"key", object.key}, {"state", job::JobStateName(record->state)}});
  }
  SendJson(res, 200, {{"jobs", jobs}, {"ignored", ignored_count}, {"ignored_records", ignored}});
}

void ApiServer::Impl::Ready(Response& res) {
  if (draining_) return SendError(res, 503, "unavailable", "draining: shutting down");
  Status status;
  {
    std::lock_guard lock(ready_mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now - ready_checked_ > std::chrono::seconds(1)) {
      status = queue_.Stats().status();
      if (status.ok()) {
        // A HEAD of a key that never exists: one cheap round trip; NotFound is healthy.
        const Status probe = store_.Stat("swapline-readyz-probe").status();
        if (!probe.ok() && probe.code() != Code::kNotFound) status = probe.WithContext("store " + store_.Describe());
      } else {
        status = status.WithContext("queue " + queue_.Describe());
      }
      ready_status_ = status;
      ready_checked_ = now;
    }
    status = ready_status_;
  }
  if (!status.ok()) return SendError(res, 503, "unavailable", status.message());
  SendJson(res, 200, {{"status", "ready"}});
}

Status ApiServer::Impl::CheckObjectUrl(const Request& req, const std::string& method, std::string& key) {
  if (options_.store_uri.is_s3()) return NotFound("object URLs are served by S3 for this store");
  key = req.matches[1];
  const Status valid = storage::ValidateObjectKey(key);
  if (!valid.ok()) return InvalidArgument(valid.message());
  return signer_.Verify(method, key, req.get_param_value("expires"), req.get_param_value("signature"),
                        std::chrono::system_clock::now());
}

void ApiServer::Impl::PutObject(const Request& req, Response& res, const httplib::ContentReader& reader) {
  std::string key;
  const Status allowed = CheckObjectUrl(req, "PUT", key);
  if (!allowed.ok()) {
    res.set_header("Connection", "close");  // the body is not read
    return SendStatus(res, allowed);
  }
  // Staged inside the store (its filesystem, its quota), never in a system temp folder.
  const fs::path staging = storage::FileStoreStagingDir(options_.store_uri.local_path);
  std::error_code mkdir_error;
  fs::create_directories(staging, mkdir_error);
  std::string pattern = (staging / "upload-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) return SendStatus(res, IOError("cannot create a temporary upload file"));
  const fs::path temp = pattern;
  std::uint64_t total = 0;
  bool write_failed = false;
  bool too_large = false;
  const bool read = reader([&](const char* data, std::size_t length) {
    total += length;
    if (total > options_.limits.max_upload_bytes) {
      too_large = true;
      return false;
    }
    std::size_t done = 0;
    while (done < length) {
      const ssize_t n = ::write(fd, data + done, length - done);
      if (n <= 0) {
        write_failed = true;
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    return true;
  });
  ::close(fd);
  if (!read || write_failed) {
    std::error_code ec;
    fs::remove(temp, ec);
    if (too_large) {
      res.set_header("Connection", "close");  // the rest of the body is not read
      return SendStatus(res, TooLarge("limit max_upload_bytes: the body is larger than " +
                                      std::to_string(options_.limits.max_upload_bytes) + " bytes"));
    }
    return SendStatus(res, write_failed ? IOError("cannot buffer the upload") : InvalidArgument("body: upload interrupted"));
  }
  storage::PutOptions put;
  put.content_type = req.get_header_value("Content-Type");
  if (put.content_type == "application/octet-stream" || put.content_type == "application/x-www-form-urlencoded") {
    put.content_type.clear();  // from the key's extension
  }
  auto info = store_.PutFile(key, temp, put);
  std::error_code ec;
  fs::remove(temp, ec);
  if (!info.ok()) return SendStatus(res, info.status());
  metrics_.Add("swapline_api_bytes_total", {{"direction", "in"}}, static_cast<double>(total));
  res.set_header("ETag", "\"" + info->etag + "\"");
  SendJson(res, 200, {{"key", key}, {"size", info->size}, {"etag", info->etag}});
}

void ApiServer::Impl::GetObject(const Request& req, Response& res) {
  std::string key;
  const Status allowed = CheckObjectUrl(req, "GET", key);
  if (!allowed.ok()) return SendStatus(res, allowed);
  auto info = store_.Stat(key);
  if (!info.ok()) return SendStatus(res, info.status());
  const std::string content_type = info->content_type.empty() ? "application/octet-stream" : info->content_type;
  metrics_.Add("swapline_api_bytes_total", {{"direction", "out"}}, static_cast<double>(info->size));
  res.set_header("ETag", "\"" + info->etag + "\"");
  res.set_content_provider(
      static_cast<std::size_t>(info->size), content_type,
      [this, key](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
        storage::GetOptions get;
        get.range = storage::ByteRange{offset, std::min<std::uint64_t>(length, 1 << 20)};
        const Status status = store_.Get(key, get, [&](std::span<const std::uint8_t> bytes) {
          if (!sink.write(reinterpret_cast<const char*>(bytes.data()), bytes.size())) {
            return Unavailable("client went away");
          }
          return Status::Ok();
        });
        return status.ok();
      });
}

void ApiServer::Impl::CollectQueueStats(MetricsRegistry& m) {
  auto stats = queue_.Stats();
  if (!stats.ok()) {
    m.Add("swapline_queue_stats_errors_total", {});
    return;
  }
  for (int s = 0; s < job::kJobStateCount; ++s) {
    m.Set("swapline_jobs", {{"state", job::JobStateName(static_cast<job::JobState>(s))}},
          static_cast<double>(stats->by_state[static_cast<std::size_t>(s)]));
  }
  m.Set("swapline_queue_ready", {}, static_cast<double>(stats->ready));
  m.Set("swapline_queue_delayed", {}, static_cast<double>(stats->delayed));
  m.Set("swapline_queue_in_flight", {}, static_cast<double>(stats->in_flight));
  m.Set("swapline_queue_lag", {}, static_cast<double>(stats->lag));
  m.Set("swapline_queue_dead_letter", {}, static_cast<double>(stats->dead_letter));
  m.Set("swapline_queue_oldest_ready_age_seconds", {},
        std::chrono::duration<double>(stats->oldest_ready_age).count());
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
