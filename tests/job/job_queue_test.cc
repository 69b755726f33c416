// JobQueue conformance: the same tests run against the SQLite queue and the Redis
// Streams queue (a real redis-server on a free loopback port, started by the test).
// Each test opens the queue several times on one URI, as separate processes would.
#include "job/job_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "job/queue_backends.h"
#include "job/redis_client.h"
#include "support/redis_server.h"

namespace swapline::job {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

testing::RedisServer* SharedRedis() {
  static std::unique_ptr<testing::RedisServer> server = [] {
    Result<std::unique_ptr<testing::RedisServer>> s = testing::RedisServer::Start();
    if (!s.ok()) {
      ADD_FAILURE() << "cannot start redis-server: " << s.status().ToString()
                    << " (run make deps)";
      return std::unique_ptr<testing::RedisServer>();
    }
    return std::move(s).value();
  }();
  return server.get();
}

class QueueTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const int n = counter++;
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() /
             ("swapline-queue-" + std::to_string(::getpid()) + "-" + std::to_string(n));
      std::filesystem::create_directories(dir_);
      uri_ = "sqlite://" + (dir_ / "queue.db").string();
    } else {
      testing::RedisServer* redis = SharedRedis();
      ASSERT_NE(redis, nullptr) << "redis-server is required: run make deps";
      redis_ = redis;
      uri_ = redis->Uri("t" + std::to_string(::getpid()) + "x" + std::to_string(n) + ":jobs");
    }
    options_.lease = milliseconds(300);
    options_.retry_backoff_initial = milliseconds(20);
    options_.retry_backoff_max = milliseconds(50);
    options_.poll_interval = milliseconds(20);
  }

  void TearDown() override {
    queues_.clear();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // A new handle on the queue (another "process").
  JobQueue& Open() {
    Result<std::unique_ptr<JobQueue>> q = OpenJobQueue(uri_, options_);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    if (!q.ok()) std::abort();
    queues_.push_back(std::move(q).value());
    return *queues_.back();
  }

 public:  // the helpers are shared with the Redis-only tests below
  static JobSpec Spec(const std::string& tenant, int max_attempts = 3) {
    JobSpec s;
    s.sources = {"images/input/" + tenant + "/202504051423/src.jpg"};
    s.target = "images/input/" + tenant + "/202504051423/target.png";
    s.max_attempts = max_attempts;
    s.options = {{"face-selector-mode", "one"}};
    EXPECT_TRUE(FinalizeJobSpec(s, tenant).ok());
    return s;
  }

  static JobRecord MustGet(JobQueue& q, const std::string& tenant, const std::string& id) {
    Result<JobRecord> r = q.Get(tenant, id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : JobRecord{};
  }

  // Submits `n` jobs of `tenant`; their ids in order.
  static std::vector<std::string> SubmitJobs(JobQueue& q, const std::string& tenant, int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      const JobSpec s = Spec(tenant);
      ids.push_back(s.id);
      const Result<JobRecord> r = q.Submit(s);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
    }
    return ids;
  }

  static std::optional<Lease> MustClaim(JobQueue& q, const std::string& worker, milliseconds wait) {
    Result<std::optional<Lease>> l = q.Claim(worker, wait);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? *l : std::nullopt;
  }

 protected:
  std::string uri_;
  std::filesystem::path dir_;
  testing::RedisServer* redis_ = nullptr;
  JobQueueOptions options_;
  std::vector<std::unique_ptr<JobQueue>> queues_;
};

TEST_P(QueueTest, SubmitClaimProgressComplete) {
  JobQueue& q = Open();
  const JobSpec spec = Spec("u1");
  Result<JobRecord> rec = q.Submit(spec);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->state, JobState::kQueued);
  EXPECT_EQ(rec->attempts, 0);
  EXPECT_EQ(rec->spec, spec);

  std::optional<Lease> lease = MustClaim(q, "w1", milliseconds(1000));
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->spec, spec);
  EXPECT_EQ(lease->attempt, 1);
  EXPECT_EQ(lease->delivery, 1);
  EXPECT_FALSE(lease->token.empty());
  EXPECT_EQ(MustGet(q, "u1", spec.id).state, JobState::kRunning);

  ASSERT_TRUE(q.Progress(*lease, 0.5).ok());
  EXPECT_DOUBLE_EQ(MustGet(q, "u1", spec.id).progress, 0.5);
  Result<RenewResult> renew = q.Renew(*lease);
  ASSERT_TRUE(renew.ok()) << renew.status().ToString();
  EXPECT_FALSE(renew->cancel_requested);

  ASSERT_TRUE(q.Complete(*lease, "s3://bucket/" + *spec.output).ok());
  const JobRecord done = MustGet(q, "u1", spec.id);
  EXPECT_EQ(done.state, JobState::kSucceeded);
  EXPECT_DOUBLE_EQ(done.progress, 1.0);
  EXPECT_EQ(done.result_uri, "s3://bucket/" + *spec.output);
  EXPECT_EQ(done.attempts, 1);
  EXPECT_FALSE(done.error.has_value());

  EXPECT_FALSE(MustClaim(q, "w1", milliseconds(0)).has_value());
  Result<QueueStats> st = q.Stats();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->count(JobState::kSucceeded), 1);
  EXPECT_EQ(st->count(JobState::kQueued), 0);
  EXPECT_EQ(st->in_flight, 0);
}

TEST_P(QueueTest, SubmitIsIdempotentPerTenant) {
  JobQueue& q = Open();
  const JobSpec spec = Spec("u1");
  ASSERT_TRUE(q.Submit(spec).ok());
  Result<JobRecord> again = q.Submit(spec);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->state, JobState::kQueued);
  JobSpec stolen = spec;
  stolen.tenant = "u2";
  EXPECT_EQ(q.Submit(stolen).status().code(), Code::kFailedPrecondition);
  JobSpec bad = spec;
  bad.sources.clear();
  EXPECT_EQ(q.Submit(bad).status().code(), Code::kInvalidArgument);
  // Only one job is queued.
  ASSERT_TRUE(MustClaim(q, "w", milliseconds(500)).has_value());
  EXPECT_FALSE(MustClaim(q, "w", milliseconds(0)).has_value());
}

