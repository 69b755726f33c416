// JobQueue: where jobs wait, are leased to workers and record their outcome.
//
// Two implementations share this contract and one conformance test suite
// (tests/job/job_queue_test.cc): Redis Streams (a cluster) and SQLite (one machine).
//
// Contract:
//  * Thread safety: a JobQueue may be used from many threads at once without outside
//    locking. Several processes may open the same queue (same Redis stream, same
//    SQLite file) and share the work.
//  * Delivery is at least once; outcomes are exactly once. A job is handed to one
//    worker at a time under a lease. The lease lasts Options::lease and is kept by
//    Renew() (workers renew every lease/3). A lease that is not renewed expires and
//    the next Claim() anywhere takes the job over (a new attempt). Complete() turns a
//    job succeeded at most once, whatever the races: a second Complete() is a no-op,
//    and a stale lease (taken over) cannot complete, fail or release the job.
//  * Lease calls (Renew, Progress, Complete, Fail, Release) made with a lease that is
//    no longer the job's current lease fail with kFailedPrecondition (IsLeaseLost());
//    the worker must stop and drop the job without side effects beyond its own
//    (idempotent) output. Complete() of a job that already succeeded returns OK.
//  * Attempts and deliveries. JobRecord::attempts counts every hand-out (Claim),
//    takeovers included; Release() gives one back. A retryable Fail() re-queues the
//    job after a capped exponential backoff while attempts < spec.max_attempts, and
//    makes it dead after that. Separately, a job that is handed out
//    Options::max_deliveries times in a row without an outcome (each lease expired:
//    a poison job that crashes its workers) becomes dead instead of being handed out
//    again (Redis: moved to the dead-letter stream). Fail/Release reset that count.
//  * Cancel. A queued job becomes cancelled at once. A running job gets a flag that
//    Renew() reports; the worker stops and calls Fail() (any error; the job becomes
//    cancelled) or Release(). If the worker completes anyway, the result stands
//    (succeeded). A cancelled job is never handed out again, and a cancelled queued
//    job leaves the backlog figures of Stats() (ready, lag) at once. Nothing is ever
//    deleted from the queue's history by Cancel (Redis: never XDEL).
//  * Tenants. Get/List/Cancel take the caller's tenant; a job of another tenant is
//    answered exactly as a missing one (kNotFound).
//  * Errors: kInvalidArgument (bad spec or argument), kNotFound (no such job for this
//    tenant), kFailedPrecondition (lease lost; job id taken by another tenant),
//    kUnavailable (server unreachable; the call may be retried — clients reconnect on
//    their own), kIOError/kInternal (storage or unexpected failures).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "job/job_spec.h"

