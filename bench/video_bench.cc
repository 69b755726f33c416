#include "bench/video_bench.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "bench/stats.h"
#include "bench/video_baseline.h"
#include "core/version.h"
#include "pipeline/video_job.h"

namespace swapline::bench {
namespace {

double PeakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// CPU seconds (user and system, all threads) the process has used: on a machine
// shared with other work, the ratio of CPU times holds where the ratio of rates
// (wall clock) does not.
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Writes `copies` back-to-back copies of `input`'s frames into `output` (no audio).
Status Concatenate(const std::filesystem::path& input, const std::filesystem::path& output, int copies) {
  SWAPLINE_ASSIGN_OR_RETURN(auto first, media::VideoReader::Open(input));
  const media::VideoInfo info = first->info();
  media::VideoWriterOptions options;
  options.preset = "ultrafast";
  options.quality = 90;
  SWAPLINE_ASSIGN_OR_RETURN(auto writer, media::VideoWriter::Create(output, info, options));
  const std::int64_t frame_us = static_cast<std::int64_t>(1e6 / std::max(1.0, info.frame_rate.value()));
  std::int64_t index = 0;
  for (int copy = 0; copy < copies; ++copy) {
    SWAPLINE_ASSIGN_OR_RETURN(auto reader, media::VideoReader::Open(input));
    media::VideoFrame frame;
    while (true) {
      SWAPLINE_ASSIGN_OR_RETURN(bool more, reader->Read(frame));
      if (!more) break;
      frame.index = index;
      frame.pts_us = index * frame_us;
      ++index;
      SWAPLINE_RETURN_IF_ERROR(writer->Write(frame));
    }
  }
  return writer->Finish();
}

struct SwapRun {
  double fps = 0;
  std::int64_t frames = 0;
  pipeline::VideoStageTimes stages;
};

Result<SwapRun> TimeSwap(pipeline::ImageSwapEngine& engine, const VideoBenchOptions& options,
                         const std::filesystem::path& video, const std::filesystem::path& output,
                         const std::string& preset) {
  pipeline::VideoJobSpec spec;
  spec.sources = {options.source};
  spec.target = video;
  spec.output = output;
  spec.output_video.preset = preset;
  const auto start = Clock::now();
  SWAPLINE_ASSIGN_OR_RETURN(pipeline::VideoJobReport report, pipeline::RunVideoJob(engine, spec));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return SwapRun{static_cast<double>(report.frames) / seconds, report.frames, report.stages};
}

// Per-stage CPU time of the swap run, per frame (all frames, with or without a face).
void PrintStageTimes(const SwapRun& run) {
  const double frames = static_cast<double>(std::max<std::int64_t>(run.frames, 1));
  const pipeline::VideoStageTimes& t = run.stages;
  std::printf("per-stage ms per frame (ultrafast run, summed over threads):\n");
  std::printf("  %-28s %8.2f\n", "track (detect, landmarks)", t.track_ms / frames);
  std::printf("  %-28s %8.2f\n", "swap: read face region", t.swap.read_ms / frames);
  std::printf("  %-28s %8.2f\n", "swap: warp and mask", t.swap.warp_ms / frames);
  std::printf("  %-28s %8.2f\n", "swap: colour", t.swap.colour_ms / frames);
  std::printf("  %-28s %8.2f\n", "swap: blend (Poisson)", t.swap.blend_ms / frames);
  std::printf("  %-28s %8.2f\n", "swap: paste-back (YUV)", t.swap.paste_ms / frames);
  std::printf("faces swapped %lld, warps and masks reused for %lld (%.0f %%)\n",
              static_cast<long long>(t.swap.faces), static_cast<long long>(t.swap.reused_geometries),
              100.0 * static_cast<double>(t.swap.reused_geometries) /
                  static_cast<double>(std::max<std::int64_t>(t.swap.faces, 1)));
}

// One row of the table: transcode fps, swap fps, ratio, CPU ratio, ceiling.
void PrintRow(const std::string& label, const double (&row)[5], double peak_rss_mib) {
  std::printf("%-16s %14.1f %14.1f %9.2fx %11.2fx %9.2fx %12.0f\n", label.c_str(), row[0], row[1], row[2], row[3],
              row[4], peak_rss_mib);
}

}  // namespace

int RunVideoBench(const VideoBenchOptions& options) {
  const std::filesystem::path scratch =
      std::filesystem::temp_directory_path() / ("swapline-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(scratch);
  auto fail = [&](const Status& status) {
    spdlog::error("{}", status.message());
    std::filesystem::remove_all(scratch);
    return 1;
  };
  auto engine = pipeline::ImageSwapEngine::Create(std::nullopt, {.side = pipeline::kVideoDetectSide});
  if (!engine.ok()) return fail(engine.status());
  auto info = media::ProbeVideo(options.video);
  if (!info.ok()) return fail(info.status());

  std::printf("swapline %s video benchmark: %s (%dx%d, %.2f fps, %lld frames), %u cores\n", kVersion,
              options.video.filename().c_str(), info->width, info->height, info->frame_rate.value(),
              static_cast<long long>(info->frame_count), std::thread::hardware_concurrency());
#ifndef NDEBUG
  std::printf("WARNING: assertions are on (debug build); timings are not representative\n");
#endif
  // "ceiling": the bare transcode of the swap's own output against that of the input.
  // The swapped face is new picture content for the encoder, often costlier to code
  // than the input's (at medium it can dominate); this is the ratio the swap would
  // reach if its face work cost nothing.
  std::printf("%-16s %14s %14s %10s %12s %10s %12s\n", "preset", "transcode fps", "swap fps", "ratio", "CPU ratio",
              "ceiling", "peak RSS MiB");
  std::optional<SwapRun> first;
  for (const std::string preset : {"ultrafast", "medium"}) {
    media::VideoWriterOptions writer_options;
    writer_options.preset = preset;
    // One row per round; with several, the median of each column (a noisy machine
    // moves single rounds by a tenth or more).
    std::vector<double> columns[5];  // transcode fps, swap fps, ratio, CPU ratio, ceiling
    for (int round = 1; round <= options.rounds; ++round) {
      const double cpu_start = CpuSeconds();
      auto bare = BareTranscode(options.video, scratch / "bare.mp4", writer_options);
      if (!bare.ok()) return fail(bare.status());
      const double cpu_between = CpuSeconds();
      auto swap = TimeSwap(*engine, options, options.video, scratch / "swap.mp4", preset);
      if (!swap.ok()) return fail(swap.status());
      const double cpu_ratio = (cpu_between - cpu_start) / std::max(1e-6, CpuSeconds() - cpu_between);
      auto output_transcode = BareTranscode(scratch / "swap.mp4", scratch / "bare-of-swap.mp4", writer_options);
      if (!output_transcode.ok()) return fail(output_transcode.status());
      const double row[5] = {bare->fps, swap->fps, swap->fps / bare->fps, cpu_ratio, output_transcode->fps / bare->fps};
      for (int c = 0; c < 5; ++c) columns[c].push_back(row[c]);
      const std::string label = options.rounds > 1 ? preset + " #" + std::to_string(round) : preset;
      PrintRow(label, row, PeakRssMiB());
      if (!first) first = *swap;
    }
    if (options.rounds > 1) {
      double median[5];
      for (int c = 0; c < 5; ++c) median[c] = Median(columns[c]);
      PrintRow(preset + " median", median, PeakRssMiB());
    }
  }
  PrintStageTimes(*first);
  if (!options.chains.empty()) {
    std::printf("face models, ultrafast swap of the same clip:\n%-28s %10s %16s\n", "detector + landmarker",
                "swap fps", "vs hog + dlib_68");
    std::printf("%-28s %10.1f %15.2fx\n", "hog + dlib_68", first->fps, 1.0);
    for (const FaceModelChain& chain : options.chains) {
      auto chain_engine = pipeline::ImageSwapEngine::Create(std::nullopt, {.side = chain.detect_side}, chain.models);
      if (!chain_engine.ok()) return fail(chain_engine.status());
      auto swap = TimeSwap(*chain_engine, options, options.video, scratch / "swap-chain.mp4", "ultrafast");
      if (!swap.ok()) return fail(swap.status());
      std::printf("%-28s %10.1f %15.2fx\n", chain.name.c_str(), swap->fps, swap->fps / first->fps);
    }
  }
  if (options.long_run) {
    const std::filesystem::path longer = scratch / "long.mp4";
    if (Status s = Concatenate(options.video, longer, 4); !s.ok()) return fail(s);
    const double before = PeakRssMiB();
    auto swap = TimeSwap(*engine, options, longer, scratch / "swap-long.mp4", "ultrafast");
    if (!swap.ok()) return fail(swap.status());
    std::printf("4x longer (%lld frames, ultrafast): swap %.1f fps; peak RSS %.0f MiB before, %.0f MiB after\n",
                static_cast<long long>(swap->frames), swap->fps, before, PeakRssMiB());
  }
  std::filesystem::remove_all(scratch);
  return 0;
}

}  // namespace swapline::bench
