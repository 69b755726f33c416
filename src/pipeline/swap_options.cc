#include "pipeline/swap_options.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <optional>

#include "vision/image_turn.h"
#include "vision/neural_face_swapper.h"

namespace swapline::pipeline {
namespace {

using Field = SwapOptionField;
using O = SwapOptions;

constexpr Field kFields[] = {
    {"face-detector-model",
     "hog (built in), or from the models folder: yunet (yunet_s_320 or yunet_s_640 by --face-detector-size: "
     "`swapline models pull yunet_s_640`), blazeface (blazeface_front at 128, blazeface_back at 256), or the "
     "models you bring under a manifest of your own (README: Models): scrfd (scrfd_2.5g), retinaface "
     "(retinaface_10g), yolo_face (yoloface_8n)",
     &O::face_detector_model},
    {"face-detector-score", "minimum detection score, 0..1", &O::face_detector_score},
    {"face-detector-size",
     "longest side faces are detected at, e.g. 960 or 960x960 (default: 640 images, 960 videos); "
     "larger finds smaller faces, slower",
     &O::face_detector_size},
    {"face-detector-angles",
     "also look for faces turned by these angles (0 90 180 270, clockwise): faces on their side or upside "
     "down; each angle costs one more detection",
     &O::face_detector_angles, 1, 4},
    {"face-detector-margin",
     "pad the frame with black before detection, percent of half its size: top [right [bottom [left]]], 0..100; "
     "finds faces cut by the frame's edge",
     &O::face_detector_margin, 1, 4},
    {"face-landmarker-model",
     "dlib_68 (built in; its training data excludes commercial use), face_mesh (MediaPipe Face Mesh, "
     "Apache-2.0, from the models folder: `swapline models pull face_mesh`) or 2dfan4 (FaceFusion's default, MIT; "
     "a model you bring: README \"Models you bring\")",
     &O::face_landmarker_model},
    {"face-selector-mode", "one, many or reference", &O::face_selector_mode},
    {"face-selector-order",
     "left-right, right-left, top-bottom, bottom-top, small-large, large-small, best-worst, worst-best",
     &O::face_selector_order},
    {"reference-face-position", "reference mode: which face of the sorted target faces is the reference",
     &O::reference_face_position},
    {"reference-face-distance", "reference mode: maximum identity distance (default: the recognizer's threshold)",
     &O::reference_face_distance},
    {"face-recognizer-model",
     "identity model for reference mode: dlib face_recognition_densenet_model_v1.dat, or an ArcFace .onnx "
     "(arcface_w600k_r50)",
     &O::face_recognizer_model},
    {"face-mask-types",
     "box, area (the landmark outline), occlusion (keeps what covers the face; XSeg) and/or region (only the "
     "--face-mask-regions of the swapped face; BiSeNet), combined by minimum",
     &O::face_mask_types, 1, -1},
    {"face-occluder-model",
     "occlusion mask: xseg_1, xseg_2 or xseg_3 (DeepFaceLab, GPL-3.0; models you bring, README \"Models you "
     "bring\")",
     &O::face_occluder_model},
    {"face-parser-model",
     "region mask: bisenet_resnet_34 or bisenet_resnet_18 (MIT; models you bring, README \"Models you bring\")",
     &O::face_parser_model},
    {"face-mask-regions",
     "region mask: skin, left-eyebrow, right-eyebrow, left-eye, right-eye, glasses, nose, mouth, upper-lip, "
     "lower-lip (default all)",
     &O::face_mask_regions, 1, -1},
    {"face-mask-blur", "feathering of the box and area mask edges, 0..1", &O::face_mask_blur},
    {"face-mask-padding", "box mask padding in percent: top [right [bottom [left]]]", &O::face_mask_padding, 1, 4},
    {"face-swapper-model",
     "classic (built in: shape morph, texture warp, tone; no model file), inswapper_128 (InsightFace, "
     "non-commercial), hyperswap_1a_256/1b/1c (FaceFusion, ResearchRAIL) or simswap_256 (neuralchen, "
     "non-commercial; with crossface_simswap), each with arcface_w600k_r50: models you bring, README \"Models you "
     "bring\"",
     &O::face_swapper_model},
    {"face-swapper-pixel-boost",
     "neural swappers: the aligned crop's size, a multiple of the model's (inswapper 128, hyperswap and simswap "
     "256) up to 1024x1024, e.g. 512x512, costing (size/model's)^2 runs per face; default the model's own",
     &O::face_swapper_pixel_boost},
    {"face-swapper-blend", "feather or poisson (classic swapper)", &O::face_swapper_blend},
    {"face-swapper-morph", "how far the face's shape moves toward the source's, 0..1", &O::face_swapper_morph},
    {"face-swapper-keep-glasses",
     "classic swapper: the output wears the target's glasses, over the source's eyes, or none: a source's own "
     "glasses are left off (glasses are a strong likeness: the face then reads more as the target's person)",
     &O::face_swapper_keep_glasses},
    {"no-color-transfer", "keep the source face's own colours", &O::no_color_transfer},
    {"processors", "face_swapper and/or face_enhancer, run in this order on every selected face", &O::processors, 1, -1},
    {"face-enhancer-model",
     "gfpgan_1.4, gfpgan_1.3 or gfpgan_1.2 (TencentARC, Apache-2.0; models you bring, README \"Models you bring\")",
     &O::face_enhancer_model},
    {"face-enhancer-blend", "0..100: how much of the enhanced face is laid over the frame", &O::face_enhancer_blend},
    {"output-image-quality", "0..100 (JPEG/WebP quality)", &O::output_image_quality},
    {"output-image-resolution", "WxH, e.g. 1280x720", &O::output_image_resolution},
    {"max-pixels", "refuse input images with more pixels than this", &O::max_pixels},
    {"output-video-encoder", "libx264, libx265 or libvpx-vp9", &O::output_video_encoder},
    {"output-video-quality", "0..100, mapped to CRF", &O::output_video_quality},
    {"output-video-preset", "ultrafast … veryslow", &O::output_video_preset},
    {"output-video-fps", "output frame rate (default: the target's)", &O::output_video_fps},
    {"output-video-resolution", "WxH (default: the target's)", &O::output_video_resolution},
    {"trim-frame-start", "first frame of the target to process", &O::trim_frame_start},
    {"trim-frame-end", "frame after the last one to process (exclusive)", &O::trim_frame_end},
    {"execution-thread-count", "frame workers (default: one per core)", &O::execution_thread_count},
    {"face-detector-interval",
     "video: frames between searches of the whole frame for faces (fewer where the frames held back for them "
     "would pass 256 MiB); a face found is followed back through the frames since the last search, so it is "
     "swapped from its first frame; faces are tracked in between",
     &O::face_detector_interval},
    {"no-landmark-smoothing", "video: do not smooth landmarks over time", &O::no_landmark_smoothing},
};

template <typename T>
constexpr const char* TypeName() {
  if constexpr (std::is_same_v<T, std::string>) return "a string";
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  if constexpr (std::is_integral_v<T>) return "an integer";
  if constexpr (std::is_floating_point_v<T>) return "a number";
  return "a value";
}

// One JSON value into a T; false when its type does not fit.
template <typename T>
bool ReadScalar(const nlohmann::json& value, T& out) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (!value.is_string()) return false;
    out = value.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) return false;
    out = value.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!value.is_number_integer()) return false;
    out = value.get<T>();
  } else {
    if (!value.is_number()) return false;
    out = value.get<T>();
  }
  return true;
}

