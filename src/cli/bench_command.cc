// `swapline bench`: throughput benchmarks with a baseline measured in the same run.
#include <memory>
#include <string>

#include "bench/image_bench.h"
#include "bench/queue_bench.h"
#include "bench/store_bench.h"
#include "bench/video_bench.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace swapline::cli {

void RegisterBenchCommand(CLI::App& app, int& exit_code) {
  CLI::App* bench = app.add_subcommand("bench", "benchmarks; each prints ratios against a baseline");
  bench->require_subcommand(1);
  auto testdata = std::make_shared<std::string>("../shared/testdata");
  auto options = std::make_shared<bench::ImageBenchOptions>();
  CLI::App* image = bench->add_subcommand("image", "per-stage times of an image swap at 1920x1080");
  image->add_option("--testdata", *testdata, "folder of the test photos")->capture_default_str();
  image->add_option("--source", options->source, "source photo (default: from --testdata)");
  image->add_option("--target", options->target, "target image (default: the 1080p test still)");
  image->add_option("--runs", options->runs, "measured runs (after 2 warm-up runs)")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  image->callback([testdata, options, &exit_code] {
    bench::ImageBenchOptions resolved = *options;
    const std::filesystem::path dir(*testdata);
    if (resolved.source.empty()) resolved.source = dir / "photos/grace_hopper_usn_portrait.jpg";
    if (resolved.target.empty()) resolved.target = dir / "derived/eileen_collins_nasa_portrait_1920x1080.jpg";
    exit_code = bench::RunImageBench(resolved);
  });

  auto video_options = std::make_shared<bench::VideoBenchOptions>();
  CLI::App* video = bench->add_subcommand("video", "swap pipeline FPS against a bare transcode, 1920x1080");
  video->add_option("--testdata", *testdata, "folder of the test photos and videos")->capture_default_str();
  video->add_option("--source", video_options->source, "source photo (default: from --testdata)");
  video->add_option("--video", video_options->video, "target video (default: the 1080p test clip)");
  video->add_flag("!--no-long-run", video_options->long_run, "skip the 4x longer run");
  video->callback([testdata, video_options, &exit_code] {
    bench::VideoBenchOptions resolved = *video_options;
    const std::filesystem::path dir(*testdata);
    if (resolved.source.empty()) resolved.source = dir / "photos/grace_hopper_usn_portrait.jpg";
    if (resolved.video.empty()) resolved.video = dir / "videos/a_one_face_zoom_rotate_1920x1080_30fps_5s.mp4";
    exit_code = bench::RunVideoBench(resolved);
  });

  auto store_options = std::make_shared<bench::StoreBenchOptions>();
  CLI::App* store = bench->add_subcommand("store", "S3 upload/download MiB/s and files/s against the aws CLI, on a Swift server it starts");
  store->add_option("--big-mib", store_options->big_mib, "size of the big file in MiB")->check(CLI::Range(1, 65536))->capture_default_str();
  store->add_option("--small-files", store_options->small_files, "number of small files")->check(CLI::Range(1, 100000))->capture_default_str();
  store->add_option("--small-kib", store_options->small_kib, "size of each small file in KiB")->check(CLI::Range(1, 65536))->capture_default_str();
  store->add_option("--runs", store_options->runs, "measured runs (medians are printed)")->check(CLI::Range(1, 100))->capture_default_str();
  store->add_option("--part-mib", store_options->part_mib, "part size and multipart threshold, both clients")->check(CLI::Range(5, 5120))->capture_default_str();
  store->add_option("--concurrency", store_options->concurrency, "requests in flight, both clients")->check(CLI::Range(1, 256))->capture_default_str();
  store->add_option("--aws", store_options->aws, "AWS CLI executable (default: /usr/bin/aws, then PATH)");
  store->add_option("--swift-script", store_options->swift_script, "scripts/swift-s3.sh (default: the source tree's)");
  store->add_option("--work-dir", store_options->work_dir, "scratch folder, deleted afterwards (default: in the temp dir)");
  store->callback([store_options, &exit_code] { exit_code = bench::RunStoreBench(*store_options); });
  auto queue_options = std::make_shared<bench::QueueBenchOptions>();
  CLI::App* queue = bench->add_subcommand("queue", "no-op jobs/s and dispatch latency of the Redis and SQLite queues against redis-benchmark XADD, on a redis-server it starts");
  queue->add_option("--jobs", queue_options->jobs, "no-op jobs in the throughput phase")->check(CLI::Range(100, 1000000))->capture_default_str();
  queue->add_option("--probes", queue_options->probes, "paced jobs for the dispatch latency")->check(CLI::Range(10, 100000))->capture_default_str();
  queue->add_option("--workers", queue_options->workers, "worker threads")->check(CLI::Range(1, 64))->capture_default_str();
  queue->add_flag("!--no-sqlite", queue_options->sqlite, "skip the SQLite queue");
  queue->callback([queue_options, &exit_code] { exit_code = bench::RunQueueBench(*queue_options); });

  auto api_options = std::make_shared<bench::ApiBenchOptions>();
  CLI::App* api = bench->add_subcommand("api", "GET /v1/jobs/{id} req/s and p99 with keep-alive against GET /healthz, on a swapline serve it starts");
  api->add_option("--requests", api_options->requests, "requests per endpoint")->check(CLI::Range(100, 10000000))->capture_default_str();
  api->add_option("--concurrency", api_options->concurrency, "keep-alive connections")->check(CLI::Range(1, 256))->capture_default_str();
  api->add_option("--ab", api_options->ab, "ab executable (default: /usr/bin/ab, then PATH); 'none': a libcurl loop");
  api->callback([api_options, &exit_code] { exit_code = bench::RunApiBench(*api_options); });
}

}  // namespace swapline::cli
