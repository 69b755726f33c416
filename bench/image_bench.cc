#include "bench/image_bench.h"
#include "bench/stats.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/version.h"
#include "media/image_codec.h"
#include "pipeline/image_job.h"
#include "vision/face_mesh_landmarker.h"

namespace swapline::bench {
namespace {

std::vector<std::uint8_t> ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

int RunImageBench(const ImageBenchOptions& options) {
  auto engine = pipeline::ImageSwapEngine::Create(std::nullopt);
  if (!engine.ok()) {
    spdlog::error("{}", engine.status().message());
    return 1;
  }
  std::unique_ptr<vision::FaceLandmarker> face_mesh;
  if (options.face_mesh) {
    auto loaded = vision::LoadFaceMeshLandmarker(*options.face_mesh);
    if (!loaded.ok()) {
      spdlog::error("{}", loaded.status().message());
      return 1;
    }
    face_mesh = std::move(loaded).value();
  }
  auto sources = engine->ChooseSourceFaces({options.source}, 0.5f, media::kDefaultMaxImagePixels);
  if (!sources.ok()) {
    spdlog::error("{}", sources.status().message());
    return 1;
  }
  auto prepared = pipeline::PrepareSwapSource(*sources);
  if (!prepared.ok()) {
    spdlog::error("{}", prepared.status().message());
    return 1;
  }
  const std::vector<std::uint8_t> target_bytes = ReadBytes(options.target);
  const std::string name = options.target.filename().string();
  vision::SwapperOptions swapper_options;
  auto swapper = vision::NewClassicFaceSwapper(swapper_options);
  swapper->SetSource(*prepared);
  media::ImageEncodeOptions encode;
  encode.synthetic_mark = media::SyntheticMark();

  const std::vector<std::string> stages = {"decode", "detect", "landmarks", "warp", "colour", "blend", "encode"};
  std::map<std::string, std::vector<double>> times;
  std::vector<double> totals, detect_to_blend, baseline, landmarks_per_face, face_mesh_per_face;
  cv::Size size;
  int faces_seen = 0;
  const int warmup = 2;
  for (int run = 0; run < options.runs + warmup; ++run) {
    // Baseline: the same decode and encode with no face work.
    auto t0 = Clock::now();
    auto plain = media::DecodeImage(target_bytes, name);
    auto plain_bytes = media::EncodeImage(*plain, media::ImageFormat::kJpeg, encode);
    const double baseline_ms = MsSince(t0);

    std::map<std::string, double> t;
    auto start = Clock::now();
    auto frame = media::DecodeImage(target_bytes, name);
    t["decode"] = MsSince(start);
    if (!frame.ok() || !plain_bytes.ok()) {
      spdlog::error("cannot decode/encode '{}'", options.target.string());
      return 1;
    }
    size = frame->size();
    start = Clock::now();
    auto detections = engine->analyser().detector().Detect(*frame, 0.5f);
    t["detect"] = MsSince(start);
    start = Clock::now();
    std::vector<vision::Face> faces;
    for (const auto& d : *detections) {
      vision::Face face;
      face.box = d.box;
      face.score = d.score;
      face.landmarks68 = *engine->analyser().landmarker().Mark(*frame, d.box);
      face.landmarks5 = vision::Landmarks5From68(face.landmarks68);
      faces.push_back(face);
    }
    t["landmarks"] = MsSince(start);
    if (face_mesh) {
      start = Clock::now();
      for (const auto& d : *detections) (void)face_mesh->Mark(*frame, d.box);
      t["landmarks face_mesh"] = MsSince(start);
    }
    vision::SwapTimings swap_timings;
    for (const auto& face : faces) (void)vision::Swap(*swapper, *frame, face, &swap_timings);
    t["warp"] = swap_timings.read_ms + swap_timings.warp_ms;
    t["colour"] = swap_timings.colour_ms;
    t["blend"] = swap_timings.blend_ms + swap_timings.paste_ms;
    start = Clock::now();
    auto bytes = media::EncodeImage(*frame, media::ImageFormat::kJpeg, encode);
    t["encode"] = MsSince(start);
    faces_seen = static_cast<int>(faces.size());
    if (run < warmup) continue;
    double total = 0;
    for (const auto& stage : stages) {
      times[stage].push_back(t[stage]);
      total += t[stage];
    }
    totals.push_back(total);
    detect_to_blend.push_back(total - t["decode"] - t["encode"]);
    baseline.push_back(baseline_ms);
    if (!faces.empty()) {
      landmarks_per_face.push_back(t["landmarks"] / static_cast<double>(faces.size()));
      if (face_mesh) face_mesh_per_face.push_back(t["landmarks face_mesh"] / static_cast<double>(faces.size()));
    }
  }

  std::printf("swapline %s image benchmark: %s (%dx%d, %d face(s)), %d warm runs\n", kVersion, name.c_str(),
              size.width, size.height, faces_seen, options.runs);
#ifndef NDEBUG
  std::printf("WARNING: assertions are on (debug build); timings are not representative\n");
#endif
  std::printf("%-22s %10s %10s\n", "stage", "median ms", "p90 ms");
  for (const auto& stage : stages) {
    std::printf("%-22s %10.2f %10.2f\n", stage.c_str(), Percentile(times[stage], 0.5), Percentile(times[stage], 0.9));
  }
  std::printf("%-22s %10.2f %10.2f\n", "detect..blend", Percentile(detect_to_blend, 0.5),
              Percentile(detect_to_blend, 0.9));
  std::printf("%-22s %10.2f %10.2f\n", "total (end to end)", Percentile(totals, 0.5), Percentile(totals, 0.9));
  std::printf("%-22s %10.2f %10.2f\n", "baseline decode+encode", Percentile(baseline, 0.5),
              Percentile(baseline, 0.9));
  std::printf("ratio total/baseline: %.2fx\n", Percentile(totals, 0.5) / Percentile(baseline, 0.5));
  if (!landmarks_per_face.empty()) {
    std::printf("%-22s %10.2f %10.2f\n", "landmarks/face dlib_68", Percentile(landmarks_per_face, 0.5),
                Percentile(landmarks_per_face, 0.9));
  }
  if (!face_mesh_per_face.empty()) {
    std::printf("%-22s %10.2f %10.2f\n", "landmarks/face mesh", Percentile(face_mesh_per_face, 0.5),
                Percentile(face_mesh_per_face, 0.9));
  }
  return 0;
}

}  // namespace swapline::bench
