// JobQueue over one SQLite file (WAL): the embedded, single-machine queue.
//
// One row per job. Every state move is one IMMEDIATE transaction, so several
// processes may share the file (busy timeout). Leases are timestamps: a running job
// whose lease_until has passed is taken over by the next Claim. Within one process a
// condition variable wakes waiting Claims on Submit/Release/retry; submissions by
// other processes are noticed within JobQueueOptions::poll_interval.
#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <variant>

#include "core/random_text.h"
#include "job/job_queue.h"
#include "job/queue_backends.h"

namespace swapline::job::internal {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  id               TEXT PRIMARY KEY,
  tenant           TEXT NOT NULL,
  state            TEXT NOT NULL,            -- JobStateName(); stored, never renamed
  spec             TEXT NOT NULL,            -- JobSpec::ToJson()
  progress         REAL NOT NULL DEFAULT 0,
  attempts         INTEGER NOT NULL DEFAULT 0,
  deliveries       INTEGER NOT NULL DEFAULT 0, -- hand-outs since the last outcome
  max_attempts     INTEGER NOT NULL,
  result_uri       TEXT,
  error_code       TEXT,
  error_message    TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  lease_token      TEXT,
  lease_worker     TEXT,
  lease_until      INTEGER NOT NULL DEFAULT 0, -- ms since epoch
  not_before       INTEGER NOT NULL DEFAULT 0, -- ms since epoch; ready from then
  created_ms       INTEGER NOT NULL,
  updated_ms       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(state, not_before, id);
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs(state, lease_until);
CREATE INDEX IF NOT EXISTS jobs_tenant ON jobs(tenant, id);
CREATE INDEX IF NOT EXISTS jobs_tenant_state ON jobs(tenant, state, id);
-- Whose turn it is: a tenant's turn number is set past everyone's when one of its
-- queued jobs is claimed, so the tenant served longest ago goes next.
CREATE TABLE IF NOT EXISTS tenant_turns (
  tenant TEXT PRIMARY KEY,
  turn   INTEGER NOT NULL
) WITHOUT ROWID;
-- Rate limits (TakeRateToken): when tenant's bucket of limit `name` is full again.
CREATE TABLE IF NOT EXISTS rate_buckets (
  name       TEXT NOT NULL,
  tenant     TEXT NOT NULL,
  full_at_us INTEGER NOT NULL,  -- µs since epoch
  PRIMARY KEY (name, tenant)
) WITHOUT ROWID;
)sql";

constexpr const char* kRecordColumns =
    "id, tenant, state, spec, progress, attempts, result_uri, error_code, error_message, "
    "cancel_requested, created_ms, updated_ms";

std::int64_t NowMs() { return ToMillis(Clock::now()); }

// Wakes Claims waiting on the same file in this process, whichever JobQueue object
// they use (the API and in-process workers may open the file separately).
// Other processes are noticed by polling.
struct Wakeup {
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t generation = 0;  // GUARDED_BY(mu)

  std::uint64_t Current() {
    std::lock_guard<std::mutex> lock(mu);
    return generation;
  }
  void Notify() {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++generation;
    }
    cv.notify_all();
  }
  void WaitFor(std::uint64_t seen, std::chrono::steady_clock::duration d) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, d, [&] { return generation != seen; });
  }
};

std::shared_ptr<Wakeup> WakeupFor(const std::filesystem::path& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<Wakeup>> registry;
  std::error_code ec;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
  const std::string key = ec ? path.string() : canonical.string();
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<Wakeup> w = registry[key].lock();
  if (!w) {
    w = std::make_shared<Wakeup>();
    registry[key] = w;
  }
  return w;
}

Status LeaseLost(const std::string& id, const std::string& why) {
  return FailedPrecondition("job " + id + ": lease lost (" + why + ")");
}

