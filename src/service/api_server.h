// ApiServer: the HTTP API of `swapline serve`, on the event-driven front of
// http_server.h (its limits on heads, bodies, time and connections hold for every
// route, before auth).
//
// Routes (documented in /openapi.json; tests check the two agree):
//   POST /v1/jobs                 submit (201 + the job)
//   GET  /v1/jobs?state=&limit=&cursor=   the caller's jobs, newest first
//   GET  /v1/jobs/{id}            one job
//   POST /v1/jobs/{id}/cancel     cancel
//   GET  /v1/jobs/{id}/result     302 to a presigned GET of the result
//   POST /v1/uploads              a presigned PUT URL under the caller's input prefix
//   POST /v1/events/s3            S3/MinIO bucket notification → jobs
//   GET  /healthz /readyz /metrics /openapi.json   (no token needed)
//   PUT|GET /v1/objects/{key}?expires=&signature=  file:// stores only: the API
//        stands in for S3 presigned URLs (local_urls.h), streaming uploads to the
//        store and downloads from it. Their bodies may be up to max_upload_bytes.
//
// Auth: with a TokenTable, every /v1 route except /v1/objects needs
// "Authorization: Bearer <token>" (401 otherwise) and acts as the token's tenant.
// Without one, only loopback clients are served (403 otherwise), as tenant "local",
// and S3 events only with allow_local_events. The tenant "metrics" may only read
// /metrics (required there with protect_metrics).
// A tenant names only keys under its own prefixes (tenancy.h) and sees only its own
// jobs: another tenant's job id answers 404, as a missing one.
//
// Jobs are admitted by admission.h before they are queued: over a limit is 413
// "too_large" (message "limit <name>: …"), too many unfinished jobs of the tenant 429.
// Submissions and upload URLs are rate-limited per tenant (tokens kept in the queue):
// 429 "throttled" with Retry-After.
// A tenant-chosen job id must carry the current time; submitting an existing id
// again answers 200 with the job when the spec is the same, 409 otherwise.
//
// Errors: always {"error": {"code", "message"}} with the status of api_error.h; 400
// messages start with the bad field. JSON bodies over max_body_bytes get 413 before
// they are read.
//
// Thread safety: Start/Stop from one thread; requests are served by `threads` threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "job/job_queue.h"
#include "service/admission.h"
#include "service/auth.h"
#include "service/http_server.h"
#include "service/metrics.h"
#include "storage/object_store.h"
#include "storage/storage_uri.h"

namespace swapline::service {

// An S3 event for an object whose key starts with `prefix` becomes a job with that
// object as the target. Its sources: the object's user metadata "swapline-sources"
// (comma-separated keys), else `default_source` ("{tenant}" replaced by the key's
// tenant). Only input keys ({images,videos}/input/{tenant}/…) are accepted, so
// results never trigger jobs.
struct WatchRule {
  std::string prefix;
  std::string default_source;
};

// Parses "PREFIX" or "PREFIX=SOURCE_KEY".
Result<WatchRule> ParseWatchRule(const std::string& text);

struct ApiOptions {
  // --- behaviour ---
  std::string host = "127.0.0.1";
  int port = 8080;                          // 0: a free port (see ApiServer::port())
  std::optional<TokenTable> tokens;         // none: loopback clients only, tenant "local"
  storage::StorageUri store_uri;            // the store's URI (keys ↔ URIs)
  std::string public_url;                   // base of signed object URLs; "": http://host:port
  std::chrono::seconds url_expiry{900};     // presigned and signed URLs
  std::string url_secret;                   // signed object URLs; "": random per process
  std::vector<WatchRule> watch;             // S3 event rules
  // /metrics needs the token of tenant "metrics" (which may do nothing else);
  // otherwise it is open, like /healthz.
  bool protect_metrics = false;
  // Without tokens, POST /v1/events/s3 from loopback acts for every tenant: only
  // when the operator says so.
  bool allow_local_events = false;
  // --- limits ---
  std::size_t max_body_bytes = 1 << 20;     // JSON bodies
  Limits limits;                            // job admission; max_upload_bytes: PUT /v1/objects
  HttpLimits http;                          // request heads, time, connections
  // --- performance ---
  int threads = 16;                         // handlers running at once
};

class ApiServer {
 public:
  // `queue`, `store` and `metrics` must outlive the server.
  ApiServer(job::JobQueue& queue, storage::ObjectStore& store, MetricsRegistry& metrics, ApiOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds and starts serving on background threads. kUnavailable when the
  // address cannot be bound.
  Status Start();
  // Stops accepting, ends every connection and waits for running handlers.
  void Stop();
  // /readyz answers 503 from now on (SIGTERM: let load balancers drain us).
  void SetDraining() { draining_ = true; }

  int port() const { return port_; }
  std::string base_url() const;

  // The operations registered, as {"GET", "/v1/jobs/{id}"} pairs.
  std::vector<std::pair<std::string, std::string>> Routes() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> draining_{false};
  int port_ = 0;
};

// Registers the API's metric families on `metrics` (also done by ApiServer).
void DeclareApiMetrics(MetricsRegistry& metrics);

}  // namespace swapline::service
