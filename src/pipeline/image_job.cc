#include "pipeline/image_job.h"

#include <algorithm>
#include <cmath>
#include <future>

#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "vision/face_mesh_landmarker.h"

namespace swapline::pipeline {

Status ValidateImageJobSpec(const ImageJobSpec& spec) {
  if (spec.sources.empty()) return InvalidArgument("at least one source (-s) is needed");
  if (spec.target.empty()) return InvalidArgument("a target (-t) is needed");
  if (spec.output.empty()) return InvalidArgument("an output path (-o) is needed");
  if (!(spec.face_detector_score >= 0.0f && spec.face_detector_score <= 1.0f)) {
    return InvalidArgument("--face-detector-score must be between 0 and 1");
  }
  if (spec.output_image_quality < 0 || spec.output_image_quality > 100) {
    return InvalidArgument("--output-image-quality must be between 0 and 100");
  }
  if (spec.output_image_resolution &&
      (spec.output_image_resolution->width < media::kMinImageSide ||
       spec.output_image_resolution->height < media::kMinImageSide ||
       media::PixelCount(*spec.output_image_resolution) > spec.max_pixels)) {
    return InvalidArgument("--output-image-resolution is out of range");
  }
  SWAPLINE_RETURN_IF_ERROR(vision::ValidateSwapperOptions(spec.swapper));
  return media::ImageFormatFromPath(spec.output).status();
}

float SourceFaceQuality(const vision::Face& face) {
  const auto& p = face.landmarks68;
  const double left = cv::norm(p[30] - p[0]);
  const double right = cv::norm(p[30] - p[16]);
  const double frontal = 1.0 - std::abs(left - right) / std::max(left + right, 1e-6);
  return static_cast<float>(vision::FaceWidth(p) * frontal * frontal);
}

std::string FaceModelPaths::Key() const {
  std::string key;
  for (const auto* network : {&detector, &landmarker, &swapper, &swapper_recognizer, &swapper_converter, &enhancer,
                              &occluder, &parser}) {
    if (*network) key += (*network)->architecture + ":" + (*network)->path.string() + "|";
  }
  return key;
}

Result<ImageSwapEngine> ImageSwapEngine::Create(const std::optional<std::filesystem::path>& recognizer_model,
                                                const DetectorSettings& detection, const FaceModelPaths& face_models) {
  // HOG scans a copy of any size; a network's side is checked by DetectorSide.
  if (!face_models.detector && (detection.side < 160 || detection.side > 8192)) {
    return InvalidArgument("--face-detector-size must be between 160 and 8192");
  }
  // The built-in detector is made on another thread while the landmark model loads:
  // dlib decodes the one (~0.4 s) and parses the other (~1 s) on one core each.
  std::future<std::unique_ptr<vision::FaceDetector>> hog;
  if (!face_models.detector) {
    hog = std::async(std::launch::async, [side = detection.side] { return vision::NewHogFaceDetector({.detect_side = side}); });
  }
  std::unique_ptr<vision::FaceLandmarker> landmarker;
  if (face_models.landmarker) {
    SWAPLINE_ASSIGN_OR_RETURN(landmarker, vision::LoadFaceLandmarker(face_models.landmarker->architecture,
                                                                     face_models.landmarker->path));
  } else {
    SWAPLINE_ASSIGN_OR_RETURN(landmarker, vision::LoadDlibLandmarker());
  }
  std::unique_ptr<vision::FaceDetector> detector;
  if (face_models.detector) {
    SWAPLINE_ASSIGN_OR_RETURN(detector, vision::LoadFaceDetector(face_models.detector->architecture,
                                                                 face_models.detector->path, detection.side));
  } else {
    detector = hog.get();
  }
  if (detection.angles != std::vector<int>{0}) {
    SWAPLINE_ASSIGN_OR_RETURN(detector, vision::NewTurningFaceDetector(std::move(detector), detection.angles));
  }
  if (detection.margin != std::array<float, 4>{0, 0, 0, 0}) {
    SWAPLINE_ASSIGN_OR_RETURN(detector, vision::NewMarginFaceDetector(std::move(detector), detection.margin));
  }
  vision::FaceAnalyser analyser(std::move(detector), std::move(landmarker), nullptr);
  if (recognizer_model) {
    SWAPLINE_ASSIGN_OR_RETURN(auto recognizer, vision::LoadFaceRecognizer(*recognizer_model));
    analyser.set_recognizer(std::move(recognizer));
  }
  SharedModels models;
  if (face_models.swapper) {
    if (!face_models.swapper_recognizer) return InvalidArgument("the neural swapper needs its recognizer model");
    SWAPLINE_ASSIGN_OR_RETURN(models.neural_swapper,
                              vision::NeuralSwapperModel::Load(face_models.swapper->architecture,
                                                               face_models.swapper->path,
                                                               face_models.swapper_recognizer->path,
                                                               face_models.swapper_converter
                                                                   ? face_models.swapper_converter->path
                                                                   : std::filesystem::path()));
  }
  if (face_models.enhancer) {
    SWAPLINE_ASSIGN_OR_RETURN(models.enhancer, vision::LoadEnhancerModel(face_models.enhancer->path));
  }
  if (face_models.occluder) {
    SWAPLINE_ASSIGN_OR_RETURN(models.occluder, vision::FaceSegmenter::Load(face_models.occluder->architecture,
                                                                          face_models.occluder->path));
  }
  if (face_models.parser) {
    SWAPLINE_ASSIGN_OR_RETURN(models.parser, vision::FaceSegmenter::Load(face_models.parser->architecture,
                                                                        face_models.parser->path));
  }
  return ImageSwapEngine(std::move(analyser), std::move(models));
}

Result<std::vector<std::unique_ptr<vision::FaceSwapper>>> ImageSwapEngine::NewProcessors(
    const vision::SwapperOptions& options) const {
  vision::SwapperOptions shared = options;
  shared.mask.occluder = models_.occluder;
  shared.mask.parser = models_.parser;
  SWAPLINE_RETURN_IF_ERROR(shared.mask.CheckSegmenters());
  std::vector<std::unique_ptr<vision::FaceSwapper>> processors;
  for (const vision::FaceProcessor processor : shared.processors) {
    if (processor == vision::FaceProcessor::kEnhancer) {
      if (!models_.enhancer) return FailedPrecondition("--processors face_enhancer: no enhancer model is loaded");
      processors.push_back(vision::NewFaceEnhancer(models_.enhancer, shared));
    } else if (models_.neural_swapper) {
      processors.push_back(vision::NewNeuralFaceSwapper(models_.neural_swapper, shared));
    } else {
      processors.push_back(vision::NewClassicFaceSwapper(shared));
    }
  }
  return processors;
}

Result<std::shared_ptr<const vision::SwapSource>> PrepareSwapSource(const std::vector<SourceFace>& faces) {
  std::vector<vision::SourceImage> images;
  for (const SourceFace& face : faces) images.push_back({face.image, face.face});
  return vision::PrepareSource(images);
}

Result<std::vector<SourceFace>> ImageSwapEngine::ChooseSourceFaces(const std::vector<std::filesystem::path>& sources,
                                                                   float min_score, std::int64_t max_pixels) {
  std::vector<std::pair<float, SourceFace>> ranked;
  for (const auto& path : sources) {
    auto image = media::ReadImage(path, max_pixels);
    if (!image.ok()) return image.status().WithContext("source");
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<vision::Face> faces, analyser_.Analyse(*image, min_score, false));
    if (faces.empty()) continue;
    const auto best = std::max_element(faces.begin(), faces.end(), [](const auto& a, const auto& b) {
      return SourceFaceQuality(a) < SourceFaceQuality(b);
    });
    ranked.emplace_back(SourceFaceQuality(*best), SourceFace{path, *image, std::move(*best)});
  }
  if (ranked.empty()) {
    std::string names;
    for (const auto& path : sources) names += (names.empty() ? "" : ", ") + path.string();
    return NoFace("no face found in the source image(s) " + names +
                  "; use a photo with a clearly visible, roughly frontal face at least 80 px wide");
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<SourceFace> chosen;
  for (auto& [quality, face] : ranked) chosen.push_back(std::move(face));
  return chosen;
}

Result<ImageJobReport> ImageSwapEngine::Run(const ImageJobSpec& spec) {
  SWAPLINE_RETURN_IF_ERROR(ValidateImageJobSpec(spec));
  const bool reference_mode = spec.selector.mode == vision::SelectorMode::kReference;
  if (reference_mode && analyser_.recognizer() == nullptr) {
    // Fail before reading anything: the message names the missing model.
    return vision::SelectFaces({}, {}, spec.selector, nullptr).status();
  }
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<SourceFace> sources,
                            ChooseSourceFaces(spec.sources, spec.face_detector_score, spec.max_pixels));
  auto target = media::ReadImage(spec.target, spec.max_pixels);
  if (!target.ok()) return target.status().WithContext("target");
  cv::Mat frame = std::move(*target);

