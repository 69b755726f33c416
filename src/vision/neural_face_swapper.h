// Neural face swapper: FaceFusion's inswapper_128 (and _fp16), InsightFace's network that
// redraws a 128 px aligned target face with a source identity. Its licence (InsightFace,
// non-commercial) keeps it out of swapline: users bring it, with the ArcFace recognizer
// it needs (arcface_w600k_r50), and list both in their manifest (README: Models you bring).
//
// As FaceFusion runs it, per target face:
//   crop     the target aligned on its five landmarks to the arcface_128 template at
//            128×128, fed as `target` 1×3×128×128 RGB / 255;
//   source   `source` 1×512: the sources' mean raw ArcFace embedding e (vision/
//            arcface_recognizer.h) as e · emap / ‖e‖, where emap is the 512×512 map the
//            model file carries as its last initializer (infer/onnx_initializer.h); not
//            normalised again, as FaceFusion (InsightFace's own code normalises);
//   output   1×3×128×128 RGB in 0..1, clipped, back to BGR × 255;
//   boost    --face-swapper-pixel-boost B (256, 384, 512, 768 or 1024): the crop is
//            made at B×B and split into (B/128)² interleaved 128 px sub-images (pixel
//            (y, x) to sub-image (y mod k, x mod k)), each swapped, then interleaved
//            back: FaceFusion's pixel boost, k² runs per face for k× the detail;
//   paste    mapped back into the face's working frame (at most 512 px or 1.5 B, as the
//            classic swapper's, vision/swap_source.h) through the inverse alignment, under the
//            --face-mask-types masks (box: the same aligned square, feathered by
//            --face-mask-blur; region: the landmark outline).
// The swapped face comes out as a SwapPatch, so images and video frames paste it back
// exactly as they do the classic swapper's.
//
// Thread safety: an InswapperModel is loaded once and shared by the swappers of every
// thread; its two networks run under one lock (OpenCV DNN spreads a forward pass over
// its own threads, and one copy of a 500 MB network is what a worker can afford), while
// cropping and pasting run in parallel. A FaceSwapper is used by one thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "infer/session.h"
#include "vision/face_masker.h"
#include "vision/face_recognizer.h"
#include "vision/face_swapper.h"

namespace swapline::vision {

class InswapperModel {
 public:
  // Loads the swapper network, its emap and the ArcFace recognizer; a file of another
  // layout fails with FailedPrecondition naming it.
  static Result<std::shared_ptr<InswapperModel>> Load(const std::filesystem::path& inswapper,
                                                      const std::filesystem::path& arcface);

  // The `source` input for faces of one identity (at least one).
  Result<cv::Mat> SourceLatent(const std::vector<SourceImage>& faces);
  // The swapped crop (1×3×128×128, RGB 0..1 unclipped) of an aligned target blob.
  Result<cv::Mat> Run(const cv::Mat& target, const cv::Mat& latent);

 private:
  InswapperModel(std::unique_ptr<infer::InferenceSession> session, cv::Mat emap,
                 std::unique_ptr<FaceRecognizer> arcface);

  std::mutex mutex_;
  std::unique_ptr<infer::InferenceSession> session_;
  cv::Mat emap_;  // 512×512
  std::unique_ptr<FaceRecognizer> arcface_;
};

inline constexpr int kInswapperSide = 128;

// Uses options.mask and options.pixel_boost (0: 128). REQUIRES: a valid pixel boost
// (CheckPixelBoost).
std::unique_ptr<FaceSwapper> NewInswapperFaceSwapper(std::shared_ptr<InswapperModel> model,
                                                     const SwapperOptions& options);

// OK for 0 or the pixel boosts inswapper takes: 128, 256, 384, 512, 768, 1024.
Status CheckPixelBoost(int pixel_boost);

}  // namespace swapline::vision