template <typename T>
Status ReadField(const std::string& name, const nlohmann::json& value, T& out) {
  if (ReadScalar(value, out)) return Status::Ok();
  return InvalidArgument("options." + name + ": must be " + TypeName<T>());
}

template <typename T>
Status ReadField(const std::string& name, const nlohmann::json& value, std::vector<T>& out) {
  std::vector<T> items;
  const nlohmann::json array = value.is_array() ? value : nlohmann::json::array({value});
  for (const auto& item : array) {
    T parsed{};
    if (!ReadScalar(item, parsed)) {
      return InvalidArgument("options." + name + ": must be a list of " + std::string(TypeName<T>()) + "s");
    }
    items.push_back(std::move(parsed));
  }
  out = std::move(items);
  return Status::Ok();
}

// CSS-style expansion of 1-4 values of `option` to top, right, bottom, left, as FaceFusion.
Result<std::array<float, 4>> ExpandSides(const std::string& option, const std::vector<float>& v) {
  switch (v.size()) {
    case 1: return std::array<float, 4>{v[0], v[0], v[0], v[0]};
    case 2: return std::array<float, 4>{v[0], v[1], v[0], v[1]};
    case 3: return std::array<float, 4>{v[0], v[1], v[2], v[1]};
    case 4: return std::array<float, 4>{v[0], v[1], v[2], v[3]};
    default: return InvalidArgument("--" + option + " takes 1 to 4 values (top right bottom left)");
  }
}

