#include "service/api_server_impl.h"


namespace swapline::service {

void DeclareApiMetrics(MetricsRegistry& m) {
  using T = MetricsRegistry::Type;
  m.Declare("swapline_http_requests_total", T::kCounter,
            "HTTP requests by method, route (\"unmatched\": refused before routing) and status "
            "(\"aborted\": the client went away before an answer)");
  m.Declare("swapline_http_request_duration_seconds", T::kHistogram,
            "HTTP request time by route, from the request head to the answer's last byte",
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

}  // namespace swapline::service
