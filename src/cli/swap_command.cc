// `swapline swap`: one job, in-process. Option names follow FaceFusion's.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "pipeline/image_job.h"

namespace swapline::cli {
namespace {

struct SwapArgs {
  std::vector<std::string> sources;
  std::string target;
  std::string output;
  float face_detector_score = 0.5f;
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

Result<cv::Size> ParseResolution(const std::string& text) {
  int width = 0, height = 0;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &width, &x, &height, &extra) != 3 || (x != 'x' && x != 'X')) {
    return InvalidArgument("--output-image-resolution must look like 1920x1080, got '" + text + "'");
  }
  return cv::Size(width, height);
}

Result<pipeline::ImageJobSpec> BuildSpec(const SwapArgs& args) {
  pipeline::ImageJobSpec spec;
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
  spec.output_image_quality = args.output_image_quality;
  if (!args.output_image_resolution.empty()) {
    SWAPLINE_ASSIGN_OR_RETURN(cv::Size size, ParseResolution(args.output_image_resolution));
    spec.output_image_resolution = size;
  }
  spec.max_pixels = args.max_pixels;
  SWAPLINE_RETURN_IF_ERROR(pipeline::ValidateImageJobSpec(spec));
  return spec;
}

int RunSwap(const SwapArgs& args) {
  auto spec = BuildSpec(args);
  if (!spec.ok()) return Fail(spec.status());
  std::optional<std::filesystem::path> recognizer;
  if (!args.face_recognizer_model.empty()) recognizer = args.face_recognizer_model;
  auto engine = pipeline::ImageSwapEngine::Create(recognizer);
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
  CLI::App* cmd = app.add_subcommand("swap", "swap the source face into the faces of a target image");
  cmd->add_option("-s,--source,--source-paths", args->sources, "source image(s); the best face among them is used")
      ->required();
  cmd->add_option("-t,--target,--target-path", args->target, "target image (JPEG, PNG, WebP, BMP)")->required();
  cmd->add_option("-o,--output,--output-path", args->output,
                  "output image; its extension picks the format (.jpg .png .webp .bmp)")
      ->required();
  cmd->add_option("--face-detector-score", args->face_detector_score, "minimum detection score, 0..1")
      ->capture_default_str();
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
  cmd->callback([args, &exit_code] { exit_code = RunSwap(*args); });
}

}  // namespace swapline::cli
