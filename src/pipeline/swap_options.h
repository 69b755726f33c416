// SwapOptions: the swap options of `swapline swap` (FaceFusion's names), in one place
// for every front end: the CLI binds its flags to these fields, a job's JSON
// `options` object ({"face-selector-mode": "one", ...}; keys are the CLI option names
// without the leading dashes) is read into the same struct, and both turn into
// ImageJobSpec / VideoJobSpec through the same builders. So a job behaves exactly
// like the same `swapline swap` command line.
//
// SwapOptionFields() lists every option once (name, help, member), which is what
// keeps the CLI, the JSON reader and the JSON writer in step.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "media/image_codec.h"
#include "models/model_dir.h"
#include "pipeline/image_job.h"
#include "pipeline/video_job.h"

namespace swapline::pipeline {

struct SwapOptions {
  std::string face_detector_model = "hog";  // hog (built in) or yunet (a model of the models folder)
  float face_detector_score = 0.5f;
  std::string face_detector_size;  // "960" or "960x960"; empty: 640 images, 960 videos
  std::vector<int> face_detector_angles = {0};  // turns (clockwise degrees) faces are looked for at
  std::vector<float> face_detector_margin = {0, 0, 0, 0};  // percent of half the frame, top right bottom left
  std::string face_landmarker_model = "dlib_68";  // dlib_68 (built in), face_mesh or 2dfan4 (models folder)
  std::string face_selector_mode = "many";
  std::string face_selector_order = "large-small";
  int reference_face_position = 0;
  float reference_face_distance = -1.0f;  // < 0: the recognizer's threshold
  std::string face_recognizer_model;      // a model path (CLI) or file name (jobs)
  std::vector<std::string> face_mask_types = {"box", "area"};
  std::string face_occluder_model = "xseg_1";          // occlusion mask (models folder)
  std::string face_parser_model = "bisenet_resnet_34";  // region mask (models folder)
  std::vector<std::string> face_mask_regions = {"skin", "left-eyebrow", "right-eyebrow", "left-eye", "right-eye",
                                                "glasses", "nose", "mouth", "upper-lip", "lower-lip"};
  float face_mask_blur = 0.3f;
  std::vector<float> face_mask_padding = {0, 0, 0, 0};
  std::string face_swapper_model = "classic";  // classic (built in), inswapper_128, hyperswap_*, simswap_256 (models folder)
  std::string face_swapper_pixel_boost;  // "512x512" or "512"; empty: the model's size
  std::string face_swapper_blend = "feather";
  float face_swapper_morph = vision::kDefaultMorph;
  bool face_swapper_keep_glasses = false;
  bool no_color_transfer = false;
  std::vector<std::string> processors = {"face_swapper"};
  std::string face_enhancer_model = "gfpgan_1.4";  // gfpgan_1.2, gfpgan_1.3 or gfpgan_1.4 (models folder)
  int face_enhancer_blend = 80;
  int output_image_quality = 80;
  std::string output_image_resolution;  // "WxH"; empty: the target's size
  std::int64_t max_pixels = media::kDefaultMaxImagePixels;
  // Video.
  std::string output_video_encoder = "libx264";
  int output_video_quality = 80;
  std::string output_video_preset = "veryfast";
  double output_video_fps = 0;          // 0: the target's rate
  std::string output_video_resolution;  // "WxH"; empty: the target's size
  std::int64_t trim_frame_start = 0;
  std::int64_t trim_frame_end = -1;     // < 0: to the end
  int execution_thread_count = 0;       // 0: one per core
  int face_detector_interval = 30;
  bool no_landmark_smoothing = false;
};

// One option: its name without dashes, help text and the field it sets.
struct SwapOptionField {
  using Member = std::variant<std::string SwapOptions::*, float SwapOptions::*, int SwapOptions::*,
                              std::int64_t SwapOptions::*, double SwapOptions::*, bool SwapOptions::*,
                              std::vector<std::string> SwapOptions::*, std::vector<float> SwapOptions::*,
                              std::vector<int> SwapOptions::*>;
  const char* name;  // "face-selector-mode"
  const char* help;
  Member member;
  int min_values = 1;  // list options: how many values a flag takes
  int max_values = 1;  // -1: any number
};

// Every swap option, in the order `swapline swap --help` shows them.
std::span<const SwapOptionField> SwapOptionFields();

// Reads a job's `options` object. Unknown keys and values of the wrong JSON type
// give kInvalidArgument naming the field as "options.<name>". Values are checked
// for meaning later, by the spec builders. A bool option accepts true/false; a list
// option accepts an array or a single value.
Result<SwapOptions> SwapOptionsFromJson(const nlohmann::json& options);

// The named options of `options` as a JSON object (the inverse of the above); names
// not in SwapOptionFields() are skipped.
nlohmann::json SwapOptionsToJson(const SwapOptions& options, const std::vector<std::string>& names);

// Longest side faces are detected at: --face-detector-size, or 640 (images) / 960
// (videos) for HOG; a neural detector takes the square sizes of its model (YuNet 320
// or 640, BlazeFace 128 or 256, SCRFD/RetinaFace 160 to 640, yolo_face 640; default
// the first). kInvalidArgument for an unknown --face-detector-model or a size the
// model cannot take.
Result<int> DetectorSide(const SwapOptions& options, bool video);

// --face-detector-angles checked: distinct values of 0, 90, 180 and 270.
Result<std::vector<int>> DetectorAngles(const SwapOptions& options);

// DetectorSide, DetectorAngles and --face-detector-margin (1 to 4 values, 0..100) together.
Result<DetectorSettings> DetectorSettingsOf(const SwapOptions& options, bool video);

// The models-folder name of the detector model (models/models.json), "" for the
// built-in HOG detector. REQUIRES: `detect_side` from DetectorSide(options, …).
std::string DetectorModelName(const SwapOptions& options, int detect_side);

// The face models of a swap resolved by name in `models` (its manifest): the
// detector's (DetectorModelName), the landmarker's (face_mesh, 2dfan4) and the swapper's
// (inswapper_128 with its recognizer arcface_w600k_r50), the enhancer's, and the
// occlusion and region masks' (xseg_1, bisenet_resnet_34) when asked for, each unset
// for the built-in one (HOG, dlib_68, classic). `accepted_licenses`: the
// non-commercial models the operator accepted (--accept-license). `option_prefix` names the options in errors:
// "--" on the command line, "options." in jobs. `models` may be null (no models
// folder). kInvalidArgument for an unknown --face-landmarker-model;
// FailedPrecondition when a named model is unknown, not installed, corrupt or not
// accepted, or there is no models folder.
Result<FaceModelPaths> ResolveFaceModels(const SwapOptions& options, int detect_side, models::ModelDir* models,
                                         const std::set<std::string>& accepted_licenses,
                                         const std::string& option_prefix);

// The specs of one swap, validated (ValidateImageJobSpec / ValidateVideoJobSpec).
Result<ImageJobSpec> BuildImageJobSpec(const SwapOptions& options,
                                       const std::vector<std::filesystem::path>& sources,
                                       const std::filesystem::path& target,
                                       const std::filesystem::path& output);
Result<VideoJobSpec> BuildVideoJobSpec(const SwapOptions& options,
                                       const std::vector<std::filesystem::path>& sources,
                                       const std::filesystem::path& target,
                                       const std::filesystem::path& output);

}  // namespace swapline::pipeline
