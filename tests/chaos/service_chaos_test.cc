// A chaos run of the whole service: Redis (append-only file on) + the Swift S3
// server, two API processes (`swapline serve --workers 0`) and four `swapline
// worker` processes, 100 jobs (mostly images, a few half-second videos) from three
// tenants with tokens, submitted through both APIs. Every worker reaches S3 through
// a FaultProxy of its own that resets requests (before and in the middle of
// transfers), answers 503 SlowDown and stalls, by a seeded schedule; the APIs talk
// to S3 directly (the presigned URLs they hand out are for the real endpoint, and
// the faults are aimed at the path where jobs can be lost). During the run two
// workers are killed with SIGKILL while they hold a video job, Redis is killed and
// restarted on its append-only file, and one API is killed in the middle of
// submissions and restarted; killed workers are restarted on their scratch folders.
//
// At the end every job must have ended exactly once, succeeded, with one result
// object (its key, its job id in the object's metadata) and nothing else in the
// output prefixes; no multipart upload is left, no scratch, nothing in flight in
// the queue, and no tenant can see another's jobs or results. Failures are not
// accepted as legitimate: each worker retries an S3 request 6 times and its proxy
// never spoils more than 2 requests in a row (a worker sends one at a time), so a
// fault cannot exhaust a request, and a job failure here is a bug. The run prints
// its figures: attempts, the workers' outcomes (retried, lost), results reused,
// time to finish, faults by kind.
//
// Redis runs with `appendfsync always`: the test asserts that no acknowledged job
// is lost, and `always` makes that hold whatever the disk does. Under `everysec`
// (the bundled deployment's setting) a killed Redis process loses nothing either in
// the usual case, but when a background fsync is slow Redis postpones its write by
// up to 2 s while it keeps answering, so the assertion would depend on the disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "job/job_queue.h"
#include "job/job_spec.h"
#include "service/api_client.h"
#include "service/service_test_util.h"
#include "storage/s3_store.h"
#include "support/fault_proxy.h"
#include "support/process.h"
#include "support/redis_server.h"
#include "support/s3_servers.h"

