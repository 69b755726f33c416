// Face enhancer: FaceFusion's face_enhancer processor with GFPGAN (1.2, 1.3, 1.4;
// TencentARC, Apache-2.0), a network that restores a 512 px aligned face. Its weights
// have no published checksum to pin, so users bring them (README: Models you bring).
//
// As FaceFusion runs it, per target face (after the swap when both processors run):
//   crop   the face aligned on its five landmarks to the ffhq_512 template at 512×512,
//          fed as `input` 1×3×512×512 RGB scaled to −1..1;
//   output 1×3×512×512 in −1..1, clipped, back to 0..255 BGR;
//   paste  mapped back into the face's working frame through the inverse alignment,
//          under the crop's box mask (--face-mask-blur, no padding) times
//          --face-enhancer-blend / 100 (FaceFusion's default 80): the enhanced face is
//          laid over the frame at that weight.
// The enhancer implements the FaceSwapper interface, the processors' shared one
// (Region, Render to a SwapPatch); it takes no source, so SetSource() is ignored.
//
// Thread safety: as NeuralSwapperModel, one shared EnhancerModel runs under one lock.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "infer/session.h"
#include "vision/face_swapper.h"

namespace swapline::vision {

inline constexpr int kEnhancerSide = 512;

class EnhancerModel {
 public:
  static Result<std::shared_ptr<EnhancerModel>> Load(const std::filesystem::path& onnx);
  // The enhanced crop (1×3×512×512, −1..1 unclipped) of an input blob.
  Result<cv::Mat> Run(const cv::Mat& input);

 private:
  explicit EnhancerModel(std::unique_ptr<infer::InferenceSession> session) : session_(std::move(session)) {}
  std::mutex mutex_;
  std::unique_ptr<infer::InferenceSession> session_;
};

// Uses options.mask.blur and options.enhancer_blend.
std::unique_ptr<FaceSwapper> NewFaceEnhancer(std::shared_ptr<EnhancerModel> model, const SwapperOptions& options);

}  // namespace swapline::vision
