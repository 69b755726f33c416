// What the monitoring and the storage policies assume, checked against a running
// cluster on loopback (redis-server, the Swift S3 server, `swapline serve
// --workers 0` and a `swapline worker` with --metrics-listen): an image job and a
// video job whose result is big enough for a multipart upload, submitted,
// followed and downloaded through the API.
//  - Every swapline_* metric named in deploy/monitoring (rules and dashboard) is
//    one the API or the worker exports; every swapline:* name used is recorded.
//  - Each role's IAM policy (deploy/s3/iam-*.json) allows exactly the S3 actions
//    that role's process issued (its swapline_s3_requests_total and
//    swapline_s3_presigned_urls_total operations), plus what the code issues on
//    its failure paths (below).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "cli/cli_test_util.h"
#include "support/redis_server.h"
#include "service/service_test_util.h"
#include "storage/http_client.h"
#include "storage/s3_store.h"
#include "support/s3_servers.h"

namespace swapline::service {
namespace {

using nlohmann::json;
using swapline::testing::ReadFileBytes;
using swapline::testing::RunProcess;
using swapline::testing::TempDir;

const std::string kTestdata = SWAPLINE_TESTDATA_DIR;
const std::string kDeploy = SWAPLINE_DEPLOY_DIR;
constexpr const char* kBucket = "swapline-ops";
constexpr const char* kToken = "ops-token-0123456789";

// One Prometheus text exposition: declared families and sample label values.
struct Scrape {
  std::set<std::string> names;  // families, with _bucket/_sum/_count for histograms
  std::map<std::string, std::set<std::string>> operations;  // family → its "operation" label values
  std::map<std::string, std::set<std::string>> codes;       // family → its "code" label values
  std::map<std::string, double> samples;                    // "name{labels}" → value
};

Scrape ScrapeMetrics(const std::string& url) {
  storage::HttpClient client({});
  storage::HttpRequest request;
  request.method = "GET";
  request.url = url;
  Scrape scrape;
  Result<storage::HttpResponse> response = client.Send(request);
  EXPECT_TRUE(response.ok() && response->status == 200) << url;
  if (!response.ok()) return scrape;
  std::istringstream lines(response->body);
  const std::regex type_line(R"(# TYPE (\S+) (\S+))");
  const std::regex label(R"re((operation|code)="([^"]*)")re");
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, type_line)) {
      scrape.names.insert(m[1]);
      if (m[2] == "histogram") {
        for (const char* suffix : {"_bucket", "_sum", "_count"}) scrape.names.insert(std::string(m[1]) + suffix);
      }
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const std::size_t space = line.rfind(' ');
    scrape.samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    const std::string family = line.substr(0, line.find_first_of("{ "));
    for (auto it = std::sregex_iterator(line.begin(), line.end(), label); it != std::sregex_iterator(); ++it) {
      ((*it)[1] == "operation" ? scrape.operations : scrape.codes)[family].insert((*it)[2]);
    }
  }
  return scrape;
}

std::set<std::string> Matches(const std::string& text, const std::regex& pattern) {
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern); it != std::sregex_iterator(); ++it) {
    out.insert((*it)[0]);
  }
  return out;
}

// IAM actions an S3 operation needs (the S3 API reference's "Permissions").
std::set<std::string> ActionsFor(const std::string& operation) {
  static const std::map<std::string, std::set<std::string>> kActions = {
      {"HeadObject", {"s3:GetObject"}},
      {"GetObject", {"s3:GetObject"}},
      {"PutObject", {"s3:PutObject"}},
      {"CreateMultipartUpload", {"s3:PutObject"}},
      {"UploadPart", {"s3:PutObject"}},
      {"CompleteMultipartUpload", {"s3:PutObject"}},
      {"AbortMultipartUpload", {"s3:AbortMultipartUpload"}},
      {"ListParts", {"s3:ListMultipartUploadParts"}},
      {"ListMultipartUploads", {"s3:ListBucketMultipartUploads"}},
      {"ListObjectsV2", {"s3:ListBucket"}},
      {"DeleteObject", {"s3:DeleteObject"}},
      {"CopyObject", {"s3:GetObject", "s3:PutObject"}},
      {"UploadPartCopy", {"s3:GetObject", "s3:PutObject"}},
  };
  const auto it = kActions.find(operation);
  EXPECT_NE(it, kActions.end()) << "no IAM mapping for S3 operation " << operation;
  return it == kActions.end() ? std::set<std::string>{} : it->second;
}