Result<std::array<float, 4>> DetectorMargin(const SwapOptions& options) {
  SWAPLINE_ASSIGN_OR_RETURN(const auto margin, ExpandSides("face-detector-margin", options.face_detector_margin));
  SWAPLINE_RETURN_IF_ERROR(vision::CheckDetectorMargin(margin));
  return margin;
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

// "960" (a square) or "960x540": the size; unset when `text` is neither.
std::optional<cv::Size> ParseSideOrSize(const std::string& text) {
  int width = 0, height = 0;
  char x = 0, extra = 0;
  const int n = std::sscanf(text.c_str(), "%d%c%d%c", &width, &x, &height, &extra);
  if (n == 1 && width > 0) return cv::Size(width, width);
  if (n == 3 && (x == 'x' || x == 'X') && width > 0 && height > 0) return cv::Size(width, height);
  return std::nullopt;
}

// The model an option names: its models-folder name ("" for a built-in one) and, for
// a model users bring (its license or an unknown checksum keeps it out of the embedded
// manifest), the architecture their manifest entry gives it.
struct OptionModel {
  std::string name;
  const char* brought_architecture = nullptr;
};

// The neural swappers' identity input is made from ArcFace embeddings; simswap's through
// its converter.
const OptionModel kSwapperRecognizer{"arcface_w600k_r50", "arcface"};
const OptionModel kSimswapConverter{"crossface_simswap", "crossface"};

Result<OptionModel> SwapperModel(const SwapOptions& options) {
  const std::string& model = options.face_swapper_model;
  if (model == "classic") return OptionModel{};
  if (model == "inswapper_128" || model == "inswapper_128_fp16") return OptionModel{model, "inswapper"};
  if (model == "hyperswap_1a_256" || model == "hyperswap_1b_256" || model == "hyperswap_1c_256") {
    return OptionModel{model, "hyperswap"};
  }
  if (model == "simswap_256") return OptionModel{model, "simswap"};
  return InvalidArgument(
      "--face-swapper-model must be classic, inswapper_128, inswapper_128_fp16, hyperswap_1a_256, hyperswap_1b_256, "
      "hyperswap_1c_256 or simswap_256, got '" + model + "'");
}

// A brought model of `architecture` that `option` picks among `choices`, used only when
// the list option `uses` names `use`: unset otherwise.
Result<OptionModel> PickedModel(const std::string& option, const std::string& model,
                                std::initializer_list<const char*> choices, const char* architecture,
                                const std::vector<std::string>& uses, const char* use) {
  if (std::find(choices.begin(), choices.end(), model) == choices.end()) {
    std::string names;
    std::size_t i = 0;
    for (const char* choice : choices) {
      names += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + std::string(choice);
      ++i;
    }
    return InvalidArgument("--" + option + " must be " + names + ", got '" + model + "'");
  }
  if (std::find(uses.begin(), uses.end(), use) == uses.end()) return OptionModel{};
  return OptionModel{model, architecture};
}

// The occlusion and region masks' models, when --face-mask-types has their type.
Result<OptionModel> OccluderModel(const SwapOptions& options) {
  return PickedModel("face-occluder-model", options.face_occluder_model, {"xseg_1", "xseg_2", "xseg_3"}, "xseg",
                     options.face_mask_types, "occlusion");
}

Result<OptionModel> ParserModel(const SwapOptions& options) {
  return PickedModel("face-parser-model", options.face_parser_model, {"bisenet_resnet_18", "bisenet_resnet_34"},
                     "bisenet", options.face_mask_types, "region");
}

// The enhancer's model, when --processors has face_enhancer.
Result<OptionModel> EnhancerModel(const SwapOptions& options) {
  return PickedModel("face-enhancer-model", options.face_enhancer_model, {"gfpgan_1.2", "gfpgan_1.3", "gfpgan_1.4"},
                     "gfpgan", options.processors, "face_enhancer");
}

Result<OptionModel> LandmarkerModel(const SwapOptions& options) {
  if (options.face_landmarker_model == "dlib_68") return OptionModel{};
  if (options.face_landmarker_model == "face_mesh") return OptionModel{"face_mesh"};
  if (options.face_landmarker_model == "2dfan4") return OptionModel{"2dfan4", "2dfan4"};
  return InvalidArgument("--face-landmarker-model must be dlib_68, face_mesh or 2dfan4, got '" +
                         options.face_landmarker_model + "'");
}

Result<int> PixelBoost(const SwapOptions& options) {
  const std::string& text = options.face_swapper_pixel_boost;
  if (text.empty()) return 0;
  SWAPLINE_ASSIGN_OR_RETURN(const OptionModel swapper, SwapperModel(options));
  if (swapper.name.empty()) return InvalidArgument("--face-swapper-pixel-boost applies to the neural swappers, not classic");
  const std::optional<cv::Size> size = ParseSideOrSize(text);
  if (!size || size->width != size->height) {
    return InvalidArgument("--face-swapper-pixel-boost must look like 512x512 (square), got '" + text + "'");
  }
  SWAPLINE_RETURN_IF_ERROR(
      vision::CheckPixelBoost(*vision::FindNeuralSwapperLayout(swapper.brought_architecture), size->width));
  return size->width;
}

// The face options shared by image and video jobs.
template <typename Spec>
Status FillFaceOptions(const SwapOptions& args, const std::vector<std::filesystem::path>& sources,
                       const std::filesystem::path& target, const std::filesystem::path& output, Spec& spec) {
  spec.sources = sources;
  spec.target = target;
  spec.output = output;
  spec.face_detector_score = args.face_detector_score;
  SWAPLINE_RETURN_IF_ERROR(LandmarkerModel(args).status());
  SWAPLINE_RETURN_IF_ERROR(SwapperModel(args).status());
  SWAPLINE_RETURN_IF_ERROR(DetectorAngles(args).status());
  SWAPLINE_RETURN_IF_ERROR(DetectorMargin(args).status());
  SWAPLINE_ASSIGN_OR_RETURN(spec.selector.mode, vision::ParseSelectorMode(args.face_selector_mode));
  SWAPLINE_ASSIGN_OR_RETURN(spec.selector.order, vision::ParseSelectorOrder(args.face_selector_order));
  spec.selector.reference_face_position = args.reference_face_position;
  if (args.reference_face_distance >= 0) spec.selector.reference_face_distance = args.reference_face_distance;
  spec.swapper.mask.types.clear();
  for (const auto& name : args.face_mask_types) {
    SWAPLINE_ASSIGN_OR_RETURN(vision::MaskType type, vision::ParseMaskType(name));
    spec.swapper.mask.types.push_back(type);
  }
  SWAPLINE_ASSIGN_OR_RETURN(spec.swapper.mask.regions, vision::ParseFaceRegions(args.face_mask_regions));
  SWAPLINE_RETURN_IF_ERROR(OccluderModel(args).status());
  SWAPLINE_RETURN_IF_ERROR(ParserModel(args).status());
  spec.swapper.mask.blur = args.face_mask_blur;
  SWAPLINE_ASSIGN_OR_RETURN(spec.swapper.mask.padding, ExpandSides("face-mask-padding", args.face_mask_padding));
  SWAPLINE_ASSIGN_OR_RETURN(spec.swapper.blend, vision::ParseBlendMode(args.face_swapper_blend));
  spec.swapper.color_transfer = !args.no_color_transfer;
  spec.swapper.morph = args.face_swapper_morph;
  spec.swapper.keep_glasses = args.face_swapper_keep_glasses;
  SWAPLINE_ASSIGN_OR_RETURN(spec.swapper.pixel_boost, PixelBoost(args));
  spec.swapper.enhancer_blend = args.face_enhancer_blend;
  SWAPLINE_RETURN_IF_ERROR(EnhancerModel(args).status());
  spec.swapper.processors.clear();
  for (const auto& name : args.processors) {
    vision::FaceProcessor processor = vision::FaceProcessor::kSwapper;
    if (name == "face_enhancer") {
      processor = vision::FaceProcessor::kEnhancer;
    } else if (name != "face_swapper") {
      return InvalidArgument("unknown processor '" + name + "' (face_swapper, face_enhancer)");
    }
    if (std::find(spec.swapper.processors.begin(), spec.swapper.processors.end(), processor) !=
        spec.swapper.processors.end()) {
      return InvalidArgument("--processors names " + name + " twice");
    }
    spec.swapper.processors.push_back(processor);
  }
  return Status::Ok();
}

}  // namespace