TEST_P(QueueTest, SubmitHoldsEachTenantsActiveJobsToTheCap) {
  JobQueue& q = Open();
  const JobSpec a = Spec("u1"), b = Spec("u1"), c = Spec("u1");
  ASSERT_TRUE(q.Submit(a, 2).ok());
  ASSERT_TRUE(q.Submit(b, 2).ok());
  const Result<JobRecord> over = q.Submit(c, 2);
  EXPECT_EQ(over.status().code(), Code::kThrottled) << over.status().ToString();
  EXPECT_EQ(over.status().message().rfind("limit max_active_jobs_per_tenant:", 0), 0u);
  EXPECT_TRUE(q.Submit(a, 2).ok());         // resubmitting an existing job is not a new one
  EXPECT_TRUE(q.Submit(Spec("u2"), 2).ok());  // another tenant has its own cap
  // A running job still counts; a settled one does not.
  std::optional<Lease> lease = MustClaim(q, "w", milliseconds(500));
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(q.Submit(c, 2).status().code(), Code::kThrottled);
  ASSERT_TRUE(q.Complete(*lease, "s3://b/out.png").ok());
  ASSERT_TRUE(q.Submit(c, 2).ok());
  ASSERT_TRUE(q.Cancel("u1", c.id).ok());
  EXPECT_TRUE(q.Submit(Spec("u1"), 2).ok());
}

TEST_P(QueueTest, EndedJobsAreDeletedAfterTheRetentionPeriod) {
  options_.retention = milliseconds(200);
  options_.dead_letter_max = 2;
  JobQueue& q = Open();
  const JobSpec ended = Spec("u1"), running = Spec("u1");
  ASSERT_TRUE(q.Submit(ended).ok());
  ASSERT_TRUE(q.Submit(running).ok());
  std::optional<Lease> first = MustClaim(q, "w1", milliseconds(500));
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->job_id(), ended.id);
  ASSERT_TRUE(q.Complete(*first, "s3://b/out.png").ok());
  ASSERT_TRUE(MustClaim(q, "w2", milliseconds(500)).has_value());
  // Claims purge (SQLite); the record's TTL runs out (Redis).
  const auto deadline = Steady::now() + std::chrono::seconds(20);
  while (q.Get("u1", ended.id).ok() && Steady::now() < deadline) (void)q.Claim("w3", milliseconds(50));
  EXPECT_EQ(q.Get("u1", ended.id).status().code(), Code::kNotFound);
  EXPECT_TRUE(q.Get("u1", running.id).ok());  // unfinished jobs are never deleted
  Result<ListPage> page = q.List("u1", {});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->jobs.size(), 1u);
  EXPECT_EQ(page->jobs[0].id(), running.id);
  if (GetParam() == "redis") {
    // Dead letters beyond the cap are trimmed.
    for (int i = 0; i < 3; ++i) {
      const JobSpec doomed = Spec("u2", /*max_attempts=*/1);
      ASSERT_TRUE(q.Submit(doomed).ok());
      std::optional<Lease> lease;
      for (int k = 0; k < 50 && (!lease || lease->job_id() != doomed.id); ++k) lease = MustClaim(q, "w4", milliseconds(100));
      ASSERT_TRUE(lease && lease->job_id() == doomed.id);
      ASSERT_TRUE(q.Fail(*lease, Unavailable("down"), /*retryable=*/true).ok());
    }
    Result<QueueStats> stats = q.Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->dead_letter, 2);
  }
}

TEST_P(QueueTest, JobsAreClaimedInSubmissionOrder) {
  JobQueue& q = Open();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    const JobSpec s = Spec("u1");
    ids.push_back(s.id);
    ASSERT_TRUE(q.Submit(s).ok());
  }
  for (const auto& id : ids) {
    std::optional<Lease> l = MustClaim(q, "w", milliseconds(500));
    ASSERT_TRUE(l.has_value());
    EXPECT_EQ(l->job_id(), id);
  }
}

TEST_P(QueueTest, RenewedLeaseKeepsTheJob) {
  JobQueue& a = Open();
  JobQueue& b = Open();
  const JobSpec spec = Spec("u1");
  ASSERT_TRUE(a.Submit(spec).ok());
  std::optional<Lease> lease = MustClaim(a, "wa", milliseconds(1000));
  ASSERT_TRUE(lease.has_value());
  // Three leases' worth of time, renewing every lease/3: nobody else gets it.
  const auto until = Steady::now() + 3 * options_.lease;
  while (Steady::now() < until) {
    Result<RenewResult> r = a.Renew(*lease);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(MustClaim(b, "wb", options_.lease / 3).has_value());
  }
  ASSERT_TRUE(a.Complete(*lease, "s3://b/out.png").ok());
  const JobRecord rec = MustGet(b, "u1", spec.id);
  EXPECT_EQ(rec.state, JobState::kSucceeded);
  EXPECT_EQ(rec.attempts, 1);
}

TEST_P(QueueTest, SilentWorkersJobIsTakenOver) {
  JobQueue& a = Open();
  JobQueue& b = Open();
  const JobSpec spec = Spec("u1");
  ASSERT_TRUE(a.Submit(spec).ok());
  std::optional<Lease> first = MustClaim(a, "wa", milliseconds(1000));
  ASSERT_TRUE(first.has_value());
  const auto start = Steady::now();
  std::optional<Lease> second = MustClaim(b, "wb", 10 * options_.lease);
  const auto waited = Steady::now() - start;
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->job_id(), spec.id);
  EXPECT_EQ(second->attempt, 2);
  EXPECT_EQ(second->delivery, 2);
  EXPECT_GE(waited, options_.lease / 2);  // not before the lease ran out

  // The silent worker wakes up: all its lease calls fail as lease lost.
  Result<RenewResult> renew = a.Renew(*first);
  ASSERT_FALSE(renew.ok());
  EXPECT_TRUE(IsLeaseLost(renew.status())) << renew.status().ToString();
  EXPECT_TRUE(IsLeaseLost(a.Progress(*first, 0.9)));
  EXPECT_TRUE(IsLeaseLost(a.Complete(*first, "s3://b/a.png")));
  EXPECT_TRUE(IsLeaseLost(a.Fail(*first, Internal("x"), true)));
  EXPECT_TRUE(IsLeaseLost(a.Release(*first)));

  ASSERT_TRUE(b.Complete(*second, "s3://b/b.png").ok());
  // After the job succeeded, a stale Complete is a no-op that reports OK.
  EXPECT_TRUE(a.Complete(*first, "s3://b/a.png").ok());
  const JobRecord rec = MustGet(a, "u1", spec.id);
  EXPECT_EQ(rec.state, JobState::kSucceeded);
  EXPECT_EQ(rec.result_uri, "s3://b/b.png");
  Result<QueueStats> st = a.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kSucceeded), 1);
  EXPECT_EQ(st->count(JobState::kRunning), 0);
}

