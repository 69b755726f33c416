#include "bench/detector_bench.h"

#include <algorithm>
#include <cstdio>
#include <memory>

#include <spdlog/spdlog.h>

#include "bench/stats.h"
#include "media/image_codec.h"
#include "vision/face_detector.h"

namespace swapline::bench {
namespace {

namespace fs = std::filesystem;

struct NamedDetector {
  std::string name;
  std::unique_ptr<vision::FaceDetector> detector;
};

std::vector<fs::path> TestImages(const fs::path& testdata) {
  std::vector<fs::path> images;
  for (const char* folder : {"photos", "derived"}) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(testdata / folder, error)) {
      if (media::ImageFormatFromPath(entry.path()).ok()) images.push_back(entry.path());
    }
  }
  std::sort(images.begin(), images.end());
  return images;
}

}  // namespace

int RunDetectorBench(const DetectorBenchOptions& options) {
  std::vector<NamedDetector> detectors;
  detectors.push_back({"hog-640", vision::NewHogFaceDetector({.detect_side = 640})});
  detectors.push_back({"hog-960", vision::NewHogFaceDetector({.detect_side = 960})});
  for (const DetectorModel& model : options.models) {
    auto detector = vision::LoadFaceDetector(model.architecture, model.path, model.input_size);
    if (!detector.ok()) {
      spdlog::error("{}: {}", model.name, detector.status().message());
      return 1;
    }
    detectors.push_back({model.name, std::move(detector).value()});
  }
  const std::vector<fs::path> images = TestImages(options.testdata);
  if (images.empty()) {
    spdlog::error("no test images under {}", options.testdata.string());
    return 3;
  }

  std::printf("faces found at score 0.5\n%-52s", "image");
  for (const auto& d : detectors) std::printf(" %15s", d.name.c_str());
  std::printf("\n");
  for (const fs::path& path : images) {
    auto image = media::ReadImage(path, media::kDefaultMaxImagePixels);
    if (!image.ok()) {
      spdlog::error("{}", image.status().message());
      return 3;
    }
    std::printf("%-52s", (path.parent_path().filename() / path.filename()).string().c_str());
    for (auto& d : detectors) {
      auto found = d.detector->Detect(*image, 0.5f);
      std::printf(" %15s", found.ok() ? std::to_string(found->size()).c_str() : "error");
    }
    std::printf("\n");
  }

  const fs::path frame_path = options.testdata / "derived/eileen_collins_nasa_portrait_1920x1080.jpg";
  auto frame = media::ReadImage(frame_path, media::kDefaultMaxImagePixels);
  if (!frame.ok()) {
    spdlog::error("{}", frame.status().message());
    return 3;
  }
  std::printf("\none detection on %s (%dx%d), %d runs after a warm-up\n%-16s %10s %10s %14s\n",
              frame_path.filename().c_str(), frame->cols, frame->rows, options.runs, "detector", "median ms",
              "p90 ms", "vs hog-640");
  double baseline = 0;
  for (auto& d : detectors) {
    (void)d.detector->Detect(*frame, 0.5f);
    std::vector<double> times;
    for (int i = 0; i < options.runs; ++i) {
      const auto start = Clock::now();
      (void)d.detector->Detect(*frame, 0.5f);
      times.push_back(MsSince(start));
    }
    const double median = Percentile(times, 0.5);
    if (baseline == 0) baseline = median;
    std::printf("%-16s %10.1f %10.1f %13.2fx\n", d.name.c_str(), median, Percentile(times, 0.9), median / baseline);
  }
  return 0;
}

}  // namespace swapline::bench