std::span<const SwapOptionField> SwapOptionFields() { return kFields; }

Result<SwapOptions> SwapOptionsFromJson(const nlohmann::json& options) {
  SwapOptions out;
  if (options.is_null()) return out;
  if (!options.is_object()) return InvalidArgument("options: must be an object of swap option names to values");
  for (const auto& item : options.items()) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one.
    const std::string& name = item.key();
    const nlohmann::json& value = item.value();
    const Field* field = nullptr;
    for (const Field& f : kFields) {
      if (name == f.name) field = &f;
    }
    if (field == nullptr) {
      return InvalidArgument("options." + name + ": unknown swap option (names as in `swapline swap --help`, "
                             "without the leading dashes)");
    }
    SWAPLINE_RETURN_IF_ERROR(
        std::visit([&](auto member) { return ReadField(name, value, out.*member); }, field->member));
  }
  return out;
}

nlohmann::json SwapOptionsToJson(const SwapOptions& options, const std::vector<std::string>& names) {
  nlohmann::json out = nlohmann::json::object();
  for (const std::string& name : names) {
    for (const Field& f : kFields) {
      if (name != f.name) continue;
      std::visit([&](auto member) { out[name] = options.*member; }, f.member);
    }
  }
  return out;
}

namespace {

// The neural detectors --face-detector-model names: the input sides each model takes
// (the first is the default), its models-folder name at a side, and for models whose
// license keeps them out of the embedded manifest, the architecture a user's own
// manifest entry must name.
struct NeuralDetector {
  const char* option;
  std::vector<int> sides;
  std::string (*model)(int side);
  const char* brought_architecture = nullptr;
};

const NeuralDetector kNeuralDetectors[] = {
    {"yunet", {640, 320}, [](int side) { return "yunet_s_" + std::to_string(side); }},
    {"blazeface", {256, 128}, [](int side) { return std::string(side == 128 ? "blazeface_front" : "blazeface_back"); }},
    {"scrfd", {640, 160, 320, 480, 512}, [](int) { return std::string("scrfd_2.5g"); }, "scrfd"},
    {"retinaface", {640, 160, 320, 480, 512}, [](int) { return std::string("retinaface_10g"); }, "scrfd"},
    {"yolo_face", {640}, [](int) { return std::string("yoloface_8n"); }, "yolo_face"},
};

const NeuralDetector* FindNeuralDetector(const std::string& option) {
  for (const NeuralDetector& d : kNeuralDetectors) {
    if (option == d.option) return &d;
  }
  return nullptr;
}

}  // namespace

