// ApiServer::Impl (internal to service/): the state of one API server and its
// handlers, defined across api_server.cc (routing, auth, the HTTP front's set-up),
// api_jobs.cc (job submission and admission, uploads), api_s3_events.cc (S3 bucket
// notifications), api_objects.cc (signed object URLs for file stores) and
// api_health.cc (readiness, queue metrics); plus the response helpers they share.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time_text.h"
#include "service/admission.h"
#include "service/api_error.h"
#include "service/api_server.h"
#include "service/http_server.h"
#include "service/local_urls.h"

namespace swapline::service {

using Request = HttpRequest;
using Response = HttpResponse;
using nlohmann::json;

inline bool IsLoopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address.rfind("::ffff:127.", 0) == 0;
}

inline void SendJson(Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

inline void SendError(Response& res, int status, std::string_view code, std::string_view message) {
  res.status = status;
  res.set_content(ErrorBody(code, message), "application/json");
}

inline void SendStatus(Response& res, const Status& status) {
  SendError(res, HttpStatusFor(status.code()), CodeName(status.code()), status.message());
}

inline std::string FormatExpiry(std::chrono::system_clock::time_point t) { return FormatIso8601Millis(t); }

class ApiServer::Impl {
 public:
  Impl(job::JobQueue& queue, storage::ObjectStore& store, MetricsRegistry& metrics, ApiOptions options,
       const std::atomic<bool>& draining)
      : queue_(queue), store_(store), metrics_(metrics), options_(std::move(options)), draining_(draining),
        admission_(options_.limits, options_.store_uri), signer_(options_.url_secret), server_(FrontOptions()) {}

  void Setup();
  // Binds the listening socket and serves; returns the port.
  Result<int> Start();
  void Stop() { server_.Stop(); }
  std::vector<std::pair<std::string, std::string>> routes() const { return routes_; }
  const std::string& base_url() const { return base_url_; }

 private:
  using TenantHandler = std::function<void(const Request&, Response&, const std::string& tenant)>;

  HttpServerOptions FrontOptions();
  // Registers an operation on the front's `pattern` (its OpenAPI template but for
  // "{key+}"). With `auth`, the handler gets the caller's tenant.
  void Route(const std::string& method, const std::string& pattern, bool auth, TenantHandler handler);
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
  // The consumer of a signed upload's body, or null after answering a refusal.
  std::unique_ptr<BodyConsumer> PutObject(const Request& req, Response& res);
  void GetObject(const Request& req, Response& res);

  // Takes one of `tenant`'s tokens of `limit`; false after answering 429 with
  // Retry-After (whole seconds) and an error naming the limit.
  bool WithinRate(const job::RateLimit& limit, const std::string& tenant, Response& res);
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
  HttpServer server_;
  std::string base_url_;  // set by the front's on_listening, before any request
  std::vector<std::pair<std::string, std::string>> routes_;

  std::mutex ready_mutex_;
  std::chrono::steady_clock::time_point ready_checked_{};
  Status ready_status_;  // guarded by ready_mutex_
};

}  // namespace swapline::service
