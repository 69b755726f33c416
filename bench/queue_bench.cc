#include "bench/queue_bench.h"
#include "bench/load.h"
#include "bench/stats.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "job/job_queue.h"
#include "storage/http_client.h"
#include "storage/open_store.h"
#include "support/process.h"
#include "support/redis_server.h"

namespace swapline::bench {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

job::JobSpec NoOpSpec() {
  job::JobSpec s;
  s.sources = {"images/input/bench/202504051423/src.jpg"};
  s.target = "images/input/bench/202504051423/target.png";
  s.max_attempts = 3;
  (void)job::FinalizeJobSpec(s, "bench");
  return s;
}

struct QueueResult {
  bool ok = false;
  std::string error;
  double submit_rate = 0;  // jobs/s, one thread
  double drain_rate = 0;   // jobs/s, claim+complete by the workers
  double p50_ms = 0, p99_ms = 0;
  int probes = 0;
};

QueueResult MeasureQueue(const std::string& uri, const QueueBenchOptions& options) {
  QueueResult result;
  job::JobQueueOptions qo;
  qo.lease = milliseconds(30'000);
  qo.poll_interval = milliseconds(50);
  std::vector<std::unique_ptr<job::JobQueue>> queues;
  for (int i = 0; i <= options.workers; ++i) {
    Result<std::unique_ptr<job::JobQueue>> q = job::OpenJobQueue(uri, qo);
    if (!q.ok()) {
      result.error = q.status().ToString();
      return result;
    }
    queues.push_back(std::move(q).value());
  }
  job::JobQueue& api = *queues[0];
  // Phase 1: submit everything, then drain.
  std::vector<job::JobSpec> specs;
  specs.reserve(static_cast<std::size_t>(options.jobs));
  for (int i = 0; i < options.jobs; ++i) specs.push_back(NoOpSpec());
  auto t0 = Steady::now();
  for (const job::JobSpec& s : specs) {
    if (Result<job::JobRecord> r = api.Submit(s); !r.ok()) {
      result.error = "submit: " + r.status().ToString();
      return result;
    }
  }
  result.submit_rate = options.jobs / std::chrono::duration<double>(Steady::now() - t0).count();
  std::atomic<int> done{0};
  std::atomic<int> errors{0};
  t0 = Steady::now();
  {
    std::vector<std::thread> threads;
    for (int w = 0; w < options.workers; ++w) {
      threads.emplace_back([&, w] {
        const std::string id = "bench-w" + std::to_string(w);
        while (done.load() < options.jobs && errors.load() < 100) {
          Result<std::optional<job::Lease>> l = queues[w + 1]->Claim(id, milliseconds(50));
          if (!l.ok()) {
            ++errors;
            continue;
          }
          if (!l->has_value()) continue;
          if (queues[w + 1]->Complete(**l, "s3://bench/x").ok()) {
            ++done;
          } else {
            ++errors;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  if (done.load() < options.jobs) {
    result.error = "workers failed (" + std::to_string(errors.load()) + " errors)";
    return result;
  }
  result.drain_rate = options.jobs / std::chrono::duration<double>(Steady::now() - t0).count();

  // Phase 2: waiting workers, paced submissions.
  std::mutex mu;
  std::map<std::string, Steady::time_point> submitted;
  std::vector<double> latency_ms;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < options.workers; ++w) {
    threads.emplace_back([&, w] {
      const std::string id = "bench-w" + std::to_string(w);
      while (!stop.load()) {
        Result<std::optional<job::Lease>> l = queues[w + 1]->Claim(id, milliseconds(50));
        if (!l.ok() || !l->has_value()) continue;
        const auto now = Steady::now();
        {
          std::lock_guard<std::mutex> lock(mu);
          auto it = submitted.find((*l)->job_id());
          if (it != submitted.end()) {
            latency_ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
          }
        }
        (void)queues[w + 1]->Complete(**l, "s3://bench/x");
      }
    });
  }
  bool submit_ok = true;
  for (int i = 0; i < options.probes && submit_ok; ++i) {
    const job::JobSpec s = NoOpSpec();
    {
      std::lock_guard<std::mutex> lock(mu);
      submitted[s.id] = Steady::now();
    }
    if (!api.Submit(s).ok()) submit_ok = false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  const auto deadline = Steady::now() + std::chrono::seconds(30);
  while (submit_ok && Steady::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (static_cast<int>(latency_ms.size()) >= options.probes) break;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  result.probes = static_cast<int>(latency_ms.size());
  if (!submit_ok || result.probes < options.probes) {
    result.error = "latency phase: " + std::to_string(result.probes) + " of " + std::to_string(options.probes) +
                   " probes claimed";
    return result;
  }
  result.p50_ms = Percentile(latency_ms, 0.5);
  result.p99_ms = Percentile(latency_ms, 0.99);
  result.ok = true;
  return result;
}

// "XADD bench * f v: 61349.69 requests per second, p50=0.407 msec" → 61349.69.
double ParseRedisBenchmark(const std::string& output) {
  const std::size_t at = output.rfind(" requests per second");
  if (at == std::string::npos) return 0;
  std::size_t begin = at;
  while (begin > 0 && (std::isdigit(static_cast<unsigned char>(output[begin - 1])) || output[begin - 1] == '.')) {
    --begin;
  }
  return std::atof(output.substr(begin, at - begin).c_str());
}

}  // namespace

int RunQueueBench(const QueueBenchOptions& options) {
  Result<std::unique_ptr<testing::RedisServer>> redis = testing::RedisServer::Start();
  if (!redis.ok()) {
    std::fprintf(stderr, "bench queue: %s\n", redis.status().ToString().c_str());
    return 1;
  }
  const int port = (*redis)->port();
  testing::TempDir dir("swapline-bench-queue");
  std::printf("redis-server on 127.0.0.1:%d; %d no-op jobs, %d workers, %d latency probes\n", port,
              options.jobs, options.workers, options.probes);

  double xadd = 0;
  const std::string redis_benchmark = testing::FindExecutable("redis-benchmark");
  if (redis_benchmark.empty()) {
    std::printf("redis-benchmark is not installed: no XADD baseline\n");
  } else {
    xadd = ParseRedisBenchmark(Capture(redis_benchmark + " -p " + std::to_string(port) +
                                       " -n 20000 -q XADD bench '*' f v 2>&1"));
    (void)(*redis)->RawCommand("DEL bench");
  }

  struct Row {
    std::string name;
    QueueResult r;
  };
  std::vector<Row> rows;
  rows.push_back({"redis", MeasureQueue((*redis)->Uri("bench:jobs"), options)});
  if (options.sqlite) rows.push_back({"sqlite", MeasureQueue("sqlite://" + (dir.path() / "queue.db").string(), options)});
  redis->reset();

  auto ratio = [&](double v) {
    char buf[32];
    if (xadd <= 0) return std::string("-");
    std::snprintf(buf, sizeof(buf), "%.3f", v / xadd);
    return std::string(buf);
  };
  std::printf("\n%-40s %12s %10s %10s %10s\n", "measurement", "per second", "vs XADD", "p50 ms", "p99 ms");
  if (xadd > 0) std::printf("%-40s %12.0f %10s %10s %10s\n", "redis-benchmark XADD (baseline)", xadd, "1.000", "-", "-");
  int rc = 0;
  for (const Row& row : rows) {
    if (!row.r.ok) {
      std::printf("%-40s failed: %s\n", (row.name + " queue").c_str(), row.r.error.c_str());
      rc = 1;
      continue;
    }
    std::printf("%-40s %12.0f %10s %10s %10s\n", (row.name + " submit (1 thread)").c_str(), row.r.submit_rate,
                ratio(row.r.submit_rate).c_str(), "-", "-");
    char p50[32], p99[32];
    std::snprintf(p50, sizeof(p50), "%.2f", row.r.p50_ms);
    std::snprintf(p99, sizeof(p99), "%.2f", row.r.p99_ms);
    std::printf("%-40s %12.0f %10s %10s %10s\n",
                (row.name + " claim+complete (" + std::to_string(options.workers) + " workers)").c_str(),
                row.r.drain_rate, ratio(row.r.drain_rate).c_str(), p50, p99);
  }
  std::printf("(p50/p99: dispatch latency, Submit → Claim returned, %d jobs submitted every 2 ms)\n", options.probes);
  return rc;
}

namespace {

LoadResult RunCurlLoop(const std::string& url, const ApiBenchOptions& options) {
  LoadResult r;
  storage::HttpClient http(storage::HttpOptions{});
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(options.concurrency));
  std::atomic<long> failed{0};
  const int per_thread = options.requests / options.concurrency;
  const auto t0 = Steady::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < options.concurrency; ++c) {
    threads.emplace_back([&, c] {
      storage::HttpRequest request;
      request.method = "GET";
      request.url = url;
      for (int i = 0; i < per_thread; ++i) {
        const auto start = Steady::now();
        Result<storage::HttpResponse> response = http.Send(request);
        latencies[c].push_back(std::chrono::duration<double, std::milli>(Steady::now() - start).count());
        if (!response.ok() || response->status != 200) ++failed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Steady::now() - t0).count();
  std::vector<double> all;
  for (const auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  r.rps = static_cast<double>(all.size()) / seconds;
  r.p99_ms = Percentile(all, 0.99);
  r.failed = failed.load();
  r.ok = true;
  return r;
}

}  // namespace

int RunApiBench(const ApiBenchOptions& options) {
  testing::TempDir dir("swapline-bench-api");
  const std::string store_uri = "file://" + (dir.path() / "objects").string();
  {  // the job's inputs must exist
    Result<std::unique_ptr<storage::ObjectStore>> store = storage::OpenObjectStore(store_uri, storage::S3Options{});
    if (!store.ok()) {
      std::fprintf(stderr, "bench api: %s\n", store.status().ToString().c_str());
      return 1;
    }
    for (const char* key : {"images/input/local/202504051423/src.jpg", "images/input/local/202504051423/target.png"}) {
      std::istringstream body("not an image: the job is never run");
      if (Result<storage::ObjectInfo> put = (*store)->Put(key, body, storage::PutOptions{}); !put.ok()) {
        std::fprintf(stderr, "bench api: %s\n", put.status().ToString().c_str());
        return 1;
      }
    }
  }
  storage::HttpClient http(storage::HttpOptions{});
  testing::ChildProcess server;
  std::string base;
  for (int attempt = 0; attempt < 5 && base.empty(); ++attempt) {
    const int port = testing::FreePort();
    const std::string candidate = "http://127.0.0.1:" + std::to_string(port);
    if (!server.Start({options.swapline, "serve", "--listen", "127.0.0.1:" + std::to_string(port), "--store", store_uri,
                       "--queue", "sqlite://" + (dir.path() / "queue.db").string(), "--workers", "0"},
                      dir.path() / "serve.log")) {
      break;
    }
    const auto deadline = Steady::now() + std::chrono::seconds(20);
    while (Steady::now() < deadline && server.Running()) {
      storage::HttpRequest request;
      request.method = "GET";
      request.url = candidate + "/healthz";
      Result<storage::HttpResponse> response = http.Send(request);
      if (response.ok() && response->status == 200) {
        base = candidate;
        break;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    if (base.empty()) server.Stop();
  }
  if (base.empty()) {
    std::fprintf(stderr, "bench api: swapline serve did not start\n");
    return 1;
  }
  const std::string body = R"({"sources":["images/input/local/202504051423/src.jpg"],)"
                           R"("target":"images/input/local/202504051423/target.png"})";
  storage::HttpRequest submit;
  submit.method = "POST";
  submit.url = base + "/v1/jobs";
  submit.headers = {{"Content-Type", "application/json"}};
  submit.body = std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
  Result<storage::HttpResponse> submitted = http.Send(submit);
  if (!submitted.ok() || submitted->status != 201) {
    std::fprintf(stderr, "bench api: POST /v1/jobs failed: %s\n",
                 submitted.ok() ? submitted->body.c_str() : submitted.status().ToString().c_str());
    return 1;
  }
  const nlohmann::json record = nlohmann::json::parse(submitted->body, nullptr, false);
  if (!record.is_object() || !record.contains("id") || !record["id"].is_string()) {
    std::fprintf(stderr, "bench api: no job id in %s\n", submitted->body.c_str());
    return 1;
  }
  const std::string job_url = base + "/v1/jobs/" + record["id"].get<std::string>();

  std::string ab = options.ab;
  if (ab.empty()) ab = testing::FindExecutable("ab");
  if (ab == "none") ab.clear();
  const std::string tool = ab.empty() ? "libcurl loop (ab not installed: apache2-utils)" : "ab -k";
  std::printf("swapline serve on %s (--workers 0, SQLite queue); %s, %d connections, %d requests each\n",
              base.c_str(), tool.c_str(), options.concurrency, options.requests);
  auto load = [&](const std::string& url) { return ab.empty() ? RunCurlLoop(url, options) : RunAb(ab, url, options.concurrency, options.requests); };
  const LoadResult health = load(base + "/healthz");
  const LoadResult get = load(job_url);
  server.Stop();

  std::printf("\n%-30s %12s %10s %10s %8s\n", "endpoint", "req/s", "vs healthz", "p99 ms", "failed");
  int rc = 0;
  for (const auto& [name, r] : {std::pair<std::string, const LoadResult&>{"GET /healthz (baseline)", health},
                                std::pair<std::string, const LoadResult&>{"GET /v1/jobs/{id}", get}}) {
    if (!r.ok) {
      std::printf("%-30s failed: %s\n", name.c_str(), r.error.c_str());
      rc = 1;
      continue;
    }
    char ratio[32] = "-";
    if (health.ok && health.rps > 0) std::snprintf(ratio, sizeof(ratio), "%.3f", r.rps / health.rps);
    char p99[32];
    if (!ab.empty() && r.p99_ms < 1) {
      std::snprintf(p99, sizeof(p99), "<1");  // ab reports whole milliseconds
    } else {
      std::snprintf(p99, sizeof(p99), "%.2f", r.p99_ms);
    }
    std::printf("%-30s %12.0f %10s %10s %8ld\n", name.c_str(), r.rps, ratio, p99, r.failed);
    if (r.failed > 0) rc = 1;
  }
  if (!ab.empty()) std::printf("(p99 from ab's percentile table: whole milliseconds)\n");
  return rc;
}

}  // namespace swapline::bench