Result<int> DetectorSide(const SwapOptions& options, bool video) {
  const NeuralDetector* neural = FindNeuralDetector(options.face_detector_model);
  if (neural == nullptr && options.face_detector_model != "hog") {
    return InvalidArgument("--face-detector-model must be hog, yunet, blazeface, scrfd, retinaface or yolo_face, got '" +
                           options.face_detector_model + "'");
  }
  const std::string& text = options.face_detector_size;
  if (text.empty()) return neural ? neural->sides.front() : video ? kVideoDetectSide : kImageDetectSide;
  const std::optional<cv::Size> size = ParseSideOrSize(text);
  if (!size) return InvalidArgument("--face-detector-size must look like 960 or 960x960, got '" + text + "'");
  // Neural inputs are square: another shape matches none of their sides.
  const int side = neural && size->width != size->height ? -1 : std::max(size->width, size->height);
  if (neural && std::find(neural->sides.begin(), neural->sides.end(), side) == neural->sides.end()) {
    std::string sides;
    for (const int s : neural->sides) sides += (sides.empty() ? "" : ", ") + std::to_string(s);
    return InvalidArgument("--face-detector-model " + options.face_detector_model + " takes --face-detector-size " +
                           sides + " (square), got '" + text + "'");
  }
  return side;
}