// The actions a role needs, from what its process did.
std::set<std::string> RequiredActions(const Scrape& scrape) {
  std::set<std::string> operations = scrape.operations.count("swapline_s3_requests_total")
                                         ? scrape.operations.at("swapline_s3_requests_total")
                                         : std::set<std::string>{};
  if (scrape.operations.count("swapline_s3_presigned_urls_total")) {
    for (const std::string& op : scrape.operations.at("swapline_s3_presigned_urls_total")) operations.insert(op);
  }
  // Failure paths a healthy run does not take: a multipart upload that fails is
  // aborted, and one a killed worker left behind is resumed from its parts.
  if (operations.count("CreateMultipartUpload")) operations.insert({"AbortMultipartUpload", "ListParts"});
  std::set<std::string> actions;
  for (const std::string& op : operations) {
    for (const std::string& action : ActionsFor(op)) actions.insert(action);
  }
  // On AWS a HEAD or GET of a missing key answers 403, not 404, unless the caller
  // may list the bucket; the code relies on 404 (readiness probe, result reuse).
  const auto errors = scrape.codes.find("swapline_s3_errors_total");
  if (errors != scrape.codes.end() && errors->second.count("not_found")) actions.insert("s3:ListBucket");
  return actions;
}

std::set<std::string> AllowedActions(const std::string& policy_file) {
  std::ifstream in(policy_file);
  EXPECT_TRUE(in) << policy_file;
  std::set<std::string> actions;
  if (!in) return actions;
  const json policy = json::parse(in);
  for (const json& statement : policy["Statement"]) {
    EXPECT_EQ(statement["Effect"], "Allow") << policy_file << ": role policies only allow";
    const json& action = statement["Action"];
    for (const json& a : action.is_array() ? action : json::array({action})) actions.insert(a.get<std::string>());
    const json& resource = statement["Resource"];
    for (const json& r : resource.is_array() ? resource : json::array({resource})) {
      EXPECT_TRUE(r.get<std::string>().starts_with("arn:aws:s3:::swapline-media")) << policy_file << ": " << r;
    }
  }
  return actions;
}

