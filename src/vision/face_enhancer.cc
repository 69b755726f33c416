#include "vision/face_enhancer.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "vision/face_aligner.h"
#include "vision/face_masker.h"
#include "vision/image_tensor.h"
#include "vision/swap_source.h"

namespace swapline::vision {
namespace {

const cv::Size kCrop(kEnhancerSide, kEnhancerSide);

infer::ModelSignature GfpganSignature() {
  return {{{"input", {1, 3, kEnhancerSide, kEnhancerSide}}}, {{"", {1, 3, kEnhancerSide, kEnhancerSide}}}};
}

// FaceFusion's enhancer takes the occlusion mask when asked for, never the region mask;
// its box is the crop's own (crop_mask_).
FaceMaskOptions EnhancerMasks(const FaceMaskOptions& mask) {
  FaceMaskOptions out = mask;
  out.types.clear();
  if (mask.Uses(MaskType::kOcclusion)) out.types.push_back(MaskType::kOcclusion);
  return out;
}

class FaceEnhancer final : public FaceSwapper {
 public:
  FaceEnhancer(std::shared_ptr<infer::SharedSession> model, const SwapperOptions& options)
      : model_(std::move(model)), masks_(EnhancerMasks(options.mask)),
        crop_mask_(CreateCropBoxMask(kEnhancerSide, options.mask.blur, {0, 0, 0, 0})),
        blend_(options.enhancer_blend / 100.0) {}

  void SetSource(std::shared_ptr<const SwapSource> /*source*/) override {}

  cv::Rect Region(const Face& target, cv::Size image) const override {
    return AlignedCropRegion(target.landmarks5, WarpTemplate::kFfhq512, image);
  }

  Result<SwapPatch> Render(const Face& target, cv::Size /*image*/, const cv::Rect& roi, const RegionReader& read,
                           SwapTimings* timings) override {
    SwapPatch patch;
    patch.roi = roi;
    if (roi.width < 4 || roi.height < 4) return patch;  // face outside the frame
    // The crop's square, turned, spans up to √2 its side: the frame keeps its pixels.
    const WorkFrame work(roi, kEnhancerSide * 3 / 2);
    const cv::Mat region = read(roi, work.size, cv::INTER_AREA);
    Face face;  // the target in the working frame
    face.landmarks68 = work.ToWork(target.landmarks68);
    face.landmarks5 = work.ToWork(target.landmarks5);
    SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat alignment, EstimateAlignment(face.landmarks5, WarpTemplate::kFfhq512, kCrop));
    const cv::Mat crop = WarpFace(region, alignment, kCrop);
    SWAPLINE_ASSIGN_OR_RETURN(const std::vector<cv::Mat> enhanced, model_->Run(RgbBlob(crop, kSignedRange)));
    const cv::Mat to_work = InvertAlignment(alignment);
    cv::warpAffine(RgbTensorToBgr(enhanced[0], 127.5, 127.5), patch.face, to_work, work.size, cv::INTER_LINEAR,
                   cv::BORDER_REPLICATE);
    cv::warpAffine(crop_mask_, patch.mask, to_work, work.size, cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
    SWAPLINE_RETURN_IF_ERROR(
        ApplySegmentationMasks(face, WarpTemplate::kFfhq512, region, patch.face, masks_, patch.mask, patch.shift));
    patch.mask *= blend_;
    if (timings) ++timings->faces;
    return patch;
  }

 private:
  std::shared_ptr<infer::SharedSession> model_;
  FaceMaskOptions masks_;
  cv::Mat crop_mask_;  // the box mask
  double blend_;       // the enhanced face's weight
};

}  // namespace

Result<std::shared_ptr<infer::SharedSession>> LoadEnhancerModel(const std::filesystem::path& onnx) {
  auto session = infer::SharedSession::Load(onnx, GfpganSignature());
  if (!session.ok()) return session.status().WithContext("face enhancer");
  return session;
}

std::unique_ptr<FaceSwapper> NewFaceEnhancer(std::shared_ptr<infer::SharedSession> model,
                                             const SwapperOptions& options) {
  return std::make_unique<FaceEnhancer>(std::move(model), options);
}

}  // namespace swapline::vision