namespace swapline::service {
namespace {

using nlohmann::json;
using swapline::testing::Fault;
using swapline::testing::FaultProxy;
using swapline::testing::FaultSchedule;
using swapline::testing::ScaledArg;
using swapline::testing::TempDir;
using swapline::testing::WaitUntil;
using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

const std::string kTestdata = SWAPLINE_TESTDATA_DIR;
constexpr const char* kBucket = "swapline-chaos";
constexpr int kJobs = 100;
constexpr int kWorkers = 4;
const std::vector<std::pair<std::string, std::string>> kTenants = {
    {"acme", "acme-token-0123456789"}, {"globex", "globex-token-0123456789"}, {"initech", "initech-token-0123456789"}};
const std::string kSource = kTestdata + "/photos/grace_hopper_usn_portrait.jpg";
const std::vector<std::string> kImageTargets = {
    kTestdata + "/derived/eileen_collins_nasa_portrait_1280x720.jpg",
    kTestdata + "/derived/obama_official_portrait_2012_1280x720.jpg",
    kTestdata + "/photos/obama_official_portrait_2012_small_320x240.jpg",
    kTestdata + "/photos/cameraman_cc0_varshney.png"};
const std::string kVideoTarget = kTestdata + "/videos/b_two_faces_side_by_side_1280x720_30fps_3s.mp4";
// Jobs whose index is here are videos: the last three of each half of the
// submissions, so they start while the test already watches for one to kill (a
// half-second video submitted first can be done before the half is submitted).
const std::set<int> kVideoJobs = {47, 48, 49, 97, 98, 99};

std::uint64_t Seed() {
  const char* seed = std::getenv("SWAPLINE_CHAOS_SEED");
  return seed != nullptr ? std::strtoull(seed, nullptr, 10) : 20261130;
}

// Whether the last job `log` claimed is `id` and it has not finished there.
bool HoldsJob(const std::string& log, const std::string& id) {
  const std::size_t claimed = log.rfind("job claimed");
  if (claimed == std::string::npos) return false;
  const std::size_t end = log.find('\n', claimed);
  const std::string line = log.substr(claimed, end == std::string::npos ? std::string::npos : end - claimed);
  if (line.find("job_id=" + id + " ") == std::string::npos) return false;
  return log.find("job_id=" + id, end) == std::string::npos;  // no "job finished" after it
}

struct Job {
  std::string id, tenant;
  bool video = false;
  json record;           // last seen
  std::string terminal;  // first terminal state seen
};

// Whether the worker whose log this is runs a job now.
bool Busy(const std::string& log) {
  const std::size_t claimed = log.rfind("job claimed");
  if (claimed == std::string::npos) return false;
  std::size_t ended = log.rfind("job finished");
  const std::size_t failed = log.rfind("job failed");
  if (ended == std::string::npos || (failed != std::string::npos && failed > ended)) ended = failed;
  return ended == std::string::npos || ended < claimed;
}

TEST(ServiceChaosTest, JobsEndExactlyOnceThroughKillsRedisRestartAndS3Faults) {
  for (const std::string& file : {kSource, kVideoTarget}) ASSERT_TRUE(fs::exists(file)) << file << " is missing";
  for (const std::string& file : kImageTargets) ASSERT_TRUE(fs::exists(file)) << file << " is missing";
  auto redis = swapline::testing::RedisServer::Start({.appendfsync = "always"});
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  auto swift = swapline::testing::SwiftServer::Start();
  ASSERT_TRUE(swift.ok()) << swift.status().ToString();
  auto store = (*swift)->OpenBucketForProcesses(kBucket);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  TempDir dir("swapline_chaos");
  int logs = 0;
  auto log_dir = [&](const std::string& name) { return dir.path() / (name + "-" + std::to_string(++logs)); };
  const fs::path tokens = dir.path() / "tokens.txt";
  {
    std::ofstream out(tokens);
    for (const auto& [tenant, token] : kTenants) out << token << ' ' << tenant << '\n';
  }
  const std::string queue_uri = (*redis)->Uri("swapline:chaos");
  const std::string store_uri = std::string("s3://") + kBucket;

  // Two APIs, straight to S3.
  const std::vector<int> api_ports = {swapline::testing::FreePort(), swapline::testing::FreePort()};
  auto start_api = [&](int port) {
    return std::make_unique<Process>(
        std::vector<std::string>{"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--workers", "0", "--store",
                                 store_uri, "--queue", queue_uri, "--tokens", tokens.string()},
        log_dir("serve"));
  };
  std::vector<std::unique_ptr<Process>> apis;
  for (const int port : api_ports) apis.push_back(start_api(port));
  auto server = [&](int api) { return "http://127.0.0.1:" + std::to_string(api_ports[static_cast<std::size_t>(api)]); };
  auto ready = [&](int api) {
    return WaitUntil([&] { return ApiClient(server(api), "").Call("GET", "/readyz").ok(); }, seconds(60));
  };
  for (int api = 0; api < 2; ++api) ASSERT_TRUE(ready(api)) << apis[static_cast<std::size_t>(api)]->log();
  std::map<std::pair<std::string, int>, std::unique_ptr<ApiClient>> clients;  // (tenant, api)
  for (const auto& [tenant, token] : kTenants) {
    for (int api = 0; api < 2; ++api) clients[{tenant, api}] = std::make_unique<ApiClient>(server(api), token);
  }
  auto client = [&](const std::string& tenant, int api) -> ApiClient& { return *clients.at({tenant, api}); };

  // Four workers, each behind a fault proxy of its own.
  std::vector<std::unique_ptr<FaultProxy>> proxies;
  std::vector<fs::path> scratch;
  std::vector<std::unique_ptr<Process>> workers;
  std::vector<std::unique_ptr<Process>> dead_workers;  // killed; their logs are counted
  auto start_worker = [&](int i) {
    return std::make_unique<Process>(
        // Debug logs hold the S3 attempts, shown for a job whose upload is left behind.
        std::vector<std::string>{"--log-level", "debug", "worker", "--queue", queue_uri, "--store", store_uri,
                                 "--lease", ScaledArg(seconds(3)), "--scratch-dir", scratch[static_cast<std::size_t>(i)].string(),
                                 "--execution-thread-count", "1", "--s3-endpoint-url",
                                 "http://127.0.0.1:" + std::to_string(proxies[static_cast<std::size_t>(i)]->port()),
                                 "--s3-read-timeout", "1", "--s3-max-attempts", "6",
                                 // Results over 128 KiB go up as multipart uploads.
                                 "--s3-multipart-threshold", "128KiB"},
        log_dir("worker" + std::to_string(i)));
  };
  for (int i = 0; i < kWorkers; ++i) {
    proxies.push_back(std::make_unique<FaultProxy>((*swift)->port()));
    proxies.back()->SetSchedule({.seed = Seed() + static_cast<std::uint64_t>(i),
                                 .reset = 0.08,
                                 .reset_mid_transfer = 0.08,
                                 .slow_down = 0.08,
                                 .stall = 0.06,
                                 .max_stall = std::chrono::milliseconds(2'500),
                                 .max_bytes_before_reset = 256 * 1024,
                                 .max_in_a_row = 2});
    scratch.push_back(dir.Sub("scratch" + std::to_string(i)));
    workers.push_back(start_worker(i));
  }

  // Inputs: each tenant uploads the source and the targets once, half through each API.
  std::map<std::string, std::map<std::string, std::string>> keys;  // tenant → file → key
  for (const auto& [tenant, token] : kTenants) {
    std::vector<std::string> files = kImageTargets;
    files.push_back(kSource);
    files.push_back(kVideoTarget);
    for (std::size_t f = 0; f < files.size(); ++f) {
      auto key = client(tenant, static_cast<int>(f % 2)).UploadFile(files[f]);
      ASSERT_TRUE(key.ok()) << key.status().ToString();
      keys[tenant][files[f]] = *key;
    }
  }

  // Submissions: tenants in turn, APIs in turn; a submission is retried with its
  // id until an API answers, so a lost answer cannot make a second job.
  std::vector<Job> jobs(kJobs);
  for (int i = 0; i < kJobs; ++i) {
    jobs[static_cast<std::size_t>(i)].tenant = kTenants[static_cast<std::size_t>(i) % kTenants.size()].first;
    jobs[static_cast<std::size_t>(i)].video = kVideoJobs.count(i) != 0;
  }
  const auto started = Clock::now();
  auto submit = [&](int index) {
    Job& job = jobs[static_cast<std::size_t>(index)];
    job.id = job::NewJobId();
    const std::string target =
        job.video ? kVideoTarget : kImageTargets[static_cast<std::size_t>(index / 3) % kImageTargets.size()];
    // Videos run whole (90 frames, a few seconds): progress is reported at most twice a
    // second, and a shorter video can go from 5 % to done between two reports.
    const json options = {{"output-video-preset", "ultrafast"}};
    const json body = {{"id", job.id},
                       {"sources", {keys[job.tenant][kSource]}},
                       {"target", keys[job.tenant][target]},
                       {"options", options}};
    Result<json> answer = Unavailable("not sent");
    WaitUntil(
        [&] {
          answer = client(job.tenant, index % 2).Call("POST", "/v1/jobs", body);
          return answer.ok() || answer.status().code() != Code::kUnavailable;
        },
        seconds(60));
    EXPECT_TRUE(answer.ok()) << "job " << index << ": " << answer.status().ToString();
    if (answer.ok()) {
      EXPECT_EQ((*answer)["id"], job.id);
    }
  };
  auto refresh = [&](Job& job, int api) {
    auto got = client(job.tenant, api).Call("GET", "/v1/jobs/" + job.id);
    if (!got.ok()) {
      EXPECT_NE(got.status().code(), Code::kNotFound) << "job " << job.id << " was lost";
      return;
    }
    job.record = *got;
    const std::string state = job.record.value("state", "");
    const bool terminal = state != "queued" && state != "running";
    if (!job.terminal.empty()) {
      EXPECT_EQ(state, job.terminal) << "job " << job.id << " left its terminal state: " << job.record.dump();
    } else if (terminal) {
      job.terminal = state;
    }
  };
  // What a supervisor (a Deployment) does: a worker that exited by itself is started
  // again on its scratch folder, at most once a second. The only exit accepted is a
  // start while Redis was away (the worker fails fast: exit 1, "cannot connect to
  // Redis"); anything else is a crash.
  int restarts = 0;
  std::vector<Clock::time_point> last_start(kWorkers, Clock::now());
  auto supervise = [&] {
    for (std::size_t i = 0; i < workers.size(); ++i) {
      auto& worker = workers[i];
      if (worker->running() || Clock::now() - last_start[i] < seconds(1)) continue;
      const int code = worker->WaitExit(seconds(0));
      EXPECT_TRUE(code == 1 && worker->log().find("cannot connect to Redis") != std::string::npos)
          << "worker " << i << " exited with " << code << ":\n" << worker->log();
      ++restarts;
      dead_workers.push_back(std::move(worker));
      worker = start_worker(static_cast<int>(i));
      last_start[i] = Clock::now();
    }
  };
  // SIGKILL to the worker holding a video job (one of `candidates`) while it is
  // mid-way through its frames, and a new worker on the same scratch folder.
  std::set<std::string> killed_jobs;
  auto kill_video_holder = [&](const std::vector<int>& candidates) {
    bool done = false;
    WaitUntil(
        [&] {
          supervise();
          for (const int c : candidates) {
            Job& video = jobs[static_cast<std::size_t>(c)];
            refresh(video, 0);
            const double progress = video.record.value("progress", 0.0);
            if (video.record.value("state", "") != "running" || progress < 0.1 || progress > 0.8) continue;
            for (int i = 0; i < kWorkers; ++i) {
              auto& worker = workers[static_cast<std::size_t>(i)];
              if (!worker->running() || !HoldsJob(worker->log(), video.id)) continue;
              worker->Signal(SIGKILL);
              EXPECT_EQ(worker->WaitExit(seconds(10)), 128 + SIGKILL);
              std::cout << "SIGKILL to worker " << i << " holding video job " << video.id << " at "
                        << static_cast<int>(progress * 100) << " %\n";
              killed_jobs.insert(video.id);
              dead_workers.push_back(std::move(worker));
              worker = start_worker(i);
              last_start[static_cast<std::size_t>(i)] = Clock::now();
              done = true;
              return true;
            }
          }
          return false;
        },
        seconds(120));
    EXPECT_TRUE(done) << "never saw one of the video jobs running on a worker";
  };

  // First half, then a worker killed, and Redis killed with jobs running and
  // restarted once the workers have felt it.
  for (int i = 0; i < kJobs / 2; ++i) submit(i);
  kill_video_holder({47, 48, 49});

  EXPECT_TRUE(WaitUntil(
      [&] { return std::count_if(workers.begin(), workers.end(), [](auto& w) { return Busy(w->log()); }) >= 2; },
      seconds(60)));
  std::vector<std::size_t> log_sizes;
  for (auto& worker : workers) log_sizes.push_back(worker->log().size());
  (*redis)->Crash();
  std::cout << "SIGKILL to redis-server with jobs running\n";
  EXPECT_TRUE(WaitUntil([&] { return !ApiClient(server(0), "").Call("GET", "/readyz").ok(); }, seconds(30)))
      << "/readyz still answers 200 without Redis";
  EXPECT_TRUE(WaitUntil(
      [&] {
        for (std::size_t i = 0; i < workers.size(); ++i) {
          const std::string log = workers[i]->log().substr(log_sizes[i]);
          for (const char* felt : {"cannot claim jobs", "lease renewal failed", "cannot acknowledge"}) {
            if (log.find(felt) != std::string::npos) return true;
          }
        }
        return false;
      },
      seconds(30)))
      << "no worker noticed that Redis was gone";
  ASSERT_TRUE((*redis)->Restart().ok());
  ASSERT_TRUE(ready(0)) << apis[0]->log();

  // Second half from a thread of its own, while API 1 is killed and restarted on
  // its port; then another worker killed.
  std::atomic<int> submitted{0};
  std::thread submitter([&] {
    for (int i = kJobs / 2; i < kJobs; ++i, ++submitted) submit(i);
  });
  WaitUntil([&] { return submitted >= 10; }, seconds(60));
  apis[1]->Signal(SIGKILL);
  EXPECT_EQ(apis[1]->WaitExit(seconds(10)), 128 + SIGKILL);
  std::cout << "SIGKILL to API 1 after " << submitted << " of the second half's submissions\n";
  apis[1] = start_api(api_ports[1]);
  EXPECT_TRUE(ready(1)) << apis[1]->log();
  submitter.join();
  kill_video_holder({97, 98, 99});

  // Every job ends.
  const bool settled = WaitUntil(
      [&] {
        supervise();
        bool all = true;
        for (std::size_t j = 0; j < jobs.size(); ++j) {
          if (!jobs[j].terminal.empty()) continue;
          refresh(jobs[j], static_cast<int>(j % 2));
          all = all && !jobs[j].terminal.empty();
        }
        return all;
      },
      seconds(420));
  const double finish_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::string stuck;
  for (const Job& job : jobs) {
    if (job.terminal.empty()) stuck += " " + job.id + " " + job.record.dump() + "\n";
  }
  ASSERT_TRUE(settled) << "jobs that never ended:\n" << stuck;

  // Workers drain and exit (once started: a worker just restarted may still be
  // opening the queue); APIs stop.
  for (auto& worker : workers) {
    EXPECT_TRUE(WaitUntil([&] { return worker->log().find("worker on queue") != std::string::npos; }, seconds(60)))
        << worker->log();
    worker->Signal(SIGTERM);
    EXPECT_EQ(worker->WaitExit(seconds(30)), 0) << worker->log();
  }
  for (std::size_t i = 0; i < scratch.size(); ++i) {
    EXPECT_EQ(swapline::testing::ListDir(scratch[i]), std::vector<std::string>{}) << "worker " << i << "'s scratch";
  }

  // Exactly one terminal state each, succeeded, and a stable one.
  std::map<int, int> attempts;
  std::map<std::string, std::size_t> succeeded_by_tenant;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    Job& job = jobs[j];
    refresh(job, static_cast<int>((j + 1) % 2));
    EXPECT_EQ(job.record.value("state", ""), "succeeded") << job.record.dump();
    ++attempts[job.record.value("attempts", 0)];
    if (job.record.value("state", "") == "succeeded") ++succeeded_by_tenant[job.tenant];
    if (killed_jobs.count(job.id) != 0) {
      EXPECT_GE(job.record.value("attempts", 0), 2) << "a killed attempt is counted: " << job.record.dump();
    }
  }

  // One result object per succeeded job, where its record says, made by that job.
  for (const auto& [tenant, token] : kTenants) {
    std::size_t outputs = 0;
    for (const std::string kind : {"images", "videos"}) {
      auto listed = storage::ListAll(**store, kind + "/output/" + tenant + "/");
      ASSERT_TRUE(listed.ok()) << listed.status().ToString();
      for (const auto& info : *listed) {
        auto owner = std::find_if(jobs.begin(), jobs.end(), [&](const Job& job) {
          return job.tenant == tenant && job.record.contains("result") &&
                 job.record["result"].value("uri", "") == store_uri + "/" + info.key;
        });
        ASSERT_NE(owner, jobs.end()) << "a result no succeeded job of " << tenant << " names: " << info.key;
        auto stat = (*store)->Stat(info.key);
        ASSERT_TRUE(stat.ok()) << stat.status().ToString();
        EXPECT_EQ(stat->metadata["swapline-job-id"], owner->id) << info.key;
        EXPECT_GT(info.size, 0u) << info.key;
      }
      outputs += listed->size();
    }
    EXPECT_EQ(outputs, succeeded_by_tenant[tenant]) << tenant << ": one result object per succeeded job";
  }
  // What every worker (killed ones too) logged about `text`.
  auto worker_lines = [&](const std::string& text) {
    std::string lines;
    for (const auto* list : {&dead_workers, &workers}) {
      for (const auto& worker : *list) {
        std::istringstream log(worker->log());
        for (std::string line; std::getline(log, line);) {
          if (line.find(text) == std::string::npos) continue;
          lines += "  [pid " + std::to_string(worker->pid()) + "] " + line + "\n";
        }
      }
    }
    return lines;
  };
  auto uploads = (*store)->ListMultipartUploads("");
  ASSERT_TRUE(uploads.ok()) << uploads.status().ToString();
  for (const auto& upload : *uploads) {
    const std::string id = fs::path(upload.key).stem().string();
    ADD_FAILURE() << "incomplete multipart upload " << upload.upload_id << " of " << upload.key
                  << "; the workers on job " << id << ":\n" << worker_lines(id);
  }

  // Nothing left in flight or waiting in the queue.
  auto queue = job::OpenJobQueue(queue_uri);
  ASSERT_TRUE(queue.ok()) << queue.status().ToString();
  auto stats = (*queue)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->in_flight, 0);
  EXPECT_EQ(stats->ready, 0);
  EXPECT_EQ(stats->delayed, 0);
  EXPECT_EQ(stats->count(job::JobState::kSucceeded), kJobs);