TEST_P(QueueTest, CompleteTwiceIsOneSuccess) {
  JobQueue& q = Open();
  const JobSpec spec = Spec("u1");
  ASSERT_TRUE(q.Submit(spec).ok());
  std::optional<Lease> lease = MustClaim(q, "w", milliseconds(1000));
  ASSERT_TRUE(lease.has_value());
  ASSERT_TRUE(q.Complete(*lease, "s3://b/first.png").ok());
  ASSERT_TRUE(q.Complete(*lease, "s3://b/second.png").ok());
  EXPECT_EQ(MustGet(q, "u1", spec.id).result_uri, "s3://b/first.png");
  // Lease calls other than Complete now fail: the job is settled.
  EXPECT_TRUE(IsLeaseLost(q.Renew(*lease).status()));
  EXPECT_TRUE(IsLeaseLost(q.Fail(*lease, Internal("late"), false)));
  EXPECT_EQ(MustGet(q, "u1", spec.id).state, JobState::kSucceeded);
  Result<QueueStats> st = q.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kSucceeded), 1);
}

TEST_P(QueueTest, RacingCompletesProduceOneSuccess) {
  JobQueue& a = Open();
  JobQueue& b = Open();
  for (int round = 0; round < 5; ++round) {
    const JobSpec spec = Spec("u1");
    ASSERT_TRUE(a.Submit(spec).ok());
    std::optional<Lease> stale = MustClaim(a, "wa", milliseconds(1000));
    ASSERT_TRUE(stale.has_value());
    std::optional<Lease> fresh = MustClaim(b, "wb", 10 * options_.lease);
    ASSERT_TRUE(fresh.has_value());
    std::atomic<int> ok{0};
    std::thread t1([&] { ok += a.Complete(*stale, "s3://b/a.png").ok() ? 1 : 0; });
    std::thread t2([&] { ok += b.Complete(*fresh, "s3://b/b.png").ok() ? 1 : 0; });
    t1.join();
    t2.join();
    EXPECT_GE(ok.load(), 1);
    const JobRecord rec = MustGet(a, "u1", spec.id);
    EXPECT_EQ(rec.state, JobState::kSucceeded);
    EXPECT_EQ(rec.result_uri, "s3://b/b.png");  // only the current lease can succeed
  }
  Result<QueueStats> st = a.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kSucceeded), 5);
}

TEST_P(QueueTest, RetryableFailuresRequeueThenDie) {
  JobQueue& q = Open();
  const JobSpec spec = Spec("u1", /*max_attempts=*/3);
  ASSERT_TRUE(q.Submit(spec).ok());
  for (int attempt = 1; attempt <= 3; ++attempt) {
    std::optional<Lease> lease = MustClaim(q, "w", milliseconds(2000));
    ASSERT_TRUE(lease.has_value()) << "attempt " << attempt;
    EXPECT_EQ(lease->attempt, attempt);
    EXPECT_EQ(lease->delivery, 1);
    ASSERT_TRUE(q.Fail(*lease, Unavailable("store timed out"), /*retryable=*/true).ok());
    const JobRecord rec = MustGet(q, "u1", spec.id);
    EXPECT_EQ(rec.attempts, attempt);
    ASSERT_TRUE(rec.error.has_value());
    EXPECT_EQ(rec.error->code, "unavailable");
    if (attempt < 3) {
      EXPECT_EQ(rec.state, JobState::kQueued);
    } else {
      EXPECT_EQ(rec.state, JobState::kDead);
      EXPECT_NE(rec.error->message.find("store timed out"), std::string::npos);
    }
  }
  EXPECT_FALSE(MustClaim(q, "w", milliseconds(200)).has_value());
  Result<QueueStats> st = q.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kDead), 1);
  EXPECT_EQ(st->dead_letter, 1);
}

TEST_P(QueueTest, RetryWaitsOutTheBackoff) {
  options_.retry_backoff_initial = milliseconds(400);
  options_.retry_backoff_max = milliseconds(400);
  JobQueue& q = Open();
  const JobSpec spec = Spec("u1");
  ASSERT_TRUE(q.Submit(spec).ok());
  std::optional<Lease> lease = MustClaim(q, "w", milliseconds(1000));
  ASSERT_TRUE(lease.has_value());
  ASSERT_TRUE(q.Fail(*lease, Unavailable("flaky"), true).ok());
  const auto start = Steady::now();
  Result<QueueStats> st = q.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->delayed, 1);
  EXPECT_EQ(st->ready, 0);
  EXPECT_FALSE(MustClaim(q, "w", milliseconds(100)).has_value());
  std::optional<Lease> retry = MustClaim(q, "w", milliseconds(3000));
  ASSERT_TRUE(retry.has_value());
  EXPECT_GE(Steady::now() - start, milliseconds(350));
  EXPECT_EQ(retry->attempt, 2);
}

TEST_P(QueueTest, NonRetryableFailureFails) {
  JobQueue& q = Open();
  const JobSpec spec = Spec("u1");
  ASSERT_TRUE(q.Submit(spec).ok());
  std::optional<Lease> lease = MustClaim(q, "w", milliseconds(1000));
  ASSERT_TRUE(lease.has_value());
  ASSERT_TRUE(q.Fail(*lease, NoFace("no face in the source"), false).ok());
  const JobRecord rec = MustGet(q, "u1", spec.id);
  EXPECT_EQ(rec.state, JobState::kFailed);
  ASSERT_TRUE(rec.error.has_value());
  EXPECT_EQ(rec.error->code, "no_face");
  EXPECT_EQ(rec.error->message, "no face in the source");
  EXPECT_FALSE(MustClaim(q, "w", milliseconds(100)).has_value());
}