  SWAPLINE_ASSIGN_OR_RETURN(std::vector<vision::Face> faces,
                            analyser_.Analyse(frame, spec.face_detector_score, reference_mode));
  ImageJobReport report;
  report.output = spec.output;
  report.source_used = sources.front().path;
  report.target_faces = static_cast<int>(faces.size());
  const std::vector<vision::Face> reference_faces = reference_mode ? faces : std::vector<vision::Face>{};
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<vision::Face> selected,
                            vision::SelectFaces(std::move(faces), reference_faces, spec.selector,
                                                analyser_.recognizer()));
  if (selected.empty()) {
    spdlog::warn("no face selected in target '{}'; writing it unchanged", spec.target.string());
  } else {
    SWAPLINE_ASSIGN_OR_RETURN(auto prepared, PrepareSwapSource(sources));
    SWAPLINE_ASSIGN_OR_RETURN(auto processors, NewProcessors(spec.swapper));
    for (auto& processor : processors) processor->SetSource(prepared);
    for (const vision::Face& face : selected) {
      for (auto& processor : processors) SWAPLINE_RETURN_IF_ERROR(vision::Swap(*processor, frame, face));
      ++report.swapped_faces;
    }
  }
  if (spec.output_image_resolution && *spec.output_image_resolution != frame.size()) {
    const bool shrinking = media::PixelCount(*spec.output_image_resolution) < media::PixelCount(frame.size());
    cv::resize(frame, frame, *spec.output_image_resolution, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_CUBIC);
  }
  media::ImageEncodeOptions encode;
  encode.quality = spec.output_image_quality;
  encode.synthetic_mark = media::SyntheticMark();
  SWAPLINE_RETURN_IF_ERROR(media::WriteImage(spec.output, frame, encode));
  return report;
}

}  // namespace swapline::pipeline
