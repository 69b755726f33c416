// The cluster shape end to end: `swapline serve --workers 0` as the API tier with a
// token file, three `swapline worker` processes, a real redis-server queue and the
// Swift S3 server as the store (both on free loopback ports, started and stopped by
// the test). Two video jobs and 32 image jobs from two tenants; the worker holding a
// video job is killed with SIGKILL mid-job and replaced, twice. Every job must end succeeded exactly once:
// one result object each, no incomplete multipart uploads, no scratch files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "cli/cli_test_util.h"
#include "support/redis_server.h"
#include "service/api_client.h"
#include "service/service_test_util.h"
#include "storage/s3_store.h"
#include "support/s3_servers.h"

namespace swapline::service {
namespace {

using nlohmann::json;
using swapline::testing::RunProcess;
using swapline::testing::TempDir;
using swapline::testing::WaitUntil;

const std::string kTestdata = SWAPLINE_TESTDATA_DIR;
const std::string kFace = kTestdata + "/photos/grace_hopper_usn_portrait.jpg";
// Video jobs are killed mid-run: 240 frames at 1080p keep one running for seconds (a
// 90-frame clip can end between two polls).
const std::string kVideo = kTestdata + "/videos/d_large_face_1920x1080_30fps_8s.mp4";
constexpr const char* kBucket = "swapline-e2e";
const std::map<std::string, std::string> kTokens = {{"acme", "acme-token-0123456789"},
                                                    {"globex", "globex-token-0123456789"}};

std::string LastLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const std::size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

TEST(ClusterE2eTest, ThreeWorkersRedisAndS3SurviveKilledWorkers) {
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  auto swift = testing::SwiftServer::Start();
  ASSERT_TRUE(swift.ok()) << swift.status().ToString();

  auto store = (*swift)->OpenBucketForProcesses(kBucket);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  TempDir dir("swapline_cluster_test");
  const fs::path tokens = dir.path() / "tokens.txt";
  {
    std::ofstream out(tokens);
    for (const auto& [tenant, token] : kTokens) out << token << ' ' << tenant << '\n';
  }
  const int port = swapline::testing::FreePort();
  const std::string server = "http://127.0.0.1:" + std::to_string(port);
  const std::string queue = (*redis)->Uri("swapline:e2e");
  const std::string store_uri = std::string("s3://") + kBucket;
  const fs::path scratch = dir.path() / "scratch";
  int logs = 0;
  auto log_dir = [&](const std::string& name) { return dir.path() / (name + "-" + std::to_string(++logs)); };

  Process api({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--workers", "0", "--store", store_uri,
               "--queue", queue, "--tokens", tokens.string()},
              log_dir("serve"));
  const std::vector<std::string> worker_args = {"worker", "--queue", queue, "--store", store_uri, "--lease", swapline::testing::ScaledArg(std::chrono::seconds(2)),
                                                "--scratch-dir", scratch.string(), "--execution-thread-count", "1"};
  std::vector<std::unique_ptr<Process>> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(std::make_unique<Process>(worker_args, log_dir("worker")));
  ApiClient probe(server, kTokens.at("acme"));
  ASSERT_TRUE(WaitUntil([&] { return probe.Call("GET", "/readyz").ok(); }, std::chrono::seconds(15))) << api.log();

  // Jobs: two videos and a few images, from both tenants.
  struct Submitted {
    std::string id, tenant;
  };
  std::vector<Submitted> jobs;
  auto submit = [&](const std::string& tenant, const std::string& target) {
    const auto run = RunProcess(SWAPLINE_BINARY,
                                {"jobs", "submit", "--server", server, "--token", kTokens.at(tenant), "-s", kFace, "-t",
                                 target, "--output-video-preset", "ultrafast"},
                                log_dir("submit"), 60);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    jobs.push_back({LastLine(run.out), tenant});
  };
  submit("acme", kVideo);
  submit("globex", kVideo);

  // Kill the worker that holds each video, mid-job (the second while the first one's
  // replacement starts), and start a replacement each time.
  std::set<std::string> killed;
  auto kill_holder = [&](const Submitted& video) {
    ApiClient client(server, kTokens.at(video.tenant));
    Process* holder = nullptr;
    WaitUntil(
        [&] {
          auto job = client.Call("GET", "/v1/jobs/" + video.id);
          if (!job.ok() || (*job)["state"] == "succeeded") return true;
          if ((*job)["state"] != "running" || (*job).value("progress", 0.0) < 0.1) return false;
          for (auto& worker : workers) {
            if (worker->running() && worker->log().find("job_id=" + video.id) != std::string::npos) {
              holder = worker.get();
              return true;
            }
          }
          return false;
        },
        std::chrono::seconds(24));
    if (holder == nullptr) return;
    holder->Signal(SIGKILL);
    EXPECT_EQ(holder->WaitExit(std::chrono::seconds(10)), 128 + SIGKILL);
    killed.insert(video.id);
    workers.push_back(std::make_unique<Process>(worker_args, log_dir("worker")));
  };
  kill_holder(jobs[0]);
  kill_holder(jobs[1]);
  EXPECT_EQ(killed.size(), 2u) << "never saw both video jobs running";

  // Then many small image jobs from both tenants while the videos are retried.
  for (int round = 0; round < 4; ++round) {
    for (const char* photo : {"eileen_collins_nasa_portrait.png", "obama_official_portrait_2012.jpg",
                              "abraham_lincoln_gardner_1863.jpg", "cameraman_cc0_varshney.png"}) {
      submit("acme", kTestdata + "/photos/" + photo);
      submit("globex", kTestdata + "/photos/" + photo);
    }
  }
  const std::string video_id = jobs[0].id;

  // Every job succeeds exactly once.
  for (const Submitted& s : jobs) {
    ApiClient client(server, kTokens.at(s.tenant));
    json job;
    WaitUntil(
        [&] {
          auto got = client.Call("GET", "/v1/jobs/" + s.id);
          job = got.ok() ? *got : json{{"error", got.status().ToString()}};
          return job["state"] != "queued" && job["state"] != "running";
        },
        std::chrono::seconds(180));
    EXPECT_EQ(job["state"], "succeeded") << job.dump();
    EXPECT_EQ(job["attempts"], killed.count(s.id) != 0 ? 2 : 1) << job.dump();
    // Another tenant cannot see it.
    ApiClient other(server, kTokens.at(s.tenant == "acme" ? "globex" : "acme"));
    EXPECT_EQ(other.Call("GET", "/v1/jobs/" + s.id).status().code(), Code::kNotFound);
  }
  for (const std::string tenant : {"acme", "globex"}) {
    std::size_t outputs = 0;
    for (const std::string kind : {"images", "videos"}) {
      auto listed = storage::ListAll(**store, kind + "/output/" + tenant + "/");
      ASSERT_TRUE(listed.ok()) << listed.status().ToString();
      for (const auto& info : *listed) {
        const auto owner = std::count_if(jobs.begin(), jobs.end(), [&](const Submitted& s) {
          return s.tenant == tenant && info.key.find(s.id) != std::string::npos;
        });
        EXPECT_EQ(owner, 1) << info.key;
        EXPECT_GT(info.size, 0u);
      }
      outputs += listed->size();
    }
    EXPECT_EQ(outputs, jobs.size() / 2) << tenant;
  }
  auto uploads = (*store)->ListMultipartUploads("");
  ASSERT_TRUE(uploads.ok()) << uploads.status().ToString();
  EXPECT_TRUE(uploads->empty()) << uploads->size() << " incomplete multipart upload(s)";

  // A result through a presigned GET.
  const fs::path result = dir.path() / "result.mp4";
  const auto download = RunProcess(SWAPLINE_BINARY,
                                   {"jobs", "result", video_id, "--server", server, "--token", kTokens.at("acme"), "-o",
                                    result.string()},
                                   log_dir("result"), 60);
  ASSERT_EQ(download.exit_code, 0) << download.err;
  EXPECT_GT(fs::file_size(result), 10'000u);

  for (auto& worker : workers) {
    if (!worker->running()) continue;
    worker->Signal(SIGTERM);
    EXPECT_EQ(worker->WaitExit(std::chrono::seconds(30)), 0) << worker->log();
  }
  EXPECT_TRUE(!fs::exists(scratch) || fs::is_empty(scratch));
  api.Signal(SIGTERM);
  EXPECT_EQ(api.WaitExit(std::chrono::seconds(20)), 0) << api.log();
}

}  // namespace
}  // namespace swapline::service
