// swapline-bench: the benchmarks that start their own servers (redis-server, the
// Swift S3 server, `swapline serve`) through the test-support library, so the
// production `swapline` binary carries no code that forks test servers. `swapline
// bench image|video` stay in swapline: they need nothing but the test files.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "bench/http_front_bench.h"
#include "bench/queue_bench.h"
#include "bench/store_bench.h"

int main(int argc, char** argv) {
  using namespace swapline;
  CLI::App app{"swapline-bench: store, queue and API throughput, each against a baseline in the same run"};
  app.require_subcommand(1);
  std::string swapline_binary = SWAPLINE_BINARY;
  app.add_option("--swapline", swapline_binary, "the swapline executable the benchmarks run")->capture_default_str();
  int exit_code = 0;

  auto store_options = std::make_shared<bench::StoreBenchOptions>();
  CLI::App* store = app.add_subcommand("store", "S3 upload/download MiB/s and files/s against the aws CLI, on a Swift server it starts");
  store->add_option("--big-mib", store_options->big_mib, "size of the big file in MiB")->check(CLI::Range(1, 65536))->capture_default_str();
  store->add_option("--small-files", store_options->small_files, "number of small files")->check(CLI::Range(1, 100000))->capture_default_str();
  store->add_option("--small-kib", store_options->small_kib, "size of each small file in KiB")->check(CLI::Range(1, 65536))->capture_default_str();
  store->add_option("--runs", store_options->runs, "measured runs (medians are printed)")->check(CLI::Range(1, 100))->capture_default_str();
  store->add_option("--part-mib", store_options->part_mib, "part size and multipart threshold, both clients")->check(CLI::Range(5, 5120))->capture_default_str();
  store->add_option("--concurrency", store_options->concurrency, "requests in flight, both clients")->check(CLI::Range(1, 256))->capture_default_str();
  store->add_option("--aws", store_options->aws, "AWS CLI executable (default: /usr/bin/aws, then PATH)");
  store->add_option("--swift-script", store_options->swift_script, "scripts/swift-s3.sh (default: the source tree's)");
  store->add_option("--work-dir", store_options->work_dir, "scratch folder, deleted afterwards (default: in the temp dir)");
  store->callback([store_options, &swapline_binary, &exit_code] {
    store_options->swapline = swapline_binary;
    exit_code = bench::RunStoreBench(*store_options);
  });

  auto queue_options = std::make_shared<bench::QueueBenchOptions>();
  CLI::App* queue = app.add_subcommand("queue", "no-op jobs/s and dispatch latency of the Redis and SQLite queues against redis-benchmark XADD, on a redis-server it starts");
  queue->add_option("--jobs", queue_options->jobs, "no-op jobs in the throughput phase")->check(CLI::Range(100, 1000000))->capture_default_str();
  queue->add_option("--probes", queue_options->probes, "paced jobs for the dispatch latency")->check(CLI::Range(10, 100000))->capture_default_str();
  queue->add_option("--workers", queue_options->workers, "worker threads")->check(CLI::Range(1, 64))->capture_default_str();
  queue->add_flag("!--no-sqlite", queue_options->sqlite, "skip the SQLite queue");
  queue->callback([queue_options, &exit_code] { exit_code = bench::RunQueueBench(*queue_options); });

  auto api_options = std::make_shared<bench::ApiBenchOptions>();
  CLI::App* api = app.add_subcommand("api", "GET /v1/jobs/{id} req/s and p99 with keep-alive against GET /healthz, on a swapline serve it starts");
  api->add_option("--requests", api_options->requests, "requests per endpoint")->check(CLI::Range(100, 10000000))->capture_default_str();
  api->add_option("--concurrency", api_options->concurrency, "keep-alive connections")->check(CLI::Range(1, 256))->capture_default_str();
  api->add_option("--ab", api_options->ab, "ab executable (default: /usr/bin/ab, then PATH); 'none': a libcurl loop");
  api->callback([api_options, &swapline_binary, &exit_code] {
    api_options->swapline = swapline_binary;
    exit_code = bench::RunApiBench(*api_options);
  });

  auto front_options = std::make_shared<bench::HttpFrontBenchOptions>();
  CLI::App* front = app.add_subcommand("http-front", "cpp-httplib, libmicrohttpd and swapline's front under the same normal and hostile load, req/s against cpp-httplib");
  front->add_option("--requests", front_options->requests, "requests of the normal load")->check(CLI::Range(100, 10000000))->capture_default_str();
  front->add_option("--concurrency", front_options->concurrency, "keep-alive connections of the normal load")->check(CLI::Range(1, 256))->capture_default_str();
  front->add_option("--slow-clients", front_options->slow_clients, "slowloris connections")->check(CLI::Range(1, 1000))->capture_default_str();
  front->add_option("--ab", front_options->ab, "ab executable (default: /usr/bin/ab, then PATH)");
  front->callback([front_options, &exit_code] { exit_code = bench::RunHttpFrontBench(*front_options); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swapline-bench: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
