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
#include "cli/worker_flags.h"
#include "core/duration.h"
#include "service/metrics_server.h"
#include "service/runtime.h"
#include "service/store_metrics.h"
#include "service/worker.h"

namespace swapline::cli {
namespace {

struct WorkerArgs {
  std::string queue;
  WorkerFlags worker;
  std::string store;
  int concurrency = 1;
  std::string name;
  std::string metrics_listen;
};

int RunWorker(const WorkerArgs& args) {
  using namespace service;
  auto queue_options = QueueOptionsFromFlags(args.worker.lease, args.worker.job_retention, args.worker.dead_letter_max);
  if (!queue_options.ok()) return Fail(queue_options.status());
  auto grace = ParseDuration(args.worker.grace);
  if (!grace.ok()) return Fail(grace.status().WithContext("--grace"));
  auto limits = LimitsFromFlags(args.worker.limits_file, args.worker.limits);
  if (!limits.ok()) return Fail(limits.status());
  auto backends = OpenBackends(args.store, args.queue, args.worker.s3, *queue_options);
  if (!backends.ok()) return Fail(backends.status());

  MetricsRegistry metrics;
  StoreMetrics store_metrics(metrics);
  WorkerOptions options;
  options.concurrency = args.concurrency;
  options.lease = queue_options->lease;
  options.grace = *grace;
  options.name = args.name;
  if (Status s = ApplyWorkerFlags(args.worker, options); !s.ok()) return Fail(s);
  options.store_uri = backends->store_uri;
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
  cmd->add_option("--name", args->name, "worker id prefix (default HOST-PID)");
  cmd->add_option("--metrics-listen", args->metrics_listen,
                  "serve /metrics and /healthz on HOST:PORT (job durations, bytes, retries)");
  AddWorkerFlags(cmd, args->worker);
  cmd->callback([args, &exit_code] { exit_code = RunWorker(*args); });
}

}  // namespace swapline::cli
