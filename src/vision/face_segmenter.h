// Face segmenters: networks that say, per pixel of an aligned face crop, whether the
// face shows there. They make FaceFusion's two learned masks (--face-mask-types):
//   occlusion  XSeg (xseg_1/2/3, DeepFaceLab, GPL-3.0; users bring them): what covers
//              the face (a hand, a microphone, hair) is kept from the target. Input
//              1×256×256×3 NHWC, BGR / 255; output 1×256×256×1, 0..1.
//   region     BiSeNet face parser (bisenet_resnet_18/34, MIT; users bring them):
//              only the facial regions of --face-mask-regions take the swap. Input
//              `input` 1×3×512×512 RGB with ImageNet mean and std; output 1×19×512×512
//              class scores, the class of a pixel its highest score.
// As FaceFusion: the occlusion mask is made on the target's crop before the swap, the
// region mask on the swapped face; either is feathered at 256×256 (Gaussian σ 5) and
// remapped so that only confident pixels take the swap ((clip(m, 0.5, 1) − 0.5) · 2).
//
// Thread safety: a FaceSegmenter is loaded once and shared by every thread; its network
// runs under a lock (infer::SharedSession).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "infer/session.h"

namespace swapline::vision {

// BiSeNet's classes that can take a swap, by FaceFusion's --face-mask-regions names.
struct FaceRegion {
  const char* name;
  int class_id;
};
inline constexpr FaceRegion kFaceRegions[] = {
    {"skin", 1},  {"left-eyebrow", 2}, {"right-eyebrow", 3}, {"left-eye", 4},   {"right-eye", 5},
    {"glasses", 6}, {"nose", 10},      {"mouth", 11},        {"upper-lip", 12}, {"lower-lip", 13},
};

// The class ids of `names` (kFaceRegions); kInvalidArgument naming an unknown one.
Result<std::vector<int>> ParseFaceRegions(const std::vector<std::string>& names);

class FaceSegmenter {
 public:
  enum class Kind { kOccluder, kParser };

  // `architecture`: the manifest's, "xseg" (an occluder) or "bisenet" (a parser).
  static Result<std::shared_ptr<FaceSegmenter>> Load(std::string_view architecture, const std::filesystem::path& onnx);

  Kind kind() const { return kind_; }
  // The side of the square crop the network reads.
  int side() const { return kind_ == Kind::kOccluder ? 256 : 512; }

  // The feathered mask (CV_32F, 0..1, 256×256: the crop's square at a quarter of the
  // parser's pixels) of an 8-bit BGR aligned face crop of side()×side(). `regions`:
  // the parser's class ids that count as face (unused by an occluder).
  Result<cv::Mat> Segment(const cv::Mat& crop, const std::vector<int>& regions) const;

 private:
  FaceSegmenter(Kind kind, std::shared_ptr<infer::SharedSession> session)
      : kind_(kind), session_(std::move(session)) {}
  Kind kind_;
  std::shared_ptr<infer::SharedSession> session_;
};

}  // namespace swapline::vision
