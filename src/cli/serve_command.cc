// `swapline serve`: the HTTP API plus embedded workers (service/api_server.h,
// service/worker.h). With no flags: a file store under ./var/objects, an SQLite
// queue at ./var/queue.db, one in-process worker, loopback clients only.
// `--workers 0` makes it the API tier of a cluster (workers run elsewhere).
//
// SIGTERM/SIGINT: /readyz turns 503, workers stop claiming and get --grace to
// finish (then release their jobs), then the API stops.
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
#include "core/env.h"
#include "service/api_server.h"
#include "service/runtime.h"
#include "service/store_metrics.h"
#include "service/worker.h"

namespace swapline::cli {
namespace {

struct ServeArgs {
  std::string listen = "127.0.0.1:8080";
  std::string store = "file://./var/objects";
  std::string queue = "sqlite://./var/queue.db";
  WorkerFlags worker;
  int workers = 1;
  std::string tokens;
  std::string public_url;
  std::vector<std::string> watch;
  std::string max_body = "1048576";
  int threads = 16;
  service::HttpLimits http;
  double header_timeout_seconds = 10;
  bool protect_metrics = false;
  bool allow_local_events = false;
};

int RunServe(const ServeArgs& args) {
  using namespace service;
  ApiOptions api;
  if (Status s = ParseListen(args.listen, api.host, api.port); !s.ok()) return Fail(s);
  auto queue_options = QueueOptionsFromFlags(args.worker.lease, args.worker.job_retention, args.worker.dead_letter_max);
  if (!queue_options.ok()) return Fail(queue_options.status());
  auto grace = ParseDuration(args.worker.grace);
  if (!grace.ok()) return Fail(grace.status().WithContext("--grace"));
  try {
    api.max_body_bytes = std::stoull(args.max_body);
  } catch (const std::exception&) {
    return Fail(InvalidArgument("--max-body-bytes must be a number of bytes"));
  }
  if (!args.tokens.empty()) {
    auto tokens = TokenTable::Load(args.tokens);
    if (!tokens.ok()) return Fail(tokens.status());
    spdlog::info("auth: {} token(s) from {}", tokens->size(), args.tokens);
    api.tokens = std::move(tokens).value();
  } else {
    spdlog::warn("auth: no --tokens: only loopback clients are served, all as tenant 'local'");
  }
  for (const std::string& text : args.watch) {
    auto rule = ParseWatchRule(text);
    if (!rule.ok()) return Fail(rule.status());
    api.watch.push_back(*rule);
  }
  auto limits = LimitsFromFlags(args.worker.limits_file, args.worker.limits);
  if (!limits.ok()) return Fail(limits.status());
  api.limits = *limits;
  api.protect_metrics = args.protect_metrics;
  api.allow_local_events = args.allow_local_events;
  api.public_url = args.public_url;
  api.url_secret = EnvOr("SWAPLINE_URL_SECRET", "");
  api.threads = args.threads;
  api.http = args.http;
  api.http.header_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(args.header_timeout_seconds * 1000));

  auto backends = OpenBackends(args.store, args.queue, args.worker.s3, *queue_options);
  if (!backends.ok()) return Fail(backends.status());
  api.store_uri = backends->store_uri;

  MetricsRegistry metrics;
  StoreMetrics store_metrics(metrics);
  ApiServer server(*backends->queue, *backends->store, metrics, api);
  if (Status s = server.Start(); !s.ok()) return Fail(s);
  spdlog::info("serving {} on {} (store {}, queue {}, {} embedded worker(s))", server.base_url(), args.listen,
               backends->store->Describe(), backends->queue->Describe(), args.workers);
  spdlog::info("web page: {}/", server.base_url());

  std::unique_ptr<Worker> worker;
  if (args.workers > 0) {
    WorkerOptions options;
    options.concurrency = args.workers;
    options.lease = queue_options->lease;
    options.grace = *grace;
    if (Status s = ApplyWorkerFlags(args.worker, options); !s.ok()) return Fail(s);
    options.store_uri = backends->store_uri;
    options.limits = *limits;
    worker = std::make_unique<Worker>(*backends->queue, *backends->store, &metrics, options);
    if (Status s = worker->Start(); !s.ok()) return Fail(s);
  }

  InstallStopSignals();
  while (StopSignal() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  spdlog::info("signal {}: draining", StopSignal());
  server.SetDraining();
  if (worker) {
    worker->Drain(*grace);
    worker->Wait();
  }
  server.Stop();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace

void RegisterServeCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "HTTP API with embedded workers (single machine or API tier)");
  cmd->add_option("--listen", args->listen, "address to listen on, HOST:PORT")->capture_default_str();
  cmd->add_option("--store", args->store, "object store: file://DIR or s3://BUCKET")->capture_default_str();
  cmd->add_option("--queue", args->queue, "job queue: sqlite://FILE or redis://HOST:PORT")->capture_default_str();
  cmd->add_option("--workers", args->workers, "embedded worker slots (0: API only)")->capture_default_str();
  cmd->add_option("--tokens", args->tokens,
                  "token file: 'TOKEN TENANT' per line; without it only loopback clients, as tenant 'local'");
  cmd->add_option("--public-url", args->public_url,
                  "base URL clients reach this server at (signed object URLs of file stores); default http://LISTEN");
  cmd->add_option("--watch", args->watch,
                  "S3 events: objects under PREFIX become jobs; PREFIX=SOURCE_KEY sets the default source face "
                  "('{tenant}' is replaced)");
  cmd->add_option("--max-body-bytes", args->max_body, "largest JSON request body")->capture_default_str();
  cmd->add_option("--threads", args->threads, "HTTP handlers running at once")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--max-connections", args->http.max_connections, "open HTTP connections in all (503 beyond)")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  cmd->add_option("--max-connections-per-client", args->http.max_connections_per_client,
                  "open HTTP connections from one address (429 beyond)")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  cmd->add_option("--max-header-bytes", args->http.max_header_bytes, "request line and headers (431 beyond)")
      ->check(CLI::Range(1024, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--header-timeout", args->header_timeout_seconds,
                  "seconds a request's line and headers may take to arrive (408 after)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_flag("--protect-metrics", args->protect_metrics,
               "/metrics needs the token of tenant 'metrics' from --tokens (default: open, like /healthz)");
  cmd->add_flag("--allow-local-events", args->allow_local_events,
                "without --tokens, let loopback clients post S3 events for every tenant");
  AddWorkerFlags(cmd, args->worker);
  cmd->callback([args, &exit_code] { exit_code = RunServe(*args); });
}

}  // namespace swapline::cli