Result<JobRecord> ReadRecord(SQLite::Statement& q) {
  JobRecord r;
  auto spec_json = nlohmann::json::parse(q.getColumn(3).getString(), nullptr, false);
  if (spec_json.is_discarded()) return Internal("job " + q.getColumn(0).getString() + ": stored spec is not JSON");
  SWAPLINE_ASSIGN_OR_RETURN(r.spec, JobSpec::FromJson(spec_json));
  SWAPLINE_ASSIGN_OR_RETURN(r.state, ParseJobState(q.getColumn(2).getString()));
  r.progress = q.getColumn(4).getDouble();
  r.attempts = q.getColumn(5).getInt();
  if (!q.getColumn(6).isNull()) r.result_uri = q.getColumn(6).getString();
  if (!q.getColumn(7).isNull()) {
    r.error = JobError{q.getColumn(7).getString(), q.getColumn(8).getString()};
  }
  r.cancel_requested = r.state == JobState::kRunning && q.getColumn(9).getInt() != 0;
  r.created = FromMillis(q.getColumn(10).getInt64());
  r.updated = FromMillis(q.getColumn(11).getInt64());
  return r;
}

class SqliteQueue final : public JobQueue {
 public:
  SqliteQueue(std::filesystem::path path, const JobQueueOptions& options)
      : path_(std::move(path)),
        options_(options),
        wakeup_(WakeupFor(path_)),
        db_(path_.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX) {
    db_.setBusyTimeout(10'000);
    db_.exec("PRAGMA journal_mode=WAL");
    db_.exec("PRAGMA synchronous=NORMAL");
    db_.exec("PRAGMA foreign_keys=ON");
    SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
    db_.exec(kSchema);
    tx.commit();
  }

  std::string Describe() const override { return "sqlite://" + path_.string(); }
  const JobQueueOptions& options() const override { return options_; }

  Result<JobRecord> Submit(const JobSpec& spec, int max_active_jobs) override {
    SWAPLINE_RETURN_IF_ERROR(spec.Validate(/*require_identity=*/true));
    Result<JobRecord> result = Guard<JobRecord>("submit", [&]() -> Result<JobRecord> {
      SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
      {
        SQLite::Statement q(db_, "SELECT tenant FROM jobs WHERE id = ?");
        q.bind(1, spec.id);
        if (q.executeStep()) {
          if (q.getColumn(0).getString() != spec.tenant) {
            return FailedPrecondition("job id " + spec.id + " is already taken");
          }
          tx.commit();
          return LoadLocked(spec.tenant, spec.id);
        }
      }
      if (max_active_jobs > 0) {
        SQLite::Statement q(db_, "SELECT COUNT(*) FROM jobs WHERE tenant = ? AND state IN ('queued', 'running')");
        q.bind(1, spec.tenant);
        q.executeStep();
        if (q.getColumn(0).getInt64() >= max_active_jobs) return ActiveJobsLimitError(spec.tenant, max_active_jobs);
      }
      const std::int64_t now = NowMs();
      SQLite::Statement ins(db_,
                            "INSERT INTO jobs (id, tenant, state, spec, max_attempts, not_before, "
                            "created_ms, updated_ms) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)");
      ins.bind(1, spec.id);
      ins.bind(2, spec.tenant);
      ins.bind(3, spec.ToJson().dump());
      ins.bind(4, spec.max_attempts);
      ins.bind(5, now);
      ins.bind(6, now);
      ins.bind(7, now);
      ins.exec();
      tx.commit();
      return LoadLocked(spec.tenant, spec.id);
    });
    if (result.ok()) wakeup_->Notify();
    return result;
  }

  Result<std::optional<Lease>> Claim(const std::string& worker_id,
                                     std::chrono::milliseconds wait) override {
    if (worker_id.empty()) return InvalidArgument("worker id must not be empty");
    const auto deadline = std::chrono::steady_clock::now() + std::max(wait, std::chrono::milliseconds(0));
    while (true) {
      const std::uint64_t seen = wakeup_->Current();
      {
        std::lock_guard<std::mutex> lock(mu_);
        Result<std::optional<Lease>> got = ClaimOnceLocked(worker_id);
        if (!got.ok() || got->has_value()) return got;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return std::optional<Lease>();
      wakeup_->WaitFor(seen, std::min<std::chrono::steady_clock::duration>(deadline - now,
                                                                           options_.poll_interval));
    }
  }

  Result<RenewResult> Renew(const Lease& lease) override {
    return Guard<RenewResult>("renew", [&]() -> Result<RenewResult> {
      SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
      SWAPLINE_RETURN_IF_ERROR(CheckLeaseLocked(lease));
      const std::int64_t until = NowMs() + options_.lease.count();
      SQLite::Statement up(db_, "UPDATE jobs SET lease_until = ? WHERE id = ?");
      up.bind(1, until);
      up.bind(2, lease.job_id());
      up.exec();
      SQLite::Statement q(db_, "SELECT cancel_requested FROM jobs WHERE id = ?");
      q.bind(1, lease.job_id());
      RenewResult r;
      if (q.executeStep()) r.cancel_requested = q.getColumn(0).getInt() != 0;
      r.expires = FromMillis(until);
      tx.commit();
      return r;
    });
  }

  Status Progress(const Lease& lease, double fraction) override {
    if (!(fraction >= 0)) fraction = 0;  // also NaN
    if (fraction > 1) fraction = 1;
    return GuardStatus("progress", [&]() -> Status {
      SQLite::Statement up(db_,
                           "UPDATE jobs SET progress = ?, updated_ms = ? "
                           "WHERE id = ? AND state = 'running' AND lease_token = ?");
      up.bind(1, fraction);
      up.bind(2, NowMs());
      up.bind(3, lease.job_id());
      up.bind(4, lease.token);
      if (up.exec() == 0) return LeaseLost(lease.job_id(), "taken over or settled");
      return Status::Ok();
    });
  }

  Status Complete(const Lease& lease, const std::string& result_uri) override {
    if (result_uri.empty()) return InvalidArgument("result URI must not be empty");
    return GuardStatus("complete", [&]() -> Status {
      SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
      SQLite::Statement q(db_, "SELECT state FROM jobs WHERE id = ?");
      q.bind(1, lease.job_id());
      if (!q.executeStep()) return NotFound("no job " + lease.job_id());
      if (q.getColumn(0).getString() == std::string("succeeded")) return Status::Ok();
      SWAPLINE_RETURN_IF_ERROR(CheckLeaseLocked(lease));
      SQLite::Statement up(db_,
                           "UPDATE jobs SET state = 'succeeded', progress = 1, result_uri = ?, "
                           "error_code = NULL, error_message = NULL, cancel_requested = 0, "
                           "lease_token = NULL, deliveries = 0, updated_ms = ? WHERE id = ?");
      up.bind(1, result_uri);
      up.bind(2, NowMs());
      up.bind(3, lease.job_id());
      up.exec();
      tx.commit();
      return Status::Ok();
    });
  }

  Status Fail(const Lease& lease, const Status& error, bool retryable) override {
    bool requeued = false;
    Status s = GuardStatus("fail", [&]() -> Status {
      SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
      SWAPLINE_RETURN_IF_ERROR(CheckLeaseLocked(lease));
      SQLite::Statement q(db_, "SELECT attempts, max_attempts, cancel_requested FROM jobs WHERE id = ?");
      q.bind(1, lease.job_id());
      if (!q.executeStep()) return NotFound("no job " + lease.job_id());
      const int attempts = q.getColumn(0).getInt();
      const int max_attempts = q.getColumn(1).getInt();
      const bool cancel = q.getColumn(2).getInt() != 0;
      const std::int64_t now = NowMs();
      JobError err = JobError::FromStatus(error.ok() ? Internal("failed without an error") : error);
      std::string state;
      std::int64_t not_before = 0;
      if (cancel) {
        state = "cancelled";
        err = JobError{CodeName(Code::kCancelled), "cancelled by request"};
      } else if (!retryable) {
        state = "failed";
      } else if (attempts >= max_attempts) {
        state = "dead";
        err.message = "gave up after " + std::to_string(attempts) + " attempts: " + err.message;
      } else {
        state = "queued";
        not_before = now + RetryBackoff(options_, attempts).count();
        requeued = true;
      }
      SQLite::Statement up(db_,
                           "UPDATE jobs SET state = ?, error_code = ?, error_message = ?, "
                           "lease_token = NULL, deliveries = 0, not_before = ?, cancel_requested = 0, "
                           "progress = CASE WHEN ? = 'queued' THEN 0 ELSE progress END, "
                           "updated_ms = ? WHERE id = ?");
      up.bind(1, state);
      up.bind(2, err.code);
      up.bind(3, err.message);
      up.bind(4, not_before);
      up.bind(5, state);
      up.bind(6, now);
      up.bind(7, lease.job_id());
      up.exec();
      tx.commit();
      return Status::Ok();
    });
    if (s.ok() && requeued) wakeup_->Notify();
    return s;
  }

  Status Release(const Lease& lease) override {
    Status s = GuardStatus("release", [&]() -> Status {
      SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
      SWAPLINE_RETURN_IF_ERROR(CheckLeaseLocked(lease));
      const std::int64_t now = NowMs();
      SQLite::Statement up(
          db_,
          "UPDATE jobs SET "
          "state = CASE WHEN cancel_requested != 0 THEN 'cancelled' ELSE 'queued' END, "
          "error_code = CASE WHEN cancel_requested != 0 THEN 'cancelled' ELSE error_code END, "
          "error_message = CASE WHEN cancel_requested != 0 THEN 'cancelled by request' "
          "  ELSE error_message END, "
          "attempts = MAX(attempts - 1, 0), deliveries = 0, lease_token = NULL, progress = 0, "
          "cancel_requested = 0, "
          "not_before = ?, updated_ms = ? WHERE id = ?");
      up.bind(1, now);
      up.bind(2, now);
      up.bind(3, lease.job_id());
      up.exec();
      tx.commit();
      return Status::Ok();
    });
    if (s.ok()) wakeup_->Notify();
    return s;
  }

  Result<JobRecord> Cancel(const std::string& tenant, const std::string& id) override {
    return Guard<JobRecord>("cancel", [&]() -> Result<JobRecord> {
      SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
      SQLite::Statement q(db_, "SELECT state FROM jobs WHERE id = ? AND tenant = ?");
      q.bind(1, id);
      q.bind(2, tenant);
      if (!q.executeStep()) return NotFoundJob(id);
      const std::string state = q.getColumn(0).getString();
      const std::int64_t now = NowMs();
      if (state == "queued") {
        SQLite::Statement up(db_,
                             "UPDATE jobs SET state = 'cancelled', error_code = 'cancelled', "
                             "error_message = 'cancelled by request', updated_ms = ? WHERE id = ?");
        up.bind(1, now);
        up.bind(2, id);
        up.exec();
      } else if (state == "running") {
        SQLite::Statement up(db_,
                             "UPDATE jobs SET cancel_requested = 1, updated_ms = ? WHERE id = ?");
        up.bind(1, now);
        up.bind(2, id);
        up.exec();
      }
      tx.commit();
      return LoadLocked(tenant, id);
    });
  }

  Result<JobRecord> Get(const std::string& tenant, const std::string& id) override {
    return Guard<JobRecord>("get", [&]() { return LoadLocked(tenant, id); });
  }

  Result<ListPage> List(const std::string& tenant, const ListOptions& options) override {
    if (!options.cursor.empty() && !IsValidJobId(options.cursor)) {
      return InvalidArgument("cursor: not a cursor from a previous page");
    }
    const int limit = std::clamp(options.limit, 1, 1000);
    return Guard<ListPage>("list", [&]() -> Result<ListPage> {
      std::string sql = std::string("SELECT ") + kRecordColumns + " FROM jobs WHERE tenant = ?";
      if (options.state) sql += " AND state = ?";
      if (!options.cursor.empty()) sql += " AND id < ?";
      sql += " ORDER BY id DESC LIMIT ?";
      SQLite::Statement q(db_, sql);
      int i = 1;
      q.bind(i++, tenant);
      if (options.state) q.bind(i++, JobStateName(*options.state));
      if (!options.cursor.empty()) q.bind(i++, options.cursor);
      q.bind(i++, limit + 1);
      ListPage page;
      while (q.executeStep()) {
        if (static_cast<int>(page.jobs.size()) == limit) {
          page.next_cursor = page.jobs.back().id();
          break;
        }
        SWAPLINE_ASSIGN_OR_RETURN(JobRecord r, ReadRecord(q));
        page.jobs.push_back(std::move(r));
      }
      return page;
    });
  }

  Result<RateDecision> TakeRateToken(const std::string& tenant, const RateLimit& limit) override {
    if (limit.max < 1 || limit.window.count() < 1) {
      return InvalidArgument("rate limit " + limit.name + ": max and window must be positive");
    }
    return Guard<RateDecision>("rate limit", [&]() -> Result<RateDecision> {
      // GCRA, as the Redis queue: the bucket is full again at full_at; each token
      // pushes that one interval on, and a token is there while it stays within a
      // window of now.
      SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
      const std::int64_t now =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
      const std::int64_t window = limit.window.count() * 1000;
      const std::int64_t interval = std::max<std::int64_t>(1, window / limit.max);
      SQLite::Statement q(db_, "SELECT full_at_us FROM rate_buckets WHERE name = ? AND tenant = ?");
      q.bind(1, limit.name);
      q.bind(2, tenant);
      const std::int64_t full_at = std::max(now, q.executeStep() ? q.getColumn(0).getInt64() : now);
      q.reset();
      RateDecision d;
      const std::int64_t allowed_at = full_at + interval - window;
      if (allowed_at > now) {
        d.retry_after = std::chrono::milliseconds((allowed_at - now + 999) / 1000);
        return d;
      }
      SQLite::Statement up(db_,
                           "INSERT INTO rate_buckets (name, tenant, full_at_us) VALUES (?, ?, ?) "
                           "ON CONFLICT (name, tenant) DO UPDATE SET full_at_us = excluded.full_at_us");
      up.bind(1, limit.name);
      up.bind(2, tenant);
      up.bind(3, full_at + interval);
      up.exec();
      tx.commit();
      d.allowed = true;
      return d;
    });
  }

  Result<QueueStats> Stats() override {
    return Guard<QueueStats>("stats", [&]() -> Result<QueueStats> {
      QueueStats st;
      SQLite::Statement q(db_, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
      while (q.executeStep()) {
        Result<JobState> s = ParseJobState(q.getColumn(0).getString());
        if (s.ok()) st.by_state[static_cast<int>(*s)] = q.getColumn(1).getInt64();
      }
      const std::int64_t now = NowMs();
      SQLite::Statement r(db_,
                          "SELECT COUNT(*), MIN(not_before) FROM jobs "
                          "WHERE state = 'queued' AND not_before <= ?");
      r.bind(1, now);
      if (r.executeStep()) {
        st.ready = r.getColumn(0).getInt64();
        if (!r.getColumn(1).isNull()) {
          st.oldest_ready_age = std::chrono::milliseconds(std::max<std::int64_t>(0, now - r.getColumn(1).getInt64()));
        }
      }
      st.delayed = st.count(JobState::kQueued) - st.ready;
      st.in_flight = st.count(JobState::kRunning);
      st.lag = st.ready;
      st.dead_letter = st.count(JobState::kDead);
      return st;
    });
  }

 private:
  static Status NotFoundJob(const std::string& id) { return NotFound("no job " + id); }

  // Runs `fn` under the mutex, turning SQLite exceptions into Status.
  template <typename T, typename Fn>
  Result<T> Guard(const char* what, Fn&& fn) {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      return fn();
    } catch (const SQLite::Exception& e) {
      return DbError(what, e);
    } catch (const std::exception& e) {
      return Internal(std::string("job queue ") + what + ": " + e.what());
    }
  }
  // Guard for work that yields only a Status.
  template <typename Fn>
  Status GuardStatus(const char* what, Fn&& fn) {
    return Guard<std::monostate>(what, [&]() -> Result<std::monostate> {
             SWAPLINE_RETURN_IF_ERROR(fn());
             return std::monostate{};
           })
        .status();
  }
  Status DbError(const char* what, const SQLite::Exception& e) const {
    const int code = e.getErrorCode();
    std::string msg = std::string("job queue ") + what + " on " + path_.string() + ": " + e.what();
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return Unavailable(msg);
    return IOError(msg);
  }

  // REQUIRES: mu_ held.
  Result<JobRecord> LoadLocked(const std::string& tenant, const std::string& id) {
    SQLite::Statement q(db_, std::string("SELECT ") + kRecordColumns +
                                 " FROM jobs WHERE id = ? AND tenant = ?");
    q.bind(1, id);
    q.bind(2, tenant);
    if (!q.executeStep()) return NotFoundJob(id);
    return ReadRecord(q);
  }

  // REQUIRES: mu_ held, inside a transaction.
  Status CheckLeaseLocked(const Lease& lease) {
    SQLite::Statement q(db_, "SELECT state, lease_token FROM jobs WHERE id = ?");
    q.bind(1, lease.job_id());
    if (!q.executeStep()) return NotFoundJob(lease.job_id());
    const std::string state = q.getColumn(0).getString();
    if (state != "running") return LeaseLost(lease.job_id(), "job is " + state);
    if (q.getColumn(1).isNull() || q.getColumn(1).getString() != lease.token) {
      return LeaseLost(lease.job_id(), "taken over by another worker");
    }
    return Status::Ok();
  }

  // REQUIRES: mu_ held.
  Result<std::optional<Lease>> ClaimOnceLocked(const std::string& worker_id) {
    try {
      SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
      const std::int64_t now = NowMs();
      // 0. Now and then, ended jobs past the retention period are deleted.
      const std::int64_t retention = options_.retention.count();
      if (retention > 0 && now >= next_purge_ms_) {
        SQLite::Statement purge(db_,
                                "DELETE FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled', 'dead') "
                                "AND updated_ms < ?");
        purge.bind(1, now - retention);
        purge.exec();
        next_purge_ms_ = now + std::min<std::int64_t>(retention, 60'000);
      }
      // 1. Jobs whose lease ran out: settle or take over.
      while (true) {
        SQLite::Statement q(db_,
                            "SELECT id, deliveries, cancel_requested FROM jobs "
                            "WHERE state = 'running' AND lease_until <= ? "
                            "ORDER BY lease_until LIMIT 1");
        q.bind(1, now);
        if (!q.executeStep()) break;
        const std::string id = q.getColumn(0).getString();
        const int deliveries = q.getColumn(1).getInt();
        const bool cancel = q.getColumn(2).getInt() != 0;
        q.reset();
        if (cancel) {
          Settle(id, "cancelled", CodeName(Code::kCancelled), "cancelled by request", now);
          continue;
        }
        if (deliveries >= options_.max_deliveries) {
          Settle(id, "dead", "delivery_limit",
                 "handed to a worker " + std::to_string(deliveries) +
                     " times without an outcome (workers crashed or hung); dead-lettered",
                 now);
          continue;
        }
        Result<Lease> lease = TakeLocked(id, worker_id, now);
        tx.commit();
        if (!lease.ok()) return lease.status();
        return std::optional<Lease>(std::move(lease).value());
      }
      // 2. Queued jobs: of the tenant with the fewest running jobs, among those the
      //    one served longest ago (one tenant's burst must not starve the others),
      //    then in order.
      SQLite::Statement q(db_,
                          "SELECT j.id, j.tenant FROM jobs j LEFT JOIN tenant_turns t ON t.tenant = j.tenant "
                          "WHERE j.state = 'queued' AND j.not_before <= ? "
                          "ORDER BY (SELECT COUNT(*) FROM jobs r WHERE r.tenant = j.tenant AND "
                          "r.state = 'running'), COALESCE(t.turn, 0), j.not_before, j.id LIMIT 1");
      q.bind(1, now);
      if (!q.executeStep()) {
        tx.commit();
        return std::optional<Lease>();
      }
      const std::string id = q.getColumn(0).getString();
      const std::string tenant = q.getColumn(1).getString();
      q.reset();
      // (An upsert from a SELECT needs its WHERE: SQLite's parser would take ON for a join.)
      SQLite::Statement turn(db_,
                             "INSERT INTO tenant_turns (tenant, turn) "
                             "SELECT ?, COALESCE(MAX(turn), 0) + 1 FROM tenant_turns WHERE true "
                             "ON CONFLICT (tenant) DO UPDATE SET turn = excluded.turn");
      turn.bind(1, tenant);
      turn.exec();
      Result<Lease> lease = TakeLocked(id, worker_id, now);
      tx.commit();
      if (!lease.ok()) return lease.status();
      return std::optional<Lease>(std::move(lease).value());
    } catch (const SQLite::Exception& e) {
      return DbError("claim", e);
    }
  }

  void Settle(const std::string& id, const std::string& state, const std::string& code,
              const std::string& message, std::int64_t now) {
    SQLite::Statement up(db_,
                         "UPDATE jobs SET state = ?, error_code = ?, error_message = ?, "
                         "lease_token = NULL, cancel_requested = 0, updated_ms = ? WHERE id = ?");
    up.bind(1, state);
    up.bind(2, code);
    up.bind(3, message);
    up.bind(4, now);
    up.bind(5, id);
    up.exec();
  }

  Result<Lease> TakeLocked(const std::string& id, const std::string& worker_id, std::int64_t now) {
    Lease lease;
    lease.token = RandomText(kHexDigits, 32);
    lease.worker_id = worker_id;
    const std::int64_t until = now + options_.lease.count();
    SQLite::Statement up(db_,
                         "UPDATE jobs SET state = 'running', attempts = attempts + 1, "
                         "deliveries = deliveries + 1, lease_token = ?, lease_worker = ?, "
                         "lease_until = ?, updated_ms = ? WHERE id = ?");
    up.bind(1, lease.token);
    up.bind(2, worker_id);
    up.bind(3, until);
    up.bind(4, now);
    up.bind(5, id);
    up.exec();
    SQLite::Statement q(db_, "SELECT spec, attempts, deliveries FROM jobs WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return Internal("job " + id + " vanished while claimed");
    auto spec_json = nlohmann::json::parse(q.getColumn(0).getString(), nullptr, false);
    SWAPLINE_ASSIGN_OR_RETURN(lease.spec, JobSpec::FromJson(spec_json));
    lease.attempt = q.getColumn(1).getInt();
    lease.delivery = q.getColumn(2).getInt();
    lease.expires = FromMillis(until);
    return lease;
  }

  const std::filesystem::path path_;
  const JobQueueOptions options_;
  const std::shared_ptr<Wakeup> wakeup_;
  std::mutex mu_;
  SQLite::Database db_;          // GUARDED_BY(mu_)
  std::int64_t next_purge_ms_ = 0;  // GUARDED_BY(mu_): when Claim next deletes expired jobs
};

}  // namespace

Result<std::unique_ptr<JobQueue>> OpenSqliteQueue(const std::filesystem::path& path,
                                                  const JobQueueOptions& options) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return IOError("cannot create folder for queue " + path.string() + ": " + ec.message());
  }
  try {
    return std::unique_ptr<JobQueue>(std::make_unique<SqliteQueue>(path, options));
  } catch (const SQLite::Exception& e) {
    return IOError("cannot open queue " + path.string() + ": " + e.what());
  }
}

}  // namespace swapline::job::internal