std::string Join(const std::set<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

TEST(OpsTest, AlertMetricsExistAndPoliciesGrantExactlyTheActionsIssued) {
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status().ToString() << " (run make deps)";
  auto swift = testing::SwiftServer::Start();
  ASSERT_TRUE(swift.ok()) << swift.status().ToString() << " (run make deps)";
  auto store = (*swift)->OpenBucketForProcesses(kBucket);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  TempDir dir("swapline_ops_test");
  const fs::path tokens = dir.path() / "tokens.txt";
  std::ofstream(tokens) << kToken << " acme\n";
  const int api_port = swapline::testing::FreePort();
  const int metrics_port = swapline::testing::FreePort();
  const std::string server = "http://127.0.0.1:" + std::to_string(api_port);
  const std::string queue = (*redis)->Uri("swapline:jobs");
  const std::string store_uri = std::string("s3://") + kBucket;
  Process api({"serve", "--listen", "127.0.0.1:" + std::to_string(api_port), "--workers", "0", "--store", store_uri,
               "--queue", queue, "--tokens", tokens.string()},
              dir.path() / "serve");
  Process worker({"worker", "--queue", queue, "--store", store_uri, "--scratch-dir", (dir.path() / "scratch").string(),
                  "--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)},
                 dir.path() / "worker");

  storage::HttpClient http({});
  storage::HttpRequest ready;
  ready.method = "GET";
  ready.url = server + "/readyz";
  for (int i = 0; i < 600; ++i) {
    const Result<storage::HttpResponse> answer = http.Send(ready);
    if (answer.ok() && answer->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  // An image job, and a lossless upscaled video job (its result is several 8 MiB parts).
  const std::string face = kTestdata + "/photos/grace_hopper_usn_portrait.jpg";
  const std::vector<std::vector<std::string>> jobs = {
      {"-t", kTestdata + "/photos/eileen_collins_nasa_portrait.png", "--download",
       (dir.path() / "image.png").string()},
      {"-t", kTestdata + "/videos/b_two_faces_side_by_side_1280x720_30fps_3s.mp4", "--output-video-quality", "100",
       "--output-video-preset", "ultrafast", "--output-video-resolution", "2560x1440", "--download",
       (dir.path() / "video.mp4").string()}};
  for (const auto& job : jobs) {
    std::vector<std::string> args = {"jobs", "submit", "--server", server, "--token", kToken, "-s", face, "--wait",
                                     "--timeout", "500"};
    args.insert(args.end(), job.begin(), job.end());
    const auto run = RunProcess(SWAPLINE_BINARY, args, dir.path() / "submit", 600);
    ASSERT_EQ(run.exit_code, 0) << run.err << "\nserve:\n" << api.log() << "\nworker:\n" << worker.log();
  }
  EXPECT_GT(fs::file_size(dir.path() / "video.mp4"), 8u << 20) << "the video result must take the multipart path";

  const Scrape api_metrics = ScrapeMetrics(server + "/metrics");
  const Scrape worker_metrics = ScrapeMetrics("http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics");

  // Every metric the rules and the dashboard name is exported.
  const std::string rules = ReadFileBytes(kDeploy + "/monitoring/rules.yaml");
  const std::string dashboard = ReadFileBytes(kDeploy + "/monitoring/dashboard.json");
  ASSERT_FALSE(rules.empty());
  ASSERT_FALSE(dashboard.empty());
  std::set<std::string> exported = api_metrics.names;
  exported.insert(worker_metrics.names.begin(), worker_metrics.names.end());
  const std::regex metric_name(R"(\bswapline_[a-z0-9_]*[a-z0-9])");
  std::set<std::string> used = Matches(rules, metric_name);
  for (const std::string& name : Matches(dashboard, metric_name)) used.insert(name);
  EXPECT_GE(used.size(), 15u);
  for (const std::string& name : used) EXPECT_EQ(exported.count(name), 1u) << name << " is not exported";
  const std::regex recorded_name(R"(swapline:[a-z0-9_:]*[a-z0-9])");
  const std::set<std::string> recorded = Matches(rules, std::regex(R"(record: swapline:[a-z0-9_:]+)"));
  for (const std::string& name : Matches(dashboard, recorded_name)) {
    EXPECT_EQ(recorded.count("record: " + name), 1u) << name << " is not a recording rule";
  }

  // Each role's policy grants exactly what its process needed.
  EXPECT_EQ(Join(RequiredActions(api_metrics)), Join(AllowedActions(kDeploy + "/s3/iam-api.json")));
  EXPECT_EQ(Join(RequiredActions(worker_metrics)), Join(AllowedActions(kDeploy + "/s3/iam-worker.json")));
  // The bytes-written counter saw the video result go up.
  const auto written = worker_metrics.samples.find("swapline_store_bytes_written_total{prefix=\"videos/output\"}");
  ASSERT_NE(written, worker_metrics.samples.end());
  EXPECT_GE(written->second, static_cast<double>(fs::file_size(dir.path() / "video.mp4")));

  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.WaitExit(std::chrono::seconds(30)), 0) << worker.log();
  api.Signal(SIGTERM);
  EXPECT_EQ(api.WaitExit(std::chrono::seconds(20)), 0) << api.log();
}

}  // namespace
}  // namespace swapline::service