TEST_P(QueueTest, DeliveryLimitDeadLettersAPoisonJob) {
  options_.max_deliveries = 3;
  options_.lease = milliseconds(200);
  JobQueue& q = Open();
  const JobSpec spec = Spec("u1", /*max_attempts=*/10);
  const JobSpec healthy = Spec("u1");
  ASSERT_TRUE(q.Submit(spec).ok());
  // Three workers take it and die without a word.
  for (int d = 1; d <= 3; ++d) {
    std::optional<Lease> lease = MustClaim(q, "crashy" + std::to_string(d), milliseconds(3000));
    ASSERT_TRUE(lease.has_value()) << "delivery " << d;
    EXPECT_EQ(lease->job_id(), spec.id);
    EXPECT_EQ(lease->delivery, d);
  }
  ASSERT_TRUE(q.Submit(healthy).ok());
  // The next claim gets the healthy job; the poison one is dead once its lease ends.
  std::optional<Lease> next = MustClaim(q, "w", milliseconds(3000));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->job_id(), healthy.id);
  const auto deadline = Steady::now() + std::chrono::seconds(3);
  while (MustGet(q, "u1", spec.id).state != JobState::kDead && Steady::now() < deadline) {
    ASSERT_TRUE(q.Renew(*next).ok());  // the healthy job's worker is alive
    EXPECT_FALSE(MustClaim(q, "w", milliseconds(50)).has_value());
  }
  const JobRecord rec = MustGet(q, "u1", spec.id);
  EXPECT_EQ(rec.state, JobState::kDead);
  ASSERT_TRUE(rec.error.has_value());
  EXPECT_EQ(rec.error->code, "delivery_limit");
  EXPECT_EQ(rec.attempts, 3);
  Result<QueueStats> st = q.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kDead), 1);
  EXPECT_EQ(st->dead_letter, 1);
  EXPECT_EQ(st->in_flight, 1);  // the healthy job
}

TEST_P(QueueTest, CancelQueuedJob) {
  JobQueue& q = Open();
  const JobSpec spec = Spec("u1");
  ASSERT_TRUE(q.Submit(spec).ok());
  Result<JobRecord> c = q.Cancel("u1", spec.id);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->state, JobState::kCancelled);
  EXPECT_FALSE(MustClaim(q, "w", milliseconds(100)).has_value());
  // Cancelling again is no error and changes nothing.
  c = q.Cancel("u1", spec.id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, JobState::kCancelled);
  Result<QueueStats> st = q.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kCancelled), 1);
  EXPECT_EQ(st->count(JobState::kQueued), 0);
}

TEST_P(QueueTest, CancelRunningJobIsSeenByRenew) {
  JobQueue& q = Open();
  JobQueue& api = Open();
  const JobSpec spec = Spec("u1");
  ASSERT_TRUE(q.Submit(spec).ok());
  std::optional<Lease> lease = MustClaim(q, "w", milliseconds(1000));
  ASSERT_TRUE(lease.has_value());
  Result<JobRecord> c = api.Cancel("u1", spec.id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, JobState::kRunning);
  EXPECT_TRUE(c->cancel_requested);
  Result<RenewResult> r = q.Renew(*lease);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cancel_requested);
  ASSERT_TRUE(q.Fail(*lease, Cancelled("stopped at frame 12"), false).ok());
  const JobRecord rec = MustGet(api, "u1", spec.id);
  EXPECT_EQ(rec.state, JobState::kCancelled);
  EXPECT_FALSE(rec.cancel_requested);
}

TEST_P(QueueTest, CancelRunningJobThenReleaseOrCrash) {
  JobQueue& q = Open();
  const JobSpec released = Spec("u1");
  const JobSpec crashed = Spec("u1");
  ASSERT_TRUE(q.Submit(released).ok());
  ASSERT_TRUE(q.Submit(crashed).ok());
  std::optional<Lease> l1 = MustClaim(q, "w1", milliseconds(1000));
  std::optional<Lease> l2 = MustClaim(q, "w2", milliseconds(1000));
  ASSERT_TRUE(l1 && l2);
  ASSERT_TRUE(q.Cancel("u1", released.id).ok());
  ASSERT_TRUE(q.Cancel("u1", crashed.id).ok());
  ASSERT_TRUE(q.Release(*l1).ok());
  EXPECT_EQ(MustGet(q, "u1", released.id).state, JobState::kCancelled);
  // w2 dies; after its lease the job is settled as cancelled, never handed out.
  EXPECT_FALSE(MustClaim(q, "w3", 3 * options_.lease).has_value());
  EXPECT_EQ(MustGet(q, "u1", crashed.id).state, JobState::kCancelled);
}

TEST_P(QueueTest, ReleaseGivesTheJobBackWithoutPenalty) {
  JobQueue& q = Open();
  const JobSpec spec = Spec("u1", 1);
  ASSERT_TRUE(q.Submit(spec).ok());
  for (int i = 0; i < 3; ++i) {
    std::optional<Lease> lease = MustClaim(q, "w", milliseconds(1000));
    ASSERT_TRUE(lease.has_value());
    EXPECT_EQ(lease->attempt, 1);
    ASSERT_TRUE(q.Progress(*lease, 0.3).ok());
    ASSERT_TRUE(q.Release(*lease).ok());
    const JobRecord rec = MustGet(q, "u1", spec.id);
    EXPECT_EQ(rec.state, JobState::kQueued);
    EXPECT_EQ(rec.attempts, 0);
    EXPECT_DOUBLE_EQ(rec.progress, 0);
  }
  std::optional<Lease> lease = MustClaim(q, "w", milliseconds(1000));
  ASSERT_TRUE(lease.has_value());
  ASSERT_TRUE(q.Complete(*lease, "s3://b/x.png").ok());
}

TEST_P(QueueTest, TenantsSeeOnlyTheirJobs) {
  JobQueue& q = Open();
  const JobSpec mine = Spec("u1");
  const JobSpec theirs = Spec("u2");
  ASSERT_TRUE(q.Submit(mine).ok());
  ASSERT_TRUE(q.Submit(theirs).ok());
  EXPECT_EQ(q.Get("u2", mine.id).status().code(), Code::kNotFound);
  EXPECT_EQ(q.Get("u1", theirs.id).status().code(), Code::kNotFound);
  EXPECT_EQ(q.Get("u1", NewJobId()).status().code(), Code::kNotFound);
  EXPECT_EQ(q.Get("u1", "../../etc").status().code(), Code::kNotFound);
  EXPECT_EQ(q.Cancel("u2", mine.id).status().code(), Code::kNotFound);
  EXPECT_EQ(MustGet(q, "u1", mine.id).state, JobState::kQueued);  // not cancelled
  Result<ListPage> page = q.List("u2", {});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->jobs.size(), 1u);
  EXPECT_EQ(page->jobs[0].id(), theirs.id);
  page = q.List("nobody", {});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->jobs.empty());
  EXPECT_TRUE(page->next_cursor.empty());
}

