// Neural face swappers: FaceFusion's inswapper_128 (InsightFace), hyperswap_1a/1b/1c_256
// (FaceFusion's own) and simswap_256 (neuralchen), networks that redraw an aligned
// target face with a source identity. Their licences (non-commercial; ResearchRAIL) keep
// them out of swapline: users bring them, with the ArcFace recognizer they need
// (arcface_w600k_r50) and, for simswap, the embedding converter crossface_simswap, and
// list them in their manifest (README: Models you bring).
//
// As FaceFusion runs them, per target face (NeuralSwapperLayout per architecture):
//   crop     the target aligned on its five landmarks at the model's side S (128, 256),
//            fed as `target` 1×3×S×S RGB: inswapper arcface_128 / 255, hyperswap
//            arcface_128 scaled to −1..1, simswap arcface_112_v1 with ImageNet mean
//            and std;
//   source   `source` 1×512 from the sources' ArcFace embeddings (vision/
//            arcface_recognizer.h). inswapper: their mean raw embedding e as
//            e · emap / ‖e‖, where emap is the 512×512 map the model file carries as its
//            last initializer (infer/onnx_initializer.h), not normalised again, as
//            FaceFusion (InsightFace's own code normalises); hyperswap: the mean of the
//            normalised embeddings; simswap: e through the converter network (1×512 in
//            and out), normalised;
//   output   1×3×S×S RGB (inswapper and simswap 0..1, hyperswap −1..1), clipped, back
//            to 8-bit BGR;
//   boost    --face-swapper-pixel-boost B (a multiple of S up to 1024): the crop is
//            made at B×B and split into (B/S)² interleaved S px sub-images (pixel
//            (y, x) to sub-image (y mod k, x mod k)), each swapped, then interleaved
//            back: FaceFusion's pixel boost, k² runs per face for k× the detail;
//   paste    mapped back into the face's working frame (at most 512 px or 1.5 B, as the
//            classic swapper's, vision/swap_source.h) through the inverse alignment, under the
//            --face-mask-types masks (box: the same aligned square, feathered by
//            --face-mask-blur; area: the landmark outline; occlusion and region:
//            vision/face_segmenter.h).
// The swapped face comes out as a SwapPatch, so images and video frames paste it back
// exactly as they do the classic swapper's.
//
// Thread safety: a NeuralSwapperModel is loaded once and shared by the swappers of
// every thread; its networks run under one lock (OpenCV DNN spreads a forward pass
// over its own threads, and one copy of a 500 MB network is what a worker can afford),
// while cropping and pasting run in parallel. A FaceSwapper is used by one thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "infer/session.h"
#include "vision/face_aligner.h"
#include "vision/face_masker.h"
#include "vision/face_recognizer.h"
#include "vision/face_swapper.h"
#include "vision/image_tensor.h"

namespace swapline::vision {

// What a neural swapper's `source` input is made of.
enum class SourceInput {
  kEmapLatent,         // e · emap / ‖e‖ of the mean raw embedding e (inswapper)
  kMeanNormalised,     // the mean of the normalised embeddings (hyperswap)
  kConvertedNormalised,  // the mean raw embedding through the converter network, normalised (simswap)
};

// How a neural swapper architecture is fed and read.
struct NeuralSwapperLayout {
  const char* architecture;     // the manifest's: inswapper, hyperswap, simswap
  WarpTemplate warp_template;   // the target crop's alignment
  int side;                     // of the model's square crop
  Normalisation input;          // of the target crop
  double output_scale, output_offset;  // output v → v · scale + offset (0..255)
  SourceInput source;
};

// nullptr for an unknown architecture.
const NeuralSwapperLayout* FindNeuralSwapperLayout(std::string_view architecture);

class NeuralSwapperModel {
 public:
  // Loads the swapper network of `architecture` (its emap too for inswapper), the
  // ArcFace recognizer and, for simswap, the embedding converter (`converter`, unused
  // by the others); a file of another layout fails with FailedPrecondition naming it.
  static Result<std::shared_ptr<NeuralSwapperModel>> Load(std::string_view architecture,
                                                          const std::filesystem::path& swapper,
                                                          const std::filesystem::path& arcface,
                                                          const std::filesystem::path& converter = {});

  const NeuralSwapperLayout& layout() const { return layout_; }
  // The `source` input for faces of one identity (at least one).
  Result<cv::Mat> SourceLatent(const std::vector<SourceImage>& faces);
  // The swapped crop (1×3×S×S, RGB, unclipped) of an aligned target blob.
  Result<cv::Mat> Run(const cv::Mat& target, const cv::Mat& latent);

 private:
  NeuralSwapperModel(const NeuralSwapperLayout& layout, std::unique_ptr<infer::InferenceSession> session,
                     cv::Mat emap, std::unique_ptr<FaceRecognizer> arcface,
                     std::unique_ptr<infer::InferenceSession> converter);

  const NeuralSwapperLayout& layout_;
  std::mutex mutex_;
  std::unique_ptr<infer::InferenceSession> session_;
  cv::Mat emap_;  // 512×512, inswapper's
  std::unique_ptr<FaceRecognizer> arcface_;
  std::unique_ptr<infer::InferenceSession> converter_;  // simswap's crossface network
};

// Uses options.mask and options.pixel_boost (0: the model's side). REQUIRES: a valid
// pixel boost (CheckPixelBoost).
std::unique_ptr<FaceSwapper> NewNeuralFaceSwapper(std::shared_ptr<NeuralSwapperModel> model,
                                                  const SwapperOptions& options);

// OK for 0 or a pixel boost `layout` takes: a multiple of its side up to 1024
// (inswapper: 128, 256, 384, 512, 768, 1024; hyperswap: 256, 512, 768, 1024).
Status CheckPixelBoost(const NeuralSwapperLayout& layout, int pixel_boost);

}  // namespace swapline::vision
