// `swapline swap`: one job, in-process. Option names follow FaceFusion's.
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/logging.h"
#include "media/video.h"
#include "pipeline/image_job.h"
#include "pipeline/video_job.h"

namespace swapline::cli {
namespace {

struct SwapArgs {
  std::vector<std::string> sources;
  std::string target;
  std::string output;
  float face_detector_score = 0.5f;
  std::string face_detector_size;  // "960" or "960x960"; default depends on the target
  std::string face_selector_mode = "many";
  std::string face_selector_order = "large-small";
  int reference_face_position = 0;
  float reference_face_distance = -1.0f;
  std::string face_recognizer_model;
  std::vector<std::string> face_mask_types = {"box", "region"};
  float face_mask_blur = 0.3f;
  std::vector<float> face_mask_padding = {0, 0, 0, 0};
  std::string face_swapper_blend = "feather";
  bool no_color_transfer = false;
  std::vector<std::string> processors = {"face_swapper"};
  int output_image_quality = 80;
  std::string output_image_resolution;
  std::int64_t max_pixels = media::kDefaultMaxImagePixels;
  // Video.
  std::string output_video_encoder = "libx264";
  int output_video_quality = 80;
  std::string output_video_preset = "veryfast";
  double output_video_fps = 0;
  std::string output_video_resolution;
  std::int64_t trim_frame_start = 0;
  std::int64_t trim_frame_end = -1;
  int execution_thread_count = 0;
  int face_detector_interval = 5;
  bool no_landmark_smoothing = false;
};

// CSS-style expansion of 1-4 values to top, right, bottom, left, as FaceFusion.
Result<std::array<float, 4>> ExpandPadding(const std::vector<float>& v) {
  switch (v.size()) {
    case 1: return std::array<float, 4>{v[0], v[0], v[0], v[0]};
    case 2: return std::array<float, 4>{v[0], v[1], v[0], v[1]};
    case 3: return std::array<float, 4>{v[0], v[1], v[2], v[1]};
    case 4: return std::array<float, 4>{v[0], v[1], v[2], v[3]};
    default: return InvalidArgument("--face-mask-padding takes 1 to 4 values (top right bottom left)");
  }
}

Result<cv::Size> ParseResolution(const std::string& option, const std::string& text) {
  int width = 0, height = 0;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &width, &x, &height, &extra) != 3 || (x != 'x' && x != 'X') ||
      width <= 0 || height <= 0) {
    return InvalidArgument(option + " must look like 1920x1080, got '" + text + "'");
  }
  return cv::Size(width, height);
}

// The face options shared by image and video jobs.
template <typename Spec>
Status FillFaceOptions(const SwapArgs& args, Spec& spec) {
  for (const auto& s : args.sources) spec.sources.emplace_back(s);
  spec.target = args.target;
  spec.output = args.output;
  spec.face_detector_score = args.face_detector_score;
  SWAPLINE_ASSIGN_OR_RETURN(spec.selector.mode, vision::ParseSelectorMode(args.face_selector_mode));
  SWAPLINE_ASSIGN_OR_RETURN(spec.selector.order, vision::ParseSelectorOrder(args.face_selector_order));
  spec.selector.reference_face_position = args.reference_face_position;
  if (args.reference_face_distance >= 0) spec.selector.reference_face_distance = args.reference_face_distance;
  spec.swapper.mask.types.clear();
  for (const auto& name : args.face_mask_types) {
    SWAPLINE_ASSIGN_OR_RETURN(vision::MaskType type, vision::ParseMaskType(name));
    spec.swapper.mask.types.push_back(type);
  }
  spec.swapper.mask.blur = args.face_mask_blur;
  SWAPLINE_ASSIGN_OR_RETURN(spec.swapper.mask.padding, ExpandPadding(args.face_mask_padding));
  SWAPLINE_ASSIGN_OR_RETURN(spec.swapper.blend, vision::ParseBlendMode(args.face_swapper_blend));
  spec.swapper.color_transfer = !args.no_color_transfer;
  for (const auto& processor : args.processors) {
    if (processor == "face_swapper") continue;
    if (processor == "face_enhancer") {
      return FailedPrecondition("--processors face_enhancer needs an enhancer model (e.g. GFPGAN), which "
                                "swapline cannot load yet; use --processors face_swapper");
    }
    return InvalidArgument("unknown processor '" + processor + "' (face_swapper)");
  }
  return Status::Ok();
}

Result<pipeline::ImageJobSpec> BuildImageSpec(const SwapArgs& args) {
  pipeline::ImageJobSpec spec;
  SWAPLINE_RETURN_IF_ERROR(FillFaceOptions(args, spec));
  spec.output_image_quality = args.output_image_quality;
  if (!args.output_image_resolution.empty()) {
    SWAPLINE_ASSIGN_OR_RETURN(spec.output_image_resolution,
                              ParseResolution("--output-image-resolution", args.output_image_resolution));
  }
  spec.max_pixels = args.max_pixels;
  SWAPLINE_RETURN_IF_ERROR(pipeline::ValidateImageJobSpec(spec));
  return spec;
}