TEST_P(QueueTest, ListPagesNewestFirstWithStateFilter) {
  JobQueue& q = Open();
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) {
    const JobSpec s = Spec("u1");
    ids.push_back(s.id);
    ASSERT_TRUE(q.Submit(s).ok());
  }
  ASSERT_TRUE(q.Submit(Spec("u2")).ok());
  std::vector<std::string> seen;
  ListOptions opts;
  opts.limit = 10;
  std::vector<std::size_t> sizes;
  while (true) {
    Result<ListPage> page = q.List("u1", opts);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    sizes.push_back(page->jobs.size());
    for (const auto& r : page->jobs) seen.push_back(r.id());
    if (page->next_cursor.empty()) break;
    opts.cursor = page->next_cursor;
    ASSERT_LT(sizes.size(), 10u);
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{10, 10, 5}));
  std::vector<std::string> expected(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, expected);

  // Settle every third job, then list only u1's succeeded ones.
  std::set<std::string> done;
  for (int i = 0; i < 60; ++i) {
    std::optional<Lease> l = MustClaim(q, "w", milliseconds(1000));
    ASSERT_TRUE(l.has_value());
    if (i % 3 == 0) {
      ASSERT_TRUE(q.Complete(*l, "s3://b/x.png").ok());
      if (l->spec.tenant == "u1") done.insert(l->job_id());
    } else {
      ASSERT_TRUE(q.Release(*l).ok());
    }
    if (done.size() == 5) break;
  }
  ListOptions only;
  only.state = JobState::kSucceeded;
  only.limit = 2;
  std::set<std::string> listed;
  for (int pages = 0; pages < 20; ++pages) {
    Result<ListPage> page = q.List("u1", only);
    ASSERT_TRUE(page.ok());
    for (const auto& r : page->jobs) {
      EXPECT_EQ(r.state, JobState::kSucceeded);
      listed.insert(r.id());
    }
    if (page->next_cursor.empty()) break;
    only.cursor = page->next_cursor;
  }
  EXPECT_EQ(listed, done);

  ListOptions bad;
  bad.cursor = "garbage";
  EXPECT_EQ(q.List("u1", bad).status().code(), Code::kInvalidArgument);
}

TEST_P(QueueTest, StatsCountBacklogAndInFlight) {
  JobQueue& q = Open();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(q.Submit(Spec("u1")).ok());
  std::optional<Lease> l = MustClaim(q, "w", milliseconds(1000));
  ASSERT_TRUE(l.has_value());
  Result<QueueStats> st = q.Stats();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->count(JobState::kQueued), 3);
  EXPECT_EQ(st->count(JobState::kRunning), 1);
  EXPECT_EQ(st->ready, 3);
  EXPECT_EQ(st->in_flight, 1);
  EXPECT_EQ(st->lag, 3);
  EXPECT_EQ(st->delayed, 0);
  EXPECT_GE(st->oldest_ready_age.count(), 0);
}

TEST_P(QueueTest, ConcurrentWorkersCompleteEachJobOnce) {
  constexpr int kJobs = 200;
  constexpr int kThreads = 4;
  // No takeovers here (they have their own tests): on a slow run (sanitizers, a loaded
  // machine) a lease that ran out between Claim and Complete would let a second worker
  // take the job, and Complete of a succeeded job is OK by contract, so it would count twice.
  options_.lease = std::chrono::seconds(60);
  JobQueue& api = Open();
  JobQueue& shared = Open();  // threads 0 and 1 share one handle
  JobQueue* handles[kThreads] = {&shared, &shared, &Open(), &Open()};
  std::set<std::string> ids;
  const auto submit_start = Steady::now();
  for (int i = 0; i < kJobs; ++i) {
    const JobSpec s = Spec(i % 2 == 0 ? "u1" : "u2");
    ids.insert(s.id);
    ASSERT_TRUE(api.Submit(s).ok());
  }
  const double submit_s = std::chrono::duration<double>(Steady::now() - submit_start).count();
  std::mutex mu;
  std::map<std::string, int> completions;
  std::atomic<int> errors{0};
  const auto start = Steady::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string worker = "w" + std::to_string(t);
      while (true) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (static_cast<int>(completions.size()) == kJobs) return;
        }
        Result<std::optional<Lease>> l = handles[t]->Claim(worker, milliseconds(100));
        if (!l.ok()) {
          ++errors;
          continue;
        }
        if (!l->has_value()) continue;
        if (handles[t]->Complete(**l, "s3://b/" + (*l)->job_id()).ok()) {
          std::lock_guard<std::mutex> lock(mu);
          ++completions[(*l)->job_id()];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const double claim_s = std::chrono::duration<double>(Steady::now() - start).count();
  EXPECT_EQ(errors.load(), 0);
  ASSERT_EQ(completions.size(), static_cast<std::size_t>(kJobs));
  for (const auto& [id, n] : completions) {
    EXPECT_EQ(n, 1) << id;
    EXPECT_EQ(ids.count(id), 1u);
  }
  Result<QueueStats> st = api.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kSucceeded), kJobs);
  EXPECT_EQ(st->in_flight, 0);
  std::printf("[ %s ] submit %.0f jobs/s, claim+complete (4 threads) %.0f jobs/s\n",
              GetParam().c_str(), kJobs / submit_s, kJobs / claim_s);
}