Result<std::vector<int>> DetectorAngles(const SwapOptions& options) {
  if (Status checked = vision::CheckDetectorAngles(options.face_detector_angles); !checked.ok()) return checked;
  return options.face_detector_angles;
}

Result<DetectorSettings> DetectorSettingsOf(const SwapOptions& options, bool video) {
  DetectorSettings settings;
  SWAPLINE_ASSIGN_OR_RETURN(settings.side, DetectorSide(options, video));
  SWAPLINE_ASSIGN_OR_RETURN(settings.angles, DetectorAngles(options));
  SWAPLINE_ASSIGN_OR_RETURN(settings.margin, DetectorMargin(options));
  return settings;
}

std::string DetectorModelName(const SwapOptions& options, int detect_side) {
  const NeuralDetector* neural = FindNeuralDetector(options.face_detector_model);
  return neural ? neural->model(detect_side) : "";
}

Result<FaceModelPaths> ResolveFaceModels(const SwapOptions& options, int detect_side, models::ModelDir* models,
                                         const std::set<std::string>& accepted_licenses,
                                         const std::string& option_prefix) {
  SWAPLINE_ASSIGN_OR_RETURN(const OptionModel landmarker, LandmarkerModel(options));
  const NeuralDetector* neural = FindNeuralDetector(options.face_detector_model);
  const OptionModel detector{DetectorModelName(options, detect_side), neural ? neural->brought_architecture : nullptr};
  // A named model's architecture and path, or unset for a built-in one.
  auto resolve = [&](const OptionModel& model, const char* option,
                     const std::string& value) -> Result<std::optional<NetworkFile>> {
    if (model.name.empty()) return std::optional<NetworkFile>();
    const std::string named = option_prefix + option + " " + value;
    if (models == nullptr) return FailedPrecondition(named + ": no models folder is configured (--models-dir)");
    if (model.brought_architecture != nullptr && models->manifest().Find(model.name) == nullptr) {
      return FailedPrecondition(named + ": its model " + model.name +
                                " is not distributed with swapline (its license or an unpublished checksum keeps it "
                                "out); list your copy (file, size, sha256, architecture \"" +
                                model.brought_architecture +
                                "\") in a manifest given with --models-manifest (README: Models you bring)");
    }
    const models::ModelEntry* entry = models->manifest().Find(model.name);
    if (model.brought_architecture != nullptr && entry->architecture != model.brought_architecture) {
      return FailedPrecondition(named + ": the manifest lists " + model.name + " with architecture \"" +
                                entry->architecture + "\"; it must be \"" + model.brought_architecture + "\"");
    }
    auto path = models->Resolve(model.name, accepted_licenses);
    if (!path.ok()) return path.status().WithContext(named);
    return std::optional<NetworkFile>(NetworkFile{entry->architecture, *path});
  };
  FaceModelPaths paths;
  SWAPLINE_ASSIGN_OR_RETURN(paths.detector, resolve(detector, "face-detector-model", options.face_detector_model));
  SWAPLINE_ASSIGN_OR_RETURN(paths.landmarker,
                            resolve(landmarker, "face-landmarker-model", options.face_landmarker_model));
  SWAPLINE_ASSIGN_OR_RETURN(const OptionModel swapper, SwapperModel(options));
  SWAPLINE_ASSIGN_OR_RETURN(paths.swapper, resolve(swapper, "face-swapper-model", options.face_swapper_model));
  if (paths.swapper) {
    SWAPLINE_ASSIGN_OR_RETURN(paths.swapper_recognizer,
                              resolve(kSwapperRecognizer, "face-swapper-model", options.face_swapper_model));
    if (paths.swapper->architecture == "simswap") {
      SWAPLINE_ASSIGN_OR_RETURN(paths.swapper_converter,
                                resolve(kSimswapConverter, "face-swapper-model", options.face_swapper_model));
    }
  }
  SWAPLINE_ASSIGN_OR_RETURN(const OptionModel enhancer, EnhancerModel(options));
  SWAPLINE_ASSIGN_OR_RETURN(paths.enhancer, resolve(enhancer, "face-enhancer-model", options.face_enhancer_model));
  SWAPLINE_ASSIGN_OR_RETURN(const OptionModel occluder, OccluderModel(options));
  SWAPLINE_ASSIGN_OR_RETURN(paths.occluder, resolve(occluder, "face-occluder-model", options.face_occluder_model));
  SWAPLINE_ASSIGN_OR_RETURN(const OptionModel parser, ParserModel(options));
  SWAPLINE_ASSIGN_OR_RETURN(paths.parser, resolve(parser, "face-parser-model", options.face_parser_model));
  return paths;
}