Result<pipeline::VideoJobSpec> BuildVideoSpec(const SwapArgs& args) {
  pipeline::VideoJobSpec spec;
  SWAPLINE_RETURN_IF_ERROR(FillFaceOptions(args, spec));
  spec.face_detector_interval = args.face_detector_interval;
  spec.smooth_landmarks = !args.no_landmark_smoothing;
  spec.trim_frame_start = args.trim_frame_start;
  if (args.trim_frame_end >= 0) spec.trim_frame_end = args.trim_frame_end;
  spec.execution_thread_count = args.execution_thread_count;
  spec.max_source_pixels = args.max_pixels;
  media::VideoWriterOptions& out = spec.output_video;
  out.encoder = args.output_video_encoder;
  out.quality = args.output_video_quality;
  out.preset = args.output_video_preset;
  if (args.output_video_fps > 0) {
    // 29.97 means 30000/1001, as FFmpeg writes NTSC rates; other rates to 1/1000.
    const double ntsc = args.output_video_fps * 1001.0 / 1000.0;
    out.frame_rate = std::abs(ntsc - std::round(ntsc)) < 1e-3 && std::round(ntsc) != args.output_video_fps
                         ? media::Rational{static_cast<int>(std::round(ntsc)) * 1000, 1001}
                         : media::Rational{static_cast<int>(std::round(args.output_video_fps * 1000)), 1000};
  }
  if (!args.output_video_resolution.empty()) {
    SWAPLINE_ASSIGN_OR_RETURN(out.resolution, ParseResolution("--output-video-resolution", args.output_video_resolution));
  }
  SWAPLINE_RETURN_IF_ERROR(pipeline::ValidateVideoJobSpec(spec));
  return spec;
}

// Progress: a bar on a TTY, JSON events with --log-format json, nothing otherwise.
void ReportProgress(const pipeline::VideoProgress& p) {
  if (CurrentLogFormat() == LogFormat::kJson) {
    LogEvent("progress", {{"event", "progress"}, {"frames_done", p.frames_done}, {"frames_total", p.frames_total},
                          {"fps", p.fps}, {"eta_s", p.eta_s}});
    return;
  }
  if (!::isatty(STDERR_FILENO)) return;
  const double share = p.frames_total > 0 ? std::min(1.0, static_cast<double>(p.frames_done) / p.frames_total) : 0;
  const int filled = static_cast<int>(share * 30);
  std::fprintf(stderr, "\r[%s%s] %lld/%lld frames  %.1f fps  ETA %.0fs   ", std::string(filled, '#').c_str(),
               std::string(30 - filled, '.').c_str(), static_cast<long long>(p.frames_done),
               static_cast<long long>(p.frames_total), p.fps, p.eta_s);
  if (p.frames_done >= p.frames_total) std::fprintf(stderr, "\n");
}

// FaceFusion writes the detector size as WxH; swapline scans at the longest side.
Result<int> ParseDetectorSize(const std::string& text, int fallback) {
  if (text.empty()) return fallback;
  int width = 0, height = 0;
  char x = 0, extra = 0;
  const int n = std::sscanf(text.c_str(), "%d%c%d%c", &width, &x, &height, &extra);
  if (n == 1 && width > 0) return width;
  if (n == 3 && (x == 'x' || x == 'X') && width > 0 && height > 0) return std::max(width, height);
  return InvalidArgument("--face-detector-size must look like 960 or 960x960, got '" + text + "'");
}

// SIGINT/SIGTERM stop a running video at the next frame; the output is not written.
Cancellation g_interrupted;

extern "C" void OnInterrupt(int) { g_interrupted.Cancel(); }

int RunSwap(const SwapArgs& args) {
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  const bool video = media::LooksLikeVideo(args.target);
  std::optional<std::filesystem::path> recognizer;
  if (!args.face_recognizer_model.empty()) recognizer = args.face_recognizer_model;
  auto detect_side =
      ParseDetectorSize(args.face_detector_size, video ? pipeline::kVideoDetectSide : pipeline::kImageDetectSide);
  if (!detect_side.ok()) return Fail(detect_side.status());
  if (video) {
    auto spec = BuildVideoSpec(args);
    if (!spec.ok()) return Fail(spec.status());
    auto engine = pipeline::ImageSwapEngine::Create(recognizer, *detect_side);
    if (!engine.ok()) return Fail(engine.status());
    auto report = pipeline::RunVideoJob(*engine, *spec, ReportProgress, &g_interrupted);
    if (!report.ok()) return Fail(report.status());
    spdlog::info("swapped {} face(s) in {} of {} frame(s) in {:.1f} s ({:.1f} fps) with the face from '{}'",
                 report->swapped_faces, report->frames_with_faces, report->frames, report->seconds,
                 report->seconds > 0 ? static_cast<double>(report->frames) / report->seconds : 0.0,
                 report->source_used.string());
    std::printf("%s\n", report->output.string().c_str());
    return kExitOk;
  }
  auto spec = BuildImageSpec(args);
  if (!spec.ok()) return Fail(spec.status());
  if (spec->selector.mode == vision::SelectorMode::kReference && !recognizer) {
    // Fail before loading any model; the message names the missing option.
    return Fail(vision::SelectFaces({}, {}, spec->selector, nullptr).status());
  }
  auto engine = pipeline::ImageSwapEngine::Create(recognizer, *detect_side);
  if (!engine.ok()) return Fail(engine.status());
  auto report = engine->Run(*spec);
  if (!report.ok()) return Fail(report.status());
  spdlog::info("swapped {} of {} target face(s) with the face from '{}'", report->swapped_faces,
               report->target_faces, report->source_used.string());
  std::printf("%s\n", report->output.string().c_str());
  return kExitOk;
}

}  // namespace

void RegisterSwapCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SwapArgs>();
  CLI::App* cmd = app.add_subcommand("swap", "swap the source face into the faces of a target image or video");
  cmd->add_option("-s,--source,--source-paths", args->sources, "source image(s); the best face among them is used")
      ->required();
  cmd->add_option("-t,--target,--target-path", args->target, "target image (JPEG, PNG, WebP, BMP) or video (mp4, mov, mkv, webm, avi, …)")->required();
  cmd->add_option("-o,--output,--output-path", args->output,
                  "output file; its extension picks the format (.jpg .png .webp .bmp; .mp4 .mov .mkv .webm)")
      ->required();
  cmd->add_option("--face-detector-score", args->face_detector_score, "minimum detection score, 0..1")
      ->capture_default_str();
  cmd->add_option("--face-detector-size", args->face_detector_size,
                  "longest side faces are detected at, e.g. 960 or 960x960 (default: 640 images, 960 videos); "
                  "larger finds smaller faces, slower");
  cmd->add_option("--face-selector-mode", args->face_selector_mode, "one, many or reference")->capture_default_str();
  cmd->add_option("--face-selector-order", args->face_selector_order,
                  "left-right, right-left, top-bottom, bottom-top, small-large, large-small, best-worst, worst-best")
      ->capture_default_str();
  cmd->add_option("--reference-face-position", args->reference_face_position,
                  "reference mode: which face of the sorted target faces is the reference")
      ->capture_default_str();
  cmd->add_option("--reference-face-distance", args->reference_face_distance,
                  "reference mode: maximum identity distance (default: the recognizer's threshold)");
  cmd->add_option("--face-recognizer-model", args->face_recognizer_model,
                  "identity model for reference mode (dlib face_recognition_densenet_model_v1.dat)");
  cmd->add_option("--face-mask-types", args->face_mask_types, "box and/or region")->capture_default_str();
  cmd->add_option("--face-mask-blur", args->face_mask_blur, "feathering of the mask edge, 0..1")
      ->capture_default_str();
  cmd->add_option("--face-mask-padding", args->face_mask_padding,
                  "box mask padding in percent: top [right [bottom [left]]]")
      ->expected(1, 4);
  cmd->add_option("--face-swapper-blend", args->face_swapper_blend, "feather or poisson")->capture_default_str();
  cmd->add_flag("--no-color-transfer", args->no_color_transfer, "keep the source face's own colours");
  cmd->add_option("--processors", args->processors, "face_swapper")->capture_default_str();
  cmd->add_option("--output-image-quality", args->output_image_quality, "0..100 (JPEG/WebP quality)")
      ->capture_default_str();
  cmd->add_option("--output-image-resolution", args->output_image_resolution, "WxH, e.g. 1280x720");
  cmd->add_option("--max-pixels", args->max_pixels, "refuse input images with more pixels than this")
      ->capture_default_str();
  cmd->add_option("--output-video-encoder", args->output_video_encoder, "libx264, libx265 or libvpx-vp9")
      ->capture_default_str();
  cmd->add_option("--output-video-quality", args->output_video_quality, "0..100, mapped to CRF")
      ->capture_default_str();
  cmd->add_option("--output-video-preset", args->output_video_preset, "ultrafast … veryslow")
      ->capture_default_str();
  cmd->add_option("--output-video-fps", args->output_video_fps, "output frame rate (default: the target's)");
  cmd->add_option("--output-video-resolution", args->output_video_resolution, "WxH (default: the target's)");
  cmd->add_option("--trim-frame-start", args->trim_frame_start, "first frame of the target to process")
      ->capture_default_str();
  cmd->add_option("--trim-frame-end", args->trim_frame_end, "frame after the last one to process (exclusive)");
  cmd->add_option("--execution-thread-count", args->execution_thread_count,
                  "frame workers (default: one per core)");
  cmd->add_option("--face-detector-interval", args->face_detector_interval,
                  "video: frames between face detections; faces are tracked in between")
      ->capture_default_str();
  cmd->add_flag("--no-landmark-smoothing", args->no_landmark_smoothing, "video: do not smooth landmarks over time");
  cmd->callback([args, &exit_code] { exit_code = RunSwap(*args); });
}

}  // namespace swapline::cli