// Tenants take turns: one worker finishing jobs one at a time reaches a job submitted
// after another tenant's burst of 200 within the first claims, and the burst's jobs
// still come in their order.
TEST_P(QueueTest, ALateTenantsJobIsNotHeldUpByAnotherTenantsBurst) {
  JobQueue& api = Open();
  JobQueue& worker = Open();
  const std::vector<std::string> burst = SubmitJobs(api, "busy", 200);
  const JobSpec late = Spec("quiet");
  ASSERT_TRUE(api.Submit(late).ok());
  int late_claim = 0;
  std::vector<std::string> busy_order;
  for (int claim = 1; claim <= 201; ++claim) {
    std::optional<Lease> l = MustClaim(worker, "w", milliseconds(1000));
    ASSERT_TRUE(l.has_value()) << "claim " << claim;
    if (l->job_id() == late.id) late_claim = claim;
    if (l->spec.tenant == "busy") busy_order.push_back(l->job_id());
    ASSERT_TRUE(worker.Complete(*l, "s3://b/" + l->job_id()).ok());
  }
  EXPECT_GE(late_claim, 1);
  EXPECT_LE(late_claim, 2);
  EXPECT_EQ(busy_order, burst);
  Result<QueueStats> st = api.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kSucceeded), 201);
  EXPECT_EQ(st->lag, 0);
}

// A worker dies holding a job of a tenant with more jobs waiting: another tenant's job
// still goes first, the dead worker's job is taken over and finished once, and the
// tenant's next jobs are handed out after it.
TEST_P(QueueTest, AKilledWorkersJobIsFinishedOnceAndTheTenantsNextJobsFollow) {
  JobQueue& api = Open();
  JobQueue& survivor = Open();
  const std::vector<std::string> busy = SubmitJobs(api, "busy", 4);
  const JobSpec late = Spec("quiet");
  ASSERT_TRUE(api.Submit(late).ok());
  {
    // The victim's own connection (Redis) or handle (SQLite) goes away with it.
    Result<std::unique_ptr<JobQueue>> victim = OpenJobQueue(uri_, options_);
    ASSERT_TRUE(victim.ok()) << victim.status().ToString();
    std::optional<Lease> held = MustClaim(**victim, "victim", milliseconds(1000));
    ASSERT_TRUE(held.has_value());
    EXPECT_EQ(held->job_id(), busy[0]);
  }
  std::map<std::string, int> completions;
  std::vector<std::string> order;
  const auto deadline = Steady::now() + 20 * options_.lease + std::chrono::seconds(5);
  while (completions.size() < 5 && Steady::now() < deadline) {
    std::optional<Lease> l = MustClaim(survivor, "survivor", options_.lease);
    if (!l) continue;
    if (l->job_id() == busy[0]) {
      EXPECT_EQ(l->attempt, 2);  // a takeover
    }
    order.push_back(l->job_id());
    if (survivor.Complete(*l, "s3://b/" + l->job_id()).ok()) ++completions[l->job_id()];
  }
  ASSERT_EQ(completions.size(), 5u);
  for (const auto& [id, n] : completions) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(order.front(), late.id);  // not held up by the busy tenant
  std::vector<std::string> busy_next;  // the busy tenant's jobs after the taken-over one
  for (const std::string& id : order) {
    if (id != late.id && id != busy[0]) busy_next.push_back(id);
  }
  EXPECT_EQ(busy_next, std::vector<std::string>(busy.begin() + 1, busy.end()));
  EXPECT_EQ(MustGet(api, "busy", busy[0]).state, JobState::kSucceeded);
  Result<QueueStats> st = api.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kSucceeded), 5);
  EXPECT_EQ(st->in_flight, 0);
  EXPECT_EQ(st->lag, 0);
  EXPECT_EQ(st->ready, 0);
}

// A cancelled ready job leaves the backlog figures at once (KEDA reads lag), and the
// other jobs, a retry waiting out its backoff included, are still handed out.
TEST_P(QueueTest, CancellingAQueuedJobTakesItOutOfTheBacklogAtOnce) {
  options_.retry_backoff_initial = milliseconds(200);
  JobQueue& q = Open();
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    const JobSpec s = Spec(i < 3 ? "u1" : "u2");
    ids.push_back(s.id);
    ASSERT_TRUE(q.Submit(s).ok());
  }
  std::optional<Lease> first = MustClaim(q, "w", milliseconds(1000));
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->job_id(), ids[0]);
  ASSERT_TRUE(q.Fail(*first, Unavailable("flaky"), /*retryable=*/true).ok());  // delayed
  Result<QueueStats> st = q.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->ready, 3);
  EXPECT_EQ(st->lag, 3);
  EXPECT_EQ(st->delayed, 1);

  ASSERT_TRUE(q.Cancel("u1", ids[1]).ok());
  st = q.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kQueued), 3);
  EXPECT_EQ(st->ready, 2);
  EXPECT_EQ(st->lag, 2);
  ASSERT_TRUE(q.Cancel("u1", ids[0]).ok());  // the delayed retry
  st = q.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->delayed, 0);
  EXPECT_EQ(st->ready, 2);
  EXPECT_EQ(st->lag, 2);

  std::set<std::string> claimed;
  for (int i = 0; i < 2; ++i) {
    std::optional<Lease> l = MustClaim(q, "w", milliseconds(1000));
    ASSERT_TRUE(l.has_value());
    claimed.insert(l->job_id());
    ASSERT_TRUE(q.Complete(*l, "s3://b/x").ok());
  }
  EXPECT_EQ(claimed, (std::set<std::string>{ids[2], ids[3]}));
  EXPECT_FALSE(MustClaim(q, "w", options_.retry_backoff_initial * 2).has_value());
  st = q.Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->lag, 0);
  EXPECT_EQ(st->count(JobState::kCancelled), 2);
}

// Rate tokens are shared by every handle on the queue, per tenant, and come back.
TEST_P(QueueTest, RateTokensAreSharedPerTenantAndComeBack) {
  JobQueue& a = Open();
  JobQueue& b = Open();
  const RateLimit limit{"max_things", 3, milliseconds(300)};
  for (int i = 0; i < 3; ++i) {
    Result<RateDecision> d = (i % 2 == 0 ? a : b).TakeRateToken("u1", limit);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_TRUE(d->allowed) << i;
  }
  Result<RateDecision> refused = b.TakeRateToken("u1", limit);
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->allowed);
  EXPECT_GT(refused->retry_after.count(), 0);
  EXPECT_LE(refused->retry_after, limit.window);
  Result<RateDecision> other = a.TakeRateToken("u2", limit);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->allowed);  // another tenant has its own bucket
  const RateLimit another{"max_others", 1, milliseconds(300)};
  Result<RateDecision> other_limit = a.TakeRateToken("u1", another);
  ASSERT_TRUE(other_limit.ok());
  EXPECT_TRUE(other_limit->allowed);  // and each limit its own

  bool back = false;
  for (const auto deadline = Steady::now() + std::chrono::seconds(10); !back && Steady::now() < deadline;) {
    std::this_thread::sleep_for(milliseconds(10));
    Result<RateDecision> d = a.TakeRateToken("u1", limit);
    ASSERT_TRUE(d.ok());
    back = d->allowed;
  }
  EXPECT_TRUE(back);
  EXPECT_FALSE(a.TakeRateToken("u1", RateLimit{"bad", 0, milliseconds(1)}).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, QueueTest, ::testing::Values("sqlite", "redis"),
                         [](const auto& info) { return info.param; });

