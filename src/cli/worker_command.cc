// `swapline worker`: a stateless worker (service/worker.h) on a shared queue and
// store. SIGTERM/SIGINT: stop claiming, give running jobs --grace to finish, then
// release them to the queue and exit 0.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "service/metrics_server.h"
#include "service/runtime.h"
#include "service/store_metrics.h"
#include "service/worker.h"

namespace swapline::cli {
namespace {

struct WorkerArgs {
  std::string queue;
  std::string store;
  int concurrency = 1;
  std::string lease;
  std::string job_retention = "7d";
  std::int64_t dead_letter_max = 10'000;
  std::string grace = "30s";
  std::string name;
  std::string scratch_dir;
  std::string models_dir;
  std::string s3_endpoint;
  int execution_thread_count = 0;
  std::string limits_file;
  std::vector<std::string> limits;
  std::string metrics_listen;
};

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

int RunWorker(const WorkerArgs& args) {
  using namespace service;
  auto queue_options = QueueOptionsFromFlags(args.lease, args.job_retention, args.dead_letter_max);
  if (!queue_options.ok()) return Fail(queue_options.status());
  auto grace = ParseDuration(args.grace);
  if (!grace.ok()) return Fail(grace.status().WithContext("--grace"));
  auto limits = LimitsFromFlags(args.limits_file, args.limits);
  if (!limits.ok()) return Fail(limits.status());
  auto backends = OpenBackends(args.store, args.queue, args.s3_endpoint, *queue_options);
  if (!backends.ok()) return Fail(backends.status());

  MetricsRegistry metrics;
  StoreMetrics store_metrics(metrics);
  WorkerOptions options;
  options.concurrency = args.concurrency;
  options.lease = queue_options->lease;
  options.grace = *grace;
  options.name = args.name;
  options.scratch_dir = args.scratch_dir;
  options.models_dir = args.models_dir.empty() ? EnvOr("SWAPLINE_MODELS_DIR", "") : args.models_dir;
  options.store_uri = backends->store_uri;
  options.execution_thread_count = args.execution_thread_count;
  options.limits = *limits;
  Worker worker(*backends->queue, *backends->store, &metrics, options);
  MetricsServer metrics_server(metrics);
  if (!args.metrics_listen.empty()) {
    std::string host;
    int port = 0;
    if (Status s = ParseListen(args.metrics_listen, host, port); !s.ok()) return Fail(s.WithContext("--metrics-listen"));
    if (Status s = metrics_server.Start(host, port); !s.ok()) return Fail(s);
    spdlog::info("metrics on http://{}:{}/metrics", host, metrics_server.port());
  }
  InstallStopSignals();
  if (Status s = worker.Start(); !s.ok()) return Fail(s);
  spdlog::info("worker on queue {} and store {}", backends->queue->Describe(), backends->store->Describe());
  while (StopSignal() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  spdlog::info("signal {}: draining", StopSignal());
  worker.Drain(*grace);
  worker.Wait();
  spdlog::info("stopped after {} job(s)", worker.completed());
  return kExitOk;
}

}  // namespace

void RegisterWorkerCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<WorkerArgs>();
  CLI::App* cmd = app.add_subcommand("worker", "take jobs from the queue, run them, upload results");
  cmd->add_option("--queue", args->queue, "job queue: redis://HOST:PORT or sqlite://FILE")->required();
  cmd->add_option("--store", args->store, "object store: s3://BUCKET or file://DIR")->required();
  cmd->add_option("--concurrency", args->concurrency, "jobs at once")->capture_default_str();
  cmd->add_option("--lease", args->lease, "job lease, renewed every lease/3 (default $SWAPLINE_LEASE or 30s)");
  cmd->add_option("--job-retention", args->job_retention, "ended jobs are deleted this long after they ended (0: never)")
      ->capture_default_str();
  cmd->add_option("--dead-letter-max", args->dead_letter_max, "Redis: entries kept in the dead-letter stream")
      ->capture_default_str();
  cmd->add_option("--grace", args->grace, "SIGTERM: time running jobs get to finish before release")
      ->capture_default_str();
  cmd->add_option("--name", args->name, "worker id prefix (default HOST-PID)");
  cmd->add_option("--scratch-dir", args->scratch_dir, "scratch folder (default $TMPDIR/swapline-scratch)");
  cmd->add_option("--models-dir", args->models_dir, "folder of models jobs may name (default $SWAPLINE_MODELS_DIR)");
  cmd->add_option("--s3-endpoint-url", args->s3_endpoint, "S3 endpoint (default $AWS_ENDPOINT_URL)");
  cmd->add_option("--execution-thread-count", args->execution_thread_count,
                  "video frame workers per job (default: one per core)");
  cmd->add_option("--limits", args->limits_file, "operator limits on jobs: a TOML or JSON file (README: Security)");
  cmd->add_option("--limit", args->limits, "one limit, NAME=VALUE (over --limits), e.g. max_video_seconds=120");
  cmd->add_option("--metrics-listen", args->metrics_listen,
                  "serve /metrics and /healthz on HOST:PORT (job durations, bytes, retries)");
  cmd->callback([args, &exit_code] { exit_code = RunWorker(*args); });
}

}  // namespace swapline::cli