  // No tenant sees another's jobs or results, through either API.
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    for (const auto& [tenant, token] : kTenants) {
      if (tenant == jobs[j].tenant) continue;
      ApiClient& other = client(tenant, static_cast<int>(j % 2));
      EXPECT_EQ(other.Call("GET", "/v1/jobs/" + jobs[j].id).status().code(), Code::kNotFound);
      EXPECT_EQ(other.Call("GET", "/v1/jobs/" + jobs[j].id + "/result").status().code(), Code::kNotFound);
    }
  }
  for (const auto& [tenant, token] : kTenants) {
    auto listed = client(tenant, 1).Call("GET", "/v1/jobs?limit=1000");
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    std::set<std::string> seen;
    for (const json& record : (*listed)["jobs"]) seen.insert(record["id"].get<std::string>());
    std::set<std::string> own;
    for (const Job& job : jobs) {
      if (job.tenant == tenant) own.insert(job.id);
    }
    EXPECT_EQ(seen, own) << tenant << " lists exactly its own jobs";
  }
  for (auto& api : apis) {
    api->Signal(SIGTERM);
    EXPECT_EQ(api->WaitExit(seconds(20)), 0) << api->log();
  }

  // Figures.
  std::map<std::string, int> outcomes;  // worker attempt outcomes from every worker's log
  int reused = 0;
  int orphans = 0;
  const std::regex outcome(R"(outcome=(\w+))");
  auto count = [](const std::string& log, const std::string& text) {
    int n = 0;
    for (std::size_t at = 0; (at = log.find(text, at)) != std::string::npos; ++at) ++n;
    return n;
  };
  auto count_log = [&](const std::string& log) {
    for (std::sregex_iterator it(log.begin(), log.end(), outcome), end; it != end; ++it) ++outcomes[(*it)[1]];
    reused += count(log, "already uploaded by an earlier attempt");
    orphans += count(log, "aborted orphan upload");
  };
  for (auto& worker : workers) count_log(worker->log());
  for (auto& worker : dead_workers) count_log(worker->log());
  std::cout << "chaos run (seed " << Seed() << "): " << kJobs << " jobs (" << kVideoJobs.size() << " videos) from "
            << kTenants.size() << " tenants, " << kWorkers << " workers, all ended in " << finish_seconds
            << " s after the first submission\n";
  std::cout << "attempts per job:";
  for (const auto& [n, count] : attempts) std::cout << " " << n << "×" << count;
  std::cout << "\nworker attempt outcomes:";
  for (const auto& [name, count] : outcomes) std::cout << " " << name << "=" << count;
  std::cout << "; workers restarted after exiting by themselves: " << restarts
            << " (results reused from an earlier attempt: " << reused
            << ", orphan multipart uploads of retried initiates aborted: " << orphans << ")\n";
  int requests = 0;
  std::map<Fault, int> faults;
  for (const auto& proxy : proxies) {
    requests += proxy->requests();
    for (const Fault fault : {Fault::kReset, Fault::kResetMidTransfer, Fault::kSlowDown, Fault::kStall}) {
      faults[fault] += proxy->faults_done(fault);
    }
  }
  std::cout << "S3 faults on " << requests << " worker requests:";
  for (const auto& [fault, count] : faults) std::cout << " " << swapline::testing::FaultName(fault) << "=" << count;
  std::cout << "\n";
  int total_faults = 0;
  for (const auto& [fault, count] : faults) total_faults += count;
  EXPECT_GT(total_faults, 0) << "the proxies spoiled nothing: the run tested no S3 faults";
}

}  // namespace
}  // namespace swapline::service