// Redis only: an entry of the earlier layout ({job: <id>}, bound to its job when
// written) left in the stream by the previous version still runs its job, once.
TEST(RedisQueueUpgradeTest, JobsQueuedInTheEarlierLayoutStillRun) {
  testing::RedisServer* redis = SharedRedis();
  ASSERT_NE(redis, nullptr);
  const std::string stream = "up" + std::to_string(::getpid()) + ":jobs";
  JobQueueOptions options;
  options.lease = milliseconds(300);
  options.poll_interval = milliseconds(20);
  Result<std::unique_ptr<JobQueue>> q = OpenJobQueue(redis->Uri(stream), options);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  JobSpec old = QueueTest::Spec("u1");
  ASSERT_TRUE((*q)->Submit(old).ok());
  const JobSpec other = QueueTest::Spec("u2");
  ASSERT_TRUE((*q)->Submit(other).ok());
  // Rewrite `old` as the previous version queued it: off the ready list, named by an
  // entry of its own (its ticket stays: a spare ticket finds no job and is dropped).
  Result<internal::RedisEndpoint> ep = internal::ParseRedisUri(redis->Uri(stream));
  ASSERT_TRUE(ep.ok());
  Result<std::unique_ptr<internal::RedisConnection>> c = internal::RedisConnection::Connect(*ep, milliseconds(2000));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE((*c)->Command({"LREM", stream + ":ready:u1", "0", old.id}).ok());
  ASSERT_TRUE((*c)->Command({"LREM", stream + ":ready-tenants", "0", "u1"}).ok());
  Result<internal::Reply> entry = (*c)->Command({"XADD", stream, "*", "job", old.id});
  ASSERT_TRUE(entry.ok() && !entry->is_error());
  ASSERT_TRUE((*c)->Command({"HSET", "up" + std::to_string(::getpid()) + ":job:" + old.id, "entry",
                              std::string(entry->view().str())})
                  .ok());

  std::map<std::string, int> claimed;
  while (std::optional<Lease> l = QueueTest::MustClaim(**q, "w", milliseconds(300))) {
    ++claimed[l->job_id()];
    ASSERT_TRUE((*q)->Complete(*l, "s3://b/x").ok());
  }
  EXPECT_EQ(claimed, (std::map<std::string, int>{{old.id, 1}, {other.id, 1}}));
  Result<QueueStats> st = (*q)->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kSucceeded), 2);
  EXPECT_EQ(st->lag, 0);
  EXPECT_EQ(st->in_flight, 0);
}

// Redis only: an entry that looks idle past the lease while its job's lease still
// runs (its holder took it a while after its delivery) is not taken over, and the
// look does not cost the job one of its deliveries: the next takeover, once the
// lease has ended, is its second delivery.
TEST(RedisQueueTakeoverTest, AnEntryTakenOverEarlyKeepsItsDeliveryCount) {
  testing::RedisServer* redis = SharedRedis();
  ASSERT_NE(redis, nullptr);
  const std::string ns = "early" + std::to_string(::getpid());
  const std::string stream = ns + ":jobs";
  JobQueueOptions options;
  options.lease = milliseconds(600);
  options.poll_interval = milliseconds(20);
  options.max_deliveries = 2;
  Result<std::unique_ptr<JobQueue>> q = OpenJobQueue(redis->Uri(stream), options);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  const JobSpec spec = QueueTest::Spec("u1");
  ASSERT_TRUE((*q)->Submit(spec).ok());
  std::optional<Lease> first = QueueTest::MustClaim(**q, "holder", milliseconds(1000));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->delivery, 1);

  Result<internal::RedisEndpoint> ep = internal::ParseRedisUri(redis->Uri(stream));
  ASSERT_TRUE(ep.ok());
  Result<std::unique_ptr<internal::RedisConnection>> c = internal::RedisConnection::Connect(*ep, milliseconds(2000));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Result<internal::Reply> entry = (*c)->Command({"HGET", ns + ":job:" + spec.id, "entry"});
  ASSERT_TRUE(entry.ok() && !entry->is_error());
  const std::string entry_id(entry->view().str());
  ASSERT_FALSE(entry_id.empty());
  ASSERT_TRUE((*c)->Command({"XCLAIM", stream, ep->group, "holder", "0", entry_id, "IDLE", "60000", "JUSTID"}).ok());

  // Another worker scans while the lease runs: nothing to take.
  EXPECT_FALSE(QueueTest::MustClaim(**q, "other", milliseconds(200)).has_value());
  Result<internal::Reply> pending = (*c)->Command({"XPENDING", stream, ep->group, "-", "+", "1"});
  ASSERT_TRUE(pending.ok() && !pending->is_error());
  ASSERT_EQ(pending->view().size(), 1u);
  EXPECT_EQ(pending->view()[0][3].integer(), 1) << "the early look counted a delivery";
  EXPECT_EQ(QueueTest::MustGet(**q, "u1", spec.id).state, JobState::kRunning);

  // The holder goes silent; once its lease ends the job is taken over, as its second
  // delivery (with max_deliveries 2 a miscount would dead-letter it here).
  std::optional<Lease> second = QueueTest::MustClaim(**q, "other", milliseconds(3000));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->job_id(), spec.id);
  EXPECT_EQ(second->delivery, 2);
  ASSERT_TRUE((*q)->Complete(*second, "s3://b/x").ok());
  EXPECT_EQ(QueueTest::MustGet(**q, "u1", spec.id).state, JobState::kSucceeded);
}

