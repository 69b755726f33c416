// `swapline bench image|video|detectors`: throughput benchmarks with a baseline measured in the
// same run, on the test files alone. The ones that start servers (store, queue,
// api) are in the separate swapline-bench executable (bench/bench_main.cc).
#include <memory>
#include <string>

#include "bench/detector_bench.h"
#include "bench/image_bench.h"
#include "bench/video_bench.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "models/model_dir.h"

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
  auto models_dir = std::make_shared<std::string>();
  image->add_option("--models-dir", *models_dir, "models folder; with face_mesh installed there, its landmarks are timed too")
      ->envname("SWAPLINE_MODELS_DIR");
  image->callback([testdata, options, models_dir, &exit_code] {
    bench::ImageBenchOptions resolved = *options;
    models::ModelDir models(models::ModelsDirOr(*models_dir), models::ModelManifest::Embedded());
    if (auto path = models.Resolve("face_mesh", {}); path.ok()) resolved.face_mesh = *path;
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
  video->add_option("--rounds", video_options->rounds,
                    "transcode-and-swap rounds per preset; with more than one, their medians too")
      ->check(CLI::Range(1, 20))
      ->capture_default_str();
  video->add_option("--models-dir", *models_dir,
                    "models folder; with yunet_s_640 and face_mesh installed there, the swap is timed with them too")
      ->envname("SWAPLINE_MODELS_DIR");
  video->callback([testdata, video_options, models_dir, &exit_code] {
    bench::VideoBenchOptions resolved = *video_options;
    models::ModelDir models(models::ModelsDirOr(*models_dir), models::ModelManifest::Embedded());
    auto yunet = models.Resolve("yunet_s_640", {});
    auto mesh = models.Resolve("face_mesh", {});
    pipeline::FaceModelPaths with_yunet, with_mesh;
    if (yunet.ok()) with_yunet.detector = pipeline::NetworkFile{"yunet", *yunet};
    if (mesh.ok()) with_mesh.landmarker = pipeline::NetworkFile{"face_mesh", *mesh};
    if (yunet.ok()) resolved.chains.push_back({"yunet 640 + dlib_68", 640, with_yunet});
    if (mesh.ok()) resolved.chains.push_back({"hog + face_mesh", pipeline::kVideoDetectSide, with_mesh});
    if (yunet.ok() && mesh.ok()) {
      pipeline::FaceModelPaths both = with_yunet;
      both.landmarker = with_mesh.landmarker;
      resolved.chains.push_back({"yunet 640 + face_mesh", 640, both});
    }
    const std::filesystem::path dir(*testdata);
    if (resolved.source.empty()) resolved.source = dir / "photos/grace_hopper_usn_portrait.jpg";
    if (resolved.video.empty()) resolved.video = dir / "videos/a_one_face_zoom_rotate_1920x1080_30fps_5s.mp4";
    exit_code = bench::RunVideoBench(resolved);
  });

  auto detector_options = std::make_shared<bench::DetectorBenchOptions>();
  CLI::App* detectors = bench->add_subcommand("detectors", "faces found per test photo and ms per 1080p frame, per detector");
  detectors->add_option("--testdata", *testdata, "folder of the test photos")->capture_default_str();
  detectors->add_option("--models-dir", *models_dir, "models folder; the YuNet and BlazeFace models installed there are included")
      ->envname("SWAPLINE_MODELS_DIR");
  detectors->add_option("--runs", detector_options->runs, "timed runs per detector")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  detectors->callback([testdata, detector_options, models_dir, &exit_code] {
    bench::DetectorBenchOptions resolved = *detector_options;
    resolved.testdata = *testdata;
    models::ModelDir models(models::ModelsDirOr(*models_dir), models::ModelManifest::Embedded());
    for (const models::ModelEntry& entry : models.manifest().entries()) {
      // Networks of a fixed input size (dlib's MMOD is not one).
      if (entry.kind != models::ModelKind::kDetector || entry.input_size == 0) continue;
      if (auto path = models.Resolve(entry.name, {}); path.ok()) {
        resolved.models.push_back({entry.name, entry.architecture, entry.input_size, *path});
      }
    }
    exit_code = bench::RunDetectorBench(resolved);
  });
}

}  // namespace swapline::cli