namespace swapline::job {

struct JobQueueOptions {
  // --- behaviour ---
  // How long a claimed job stays with its worker without a Renew(). Workers renew
  // every lease/3; after `lease` of silence the job is taken over by another Claim.
  std::chrono::milliseconds lease{30'000};
  // A job handed out this many times in a row whose leases all expired (no Complete,
  // Fail or Release) is made dead instead of being handed out again.
  int max_deliveries = 5;
  // Retry backoff after a retryable Fail(): initial × 2^(attempts-1), at most max.
  std::chrono::milliseconds retry_backoff_initial{1'000};
  std::chrono::milliseconds retry_backoff_max{60'000};

  // --- retention ---
  // Ended jobs (succeeded, failed, cancelled, dead) are deleted this long after they
  // ended: Redis sets a TTL on the job's hash (List drops expired ids from the
  // tenant index as it meets them); SQLite deletes them in Claim, at most once a
  // minute. Unfinished jobs are never deleted. 0: keep them forever.
  std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
  // Redis: entries kept in the dead-letter stream (XADD MAXLEN). Acknowledged
  // history of the job stream is trimmed with XTRIM MINID as before.
  std::int64_t dead_letter_max = 10'000;

  // --- performance ---
  // Longest single blocking wait inside Claim (Redis BLOCK, SQLite poll period);
  // Claim(wait) loops up to `wait` in total. Also how often a Claim of another
  // process's submission is noticed (SQLite: poll_interval).
  std::chrono::milliseconds poll_interval{50};
  // Redis: socket connect and command timeout (command timeout is extended by the
  // blocking wait for blocking reads).
  std::chrono::milliseconds io_timeout{5'000};
};

// A job handed to one worker. Copyable; pass it back to the lease calls.
struct Lease {
  JobSpec spec;
  int attempt = 0;     // JobRecord::attempts after this claim (1 on the first)
  int delivery = 0;    // hand-outs in a row without an outcome, this one included
  std::string worker_id;
  std::string token;   // identifies this claim; opaque to callers
  TimePoint expires{}; // when the lease expires unless renewed (queue's clock)

  const std::string& job_id() const { return spec.id; }
};

struct RenewResult {
  bool cancel_requested = false;  // the job was cancelled: stop and Fail()/Release()
  TimePoint expires{};            // new expiry
};

struct ListOptions {
  std::optional<JobState> state;  // only jobs in this state; absent: all
  int limit = 50;                 // 1..1000 (larger values are clamped)
  std::string cursor;             // from the previous page's next_cursor; "" = start
};

struct ListPage {
  // Newest first (descending job id = creation time).
  std::vector<JobRecord> jobs;
  // Pass as ListOptions::cursor for the next page; empty on the last page. A page
  // may hold fewer than `limit` jobs when a state filter skips many; keep paging
  // until next_cursor is empty.
  std::string next_cursor;
};

struct QueueStats {
  std::array<std::int64_t, kJobStateCount> by_state{};  // indexed by JobState
  std::int64_t ready = 0;        // queued and due now (backlog workers could start)
  std::int64_t delayed = 0;      // queued, waiting out a retry backoff
  std::int64_t in_flight = 0;    // leased to workers (Redis: pending entries)
  // Redis: consumer group lag (dispatch tickets not yet read by any worker: one per
  // ready job, so it follows `ready`; what KEDA reads), -1 when Redis cannot tell.
  // SQLite: equal to `ready`.
  std::int64_t lag = 0;
  std::int64_t dead_letter = 0;  // Redis: length of the dead-letter stream; SQLite: dead
  // Age of the oldest ready job (0 when none): backlog latency for alerts.
  std::chrono::milliseconds oldest_ready_age{0};

  std::int64_t count(JobState s) const { return by_state[static_cast<int>(s)]; }
};

// A per-tenant rate limit: a token bucket of `max` tokens that refills one token
// every window/max (the generic cell rate algorithm: one stored time per tenant), so
// a tenant may spend `max` at once and then `max` per `window`.
struct RateLimit {
  std::string name;  // the operator's name for it; also its key in the store
  std::int64_t max = 0;
  std::chrono::milliseconds window{60'000};
};

struct RateDecision {
  bool allowed = false;
  std::chrono::milliseconds retry_after{0};  // when refused: until a token is back
};

class JobQueue {
 public:
  virtual ~JobQueue() = default;

  // "redis://127.0.0.1:6379/0?stream=swapline:jobs" or "sqlite:///var/queue.db", for
  // messages (no password).
  virtual std::string Describe() const = 0;

  // The options the queue was opened with (workers renew every options().lease / 3).
  virtual const JobQueueOptions& options() const = 0;

  // Adds a job in state queued. REQUIRES: spec.Validate(true) passes (see
  // FinalizeJobSpec); otherwise InvalidArgument. Submitting an id that already
  // exists for the same tenant returns the existing record unchanged (a safe retry);
  // for another tenant it is kFailedPrecondition. With `max_active_jobs` > 0, a new
  // job of a tenant that already has that many queued or running jobs is refused
  // with kThrottled ("limit max_active_jobs_per_tenant: ..."), atomically with the
  // insert, so concurrent submissions cannot overshoot.
  virtual Result<JobRecord> Submit(const JobSpec& spec, int max_active_jobs = 0) = 0;

  // Hands the next job to `worker_id` (a name unique per worker thread/process, e.g.
  // "host-1234-0"). Jobs whose lease expired are taken over first, then queued jobs:
  // tenants take turns (one tenant's burst does not hold up another's job for more
  // than about one claim per waiting tenant), and each tenant's jobs go in
  // submission order (retries when their backoff is over). Waits up to `wait` for
  // one to appear (0: do not wait); nullopt when none came. Cancelled queued jobs
  // and jobs past the delivery limit are settled here and never returned.
  virtual Result<std::optional<Lease>> Claim(const std::string& worker_id,
                                             std::chrono::milliseconds wait) = 0;

  // Heartbeat: extends the lease to now + Options::lease and says whether a cancel
  // was requested. kFailedPrecondition (IsLeaseLost) when the job was taken over or
  // already settled.
  virtual Result<RenewResult> Renew(const Lease& lease) = 0;

  // Records progress (clamped to 0..1) shown by Get/List. Does not renew.
  virtual Status Progress(const Lease& lease, double fraction) = 0;

  // Marks the job succeeded with its result. Call only after the result is durably
  // uploaded. OK if the job already succeeded (by this or an earlier lease): the
  // first result stays. kFailedPrecondition (IsLeaseLost) if the lease was lost and
  // the job has not succeeded.
  virtual Status Complete(const Lease& lease, const std::string& result_uri) = 0;

  // Ends this attempt with `error` (its code name and message are recorded).
  // retryable: back to queued after backoff, or dead when attempts reached
  // max_attempts. Not retryable: failed. A cancel request (or error code kCancelled
  // after a cancel request) makes it cancelled either way.
  virtual Status Fail(const Lease& lease, const Status& error, bool retryable) = 0;

  // Gives the job back without penalty (SIGTERM drain): queued again at once, the
  // attempt not counted. A cancel request makes it cancelled instead.
  virtual Status Release(const Lease& lease) = 0;

  // Cancels a job of `tenant`: queued → cancelled now; running → cancel_requested
  // (Renew reports it); terminal → unchanged. Returns the record after the change.
  // kNotFound for a missing job or another tenant's.
  virtual Result<JobRecord> Cancel(const std::string& tenant, const std::string& id) = 0;

  // kNotFound for a missing job or another tenant's.
  virtual Result<JobRecord> Get(const std::string& tenant, const std::string& id) = 0;

  // One page of `tenant`'s jobs, newest first. InvalidArgument for a malformed cursor.
  virtual Result<ListPage> List(const std::string& tenant, const ListOptions& options) = 0;

  // Counts for /metrics and autoscaling (all tenants).
  virtual Result<QueueStats> Stats() = 0;

  // Takes one of `tenant`'s tokens under `limit` (a rate limit kept in the queue's
  // store, so every process sharing the queue shares it). OK when one was there;
  // otherwise the decision says how long until the next one.
  virtual Result<RateDecision> TakeRateToken(const std::string& tenant, const RateLimit& limit) = 0;
};

// The kThrottled error of a Submit over `max_active_jobs`.
Status ActiveJobsLimitError(const std::string& tenant, int max_active_jobs);

// True when a lease call failed because the lease is no longer the job's.
inline bool IsLeaseLost(const Status& status) {
  return status.code() == Code::kFailedPrecondition;
}

// Opens a queue:
//   "sqlite:///abs/path/queue.db", "sqlite://./var/queue.db" or "sqlite://var/q.db"
//     (relative to the working directory; parent folders are created);
//   "redis://[[user]:password@]host[:port][/db][?stream=NAME&group=NAME]"
//     (defaults: port 6379, db 0, stream "swapline:jobs", group "workers"; user and
//     password percent-encoded: '/' as %2F, '?' as %3F, '@' as %40); the stream
//     and group are created when missing. Job hashes live at "<ns>job:<id>" where
//     <ns> is the stream name up to and including its last ':' ("swapline:"),
//     or the stream name plus ':' when it has none.
// InvalidArgument for a malformed URI or unknown scheme; kUnavailable when Redis
// cannot be reached; kIOError when the SQLite file cannot be opened.
Result<std::unique_ptr<JobQueue>> OpenJobQueue(const std::string& uri,
                                               const JobQueueOptions& options = {});

// Retry delay after a retryable failure of attempt number `attempt` (1-based).
std::chrono::milliseconds RetryBackoff(const JobQueueOptions& options, int attempt);

}  // namespace swapline::job