// ---------------------------------------------------------------------------------
// Redis only: the server restarts under running clients.

class RedisRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<testing::RedisServer>> s = testing::RedisServer::Start();
    ASSERT_TRUE(s.ok()) << s.status().ToString() << " (run make deps)";
    server_ = std::move(s).value();
    options_.lease = milliseconds(300);
    options_.poll_interval = milliseconds(20);
    options_.io_timeout = milliseconds(1000);
  }
  std::unique_ptr<JobQueue> Open() {
    Result<std::unique_ptr<JobQueue>> q = OpenJobQueue(server_->Uri("r:jobs"), options_);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? std::move(q).value() : nullptr;
  }
  static JobSpec Spec() {
    JobSpec s;
    s.sources = {"images/input/u1/202504051423/src.jpg"};
    s.target = "images/input/u1/202504051423/target.png";
    EXPECT_TRUE(FinalizeJobSpec(s, "u1").ok());
    return s;
  }
  std::unique_ptr<testing::RedisServer> server_;
  JobQueueOptions options_;
};

TEST_F(RedisRestartTest, ClientsReconnectAfterRestartWithoutData) {
  std::unique_ptr<JobQueue> api = Open();
  std::unique_ptr<JobQueue> worker = Open();
  ASSERT_TRUE(api && worker);
  ASSERT_TRUE(api->Submit(Spec()).ok());
  std::optional<Lease> l = *worker->Claim("w", milliseconds(1000));
  ASSERT_TRUE(l.has_value());
  ASSERT_TRUE(worker->Complete(*l, "s3://b/1.png").ok());

  ASSERT_TRUE(server_->Stop(/*keep_data=*/false).ok());
  // While it is down: errors, not crashes or hangs.
  Result<JobRecord> down = api->Submit(Spec());
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();
  EXPECT_EQ(worker->Claim("w", milliseconds(50)).status().code(), Code::kUnavailable);
  ASSERT_TRUE(server_->Restart().ok());

  // Same queue objects, a fresh (empty) server: the stream and group come back.
  const JobSpec spec = Spec();
  Result<JobRecord> rec = api->Submit(spec);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  Result<std::optional<Lease>> again = worker->Claim("w", milliseconds(2000));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->job_id(), spec.id);
  ASSERT_TRUE(worker->Complete(**again, "s3://b/2.png").ok());
  EXPECT_EQ(api->Get("u1", spec.id)->state, JobState::kSucceeded);
}

TEST_F(RedisRestartTest, JobsSurviveARestartWithData) {
  std::unique_ptr<JobQueue> api = Open();
  std::unique_ptr<JobQueue> worker = Open();
  ASSERT_TRUE(api && worker);
  const JobSpec running = Spec();
  const JobSpec queued = Spec();
  ASSERT_TRUE(api->Submit(running).ok());
  ASSERT_TRUE(api->Submit(queued).ok());
  std::optional<Lease> l = *worker->Claim("w", milliseconds(1000));
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->job_id(), running.id);

  ASSERT_TRUE(server_->Stop(/*keep_data=*/true).ok());
  ASSERT_TRUE(server_->Restart().ok());

  // The running job's worker renews through the restart and finishes.
  Result<RenewResult> renew = worker->Renew(*l);
  ASSERT_TRUE(renew.ok()) << renew.status().ToString();
  ASSERT_TRUE(worker->Complete(*l, "s3://b/r.png").ok());
  Result<std::optional<Lease>> next = worker->Claim("w2", milliseconds(2000));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->job_id(), queued.id);
  ASSERT_TRUE(worker->Complete(**next, "s3://b/q.png").ok());
  Result<QueueStats> st = api->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count(JobState::kSucceeded), 2);
}

TEST_F(RedisRestartTest, WorkersKeepGoingWhileRedisRestarts) {
  constexpr int kJobs = 60;
  std::unique_ptr<JobQueue> api = Open();
  ASSERT_TRUE(api);
  std::vector<std::unique_ptr<JobQueue>> queues;
  for (int i = 0; i < 3; ++i) queues.push_back(Open());
  std::set<std::string> ids;
  for (int i = 0; i < kJobs; ++i) {
    const JobSpec s = Spec();
    ids.insert(s.id);
    ASSERT_TRUE(api->Submit(s).ok());
  }
  std::mutex mu;
  std::map<std::string, int> done;
  std::atomic<bool> stop{false};
  std::atomic<int> unavailable{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      while (!stop) {
        Result<std::optional<Lease>> l = queues[t]->Claim("w" + std::to_string(t), milliseconds(50));
        if (!l.ok()) {
          ++unavailable;
          std::this_thread::sleep_for(milliseconds(20));
          continue;
        }
        if (!l->has_value()) continue;
        std::this_thread::sleep_for(milliseconds(5));  // "work"
        Status s = queues[t]->Complete(**l, "s3://b/x.png");
        if (s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          ++done[(*l)->job_id()];
        }
      }
    });
  }
  auto done_count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return done.size();
  };
  auto succeeded = [&]() -> std::int64_t {
    Result<QueueStats> st = api->Stats();
    return st.ok() ? st->count(JobState::kSucceeded) : -1;
  };
  while (done_count() < kJobs / 3) std::this_thread::sleep_for(milliseconds(5));
  ASSERT_TRUE(server_->Stop(/*keep_data=*/true).ok());
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_TRUE(server_->Restart().ok());
  const auto deadline = Steady::now() + std::chrono::seconds(15);
  while (succeeded() < kJobs && Steady::now() < deadline) std::this_thread::sleep_for(milliseconds(20));
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_GT(unavailable.load(), 0);  // they did notice the outage
  // Every job succeeded once. (A Complete whose reply was lost in the outage counts
  // in Redis but not in `done`, so `done` may miss a job, never hold one twice.)
  EXPECT_EQ(succeeded(), kJobs);
  EXPECT_GE(done.size(), static_cast<std::size_t>(kJobs - 3));
  for (const auto& [id, n] : done) EXPECT_EQ(n, 1) << id;
  for (const auto& id : ids) {
    Result<JobRecord> rec = api->Get("u1", id);
    ASSERT_TRUE(rec.ok());
    EXPECT_EQ(rec->state, JobState::kSucceeded);
  }
}

}  // namespace
}  // namespace swapline::job
