// Image jobs: swap a source identity into the selected faces of one target image.
//
// ImageSwapEngine holds the loaded face models (about a second to load) so that many
// jobs, benchmark runs or a worker's successive jobs reuse them. Run() reads local
// files only and writes the output atomically (temp file + rename): on any error no
// output file is left behind.
//
// Sources: every source image is analysed and its best face (the largest, most
// frontal one) is used; with several source images their faces are averaged (shape
// and texture, vision/face_swapper.h), the best one leading. No face in any source →
// Code::kNoFace.
// Target: faces are detected, selected (vision/face_selector.h) and swapped one by one.
// A target without a selected face is written unchanged with a warning (as FaceFusion
// does) and the report says so.
//
// Thread safety: one engine per thread.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "media/image_codec.h"
#include "vision/face_analyser.h"
#include "vision/face_selector.h"
#include "vision/face_enhancer.h"
#include "vision/face_segmenter.h"
#include "vision/face_swapper.h"
#include "vision/neural_face_swapper.h"

namespace swapline::pipeline {

// Default detection scale: 640 px keeps a 1080p still within ~16 ms; videos, where
// detection is amortised over frames and faces are often small, use 960 px.
inline constexpr int kImageDetectSide = 640;
inline constexpr int kVideoDetectSide = 960;

struct ImageJobSpec {
  std::vector<std::filesystem::path> sources;
  std::filesystem::path target;
  std::filesystem::path output;

  float face_detector_score = 0.5f;  // 0..1
  vision::FaceSelectorOptions selector;
  vision::SwapperOptions swapper;

  int output_image_quality = 80;                  // 0..100
  std::optional<cv::Size> output_image_resolution;  // unset: the target's size
  std::int64_t max_pixels = media::kDefaultMaxImagePixels;
};

struct ImageJobReport {
  std::filesystem::path output;
  std::filesystem::path source_used;  // the source image whose face was used
  int target_faces = 0;               // faces detected in the target
  int swapped_faces = 0;              // faces swapped
};

// The face of the sources that a swap uses, with the image it came from.
struct SourceFace {
  std::filesystem::path path;
  cv::Mat image;
  vision::Face face;
};

// The swapper's source from the chosen faces (first leads).
Result<std::shared_ptr<const vision::SwapSource>> PrepareSwapSource(const std::vector<SourceFace>& faces);

// Checks option ranges and the output extension before any work is done.
Status ValidateImageJobSpec(const ImageJobSpec& spec);

// Rank of a face as a swap source: its width times how frontal it is (0..1, from
// the nose tip's position between the jaw ends), squared to favour frontal faces.
float SourceFaceQuality(const vision::Face& face);

// Face models from the models folder; unset: the built-in one.
// A network: its manifest architecture (vision::LoadFaceDetector, LoadFaceLandmarker) and file.
struct NetworkFile {
  std::string architecture;
  std::filesystem::path path;
};

struct FaceModelPaths {
  std::optional<NetworkFile> detector;    // detect with this network instead of HOG
  std::optional<NetworkFile> landmarker;  // mark with this network instead of dlib's 68-point model
  std::optional<NetworkFile> swapper;     // swap with this network (inswapper, hyperswap), not the classic swapper
  std::optional<NetworkFile> swapper_recognizer;  // the identity model the swapper needs (ArcFace)
  std::optional<NetworkFile> swapper_converter;   // simswap's embedding converter (crossface_simswap)
  std::optional<NetworkFile> enhancer;            // the face enhancer's network (GFPGAN)
  std::optional<NetworkFile> occluder;  // the occlusion mask's network (XSeg)
  std::optional<NetworkFile> parser;    // the region mask's network (BiSeNet)

  // Every network's file, in one line: engines made from equal keys are interchangeable.
  std::string Key() const;
  bool Empty() const { return Key().empty(); }
};

// How faces are looked for.
struct DetectorSettings {
  int side = kImageDetectSide;                  // --face-detector-size: the longest side detected at
  std::vector<int> angles = {0};                // --face-detector-angles: turns faces are looked for at
  std::array<float, 4> margin = {0, 0, 0, 0};  // --face-detector-margin: percent, top right bottom left
};

class ImageSwapEngine {
 public:
  // Loads the embedded default models, plus a recognizer when a model is given.
  // `detector`: the detection settings (a neural detector's input is `detector.side`).
  // `face_models`: the neural detector, landmarker, swapper, enhancer and mask networks to use.
  static Result<ImageSwapEngine> Create(const std::optional<std::filesystem::path>& recognizer_model,
                                        const DetectorSettings& detector = {}, const FaceModelPaths& face_models = {});

  // The best face of each source image that has one, best first.
  Result<std::vector<SourceFace>> ChooseSourceFaces(const std::vector<std::filesystem::path>& sources,
                                                    float min_score, std::int64_t max_pixels);

  Result<ImageJobReport> Run(const ImageJobSpec& spec);

  vision::FaceAnalyser& analyser() { return analyser_; }

  // The processors of options.processors for one thread, in order: the swapper (the
  // neural one when the engine has its model, else the classic one) and the enhancer.
  // Neural models are shared by every processor the engine makes, and so are the
  // occlusion and region masks' networks (options.mask's are replaced by the engine's).
  // FailedPrecondition for the enhancer or a learned mask when the engine was made
  // without its model.
  Result<std::vector<std::unique_ptr<vision::FaceSwapper>>> NewProcessors(const vision::SwapperOptions& options) const;

 private:
  // The networks of the processors and the learned masks, shared by every processor.
  struct SharedModels {
    std::shared_ptr<vision::NeuralSwapperModel> neural_swapper;
    std::shared_ptr<infer::SharedSession> enhancer;
    std::shared_ptr<const vision::FaceSegmenter> occluder, parser;
  };
  ImageSwapEngine(vision::FaceAnalyser analyser, SharedModels models)
      : analyser_(std::move(analyser)), models_(std::move(models)) {}
  vision::FaceAnalyser analyser_;
  SharedModels models_;
};

}  // namespace swapline::pipeline