Result<ImageJobSpec> BuildImageJobSpec(const SwapOptions& args, const std::vector<std::filesystem::path>& sources,
                                       const std::filesystem::path& target, const std::filesystem::path& output) {
  ImageJobSpec spec;
  SWAPLINE_RETURN_IF_ERROR(FillFaceOptions(args, sources, target, output, spec));
  spec.output_image_quality = args.output_image_quality;
  if (!args.output_image_resolution.empty()) {
    SWAPLINE_ASSIGN_OR_RETURN(spec.output_image_resolution,
                              ParseResolution("--output-image-resolution", args.output_image_resolution));
  }
  spec.max_pixels = args.max_pixels;
  SWAPLINE_RETURN_IF_ERROR(ValidateImageJobSpec(spec));
  return spec;
}

Result<VideoJobSpec> BuildVideoJobSpec(const SwapOptions& args, const std::vector<std::filesystem::path>& sources,
                                       const std::filesystem::path& target, const std::filesystem::path& output) {
  VideoJobSpec spec;
  SWAPLINE_RETURN_IF_ERROR(FillFaceOptions(args, sources, target, output, spec));
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
    SWAPLINE_ASSIGN_OR_RETURN(out.resolution,
                              ParseResolution("--output-video-resolution", args.output_video_resolution));
  }
  SWAPLINE_RETURN_IF_ERROR(ValidateVideoJobSpec(spec));
  return spec;
}

}  // namespace swapline::pipeline
