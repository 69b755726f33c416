#include "vision/face_enhancer.h"

#include <algorithm>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/face_aligner.h"
#include "vision/face_masker.h"
#include "vision/swap_source.h"

namespace swapline::vision {
namespace {

const cv::Size kCrop(kEnhancerSide, kEnhancerSide);

infer::ModelSignature GfpganSignature() {
  return {{{"input", {1, 3, kEnhancerSide, kEnhancerSide}}}, {{"", {1, 3, kEnhancerSide, kEnhancerSide}}}};
}

class FaceEnhancer final : public FaceSwapper {
 public:
  FaceEnhancer(std::shared_ptr<EnhancerModel> model, const SwapperOptions& options)
      : model_(std::move(model)),
        crop_mask_(CreateCropBoxMask(kEnhancerSide, options.mask.blur, {0, 0, 0, 0}) *
                   (options.enhancer_blend / 100.0)) {}

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
    SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat alignment,
                              EstimateAlignment(work.ToWork(target.landmarks5), WarpTemplate::kFfhq512, kCrop));
    const cv::Mat crop = WarpFace(region, alignment, kCrop);
    const cv::Mat blob = cv::dnn::blobFromImage(crop, 1.0 / 127.5, {}, cv::Scalar::all(127.5), /*swapRB=*/true);
    SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat enhanced, model_->Run(blob));
    const cv::Mat to_work = InvertAlignment(alignment);
    cv::warpAffine(RgbTensorToBgr(enhanced, 127.5, 127.5), patch.face, to_work, work.size, cv::INTER_LINEAR,
                   cv::BORDER_REPLICATE);
    cv::warpAffine(crop_mask_, patch.mask, to_work, work.size, cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
    if (timings) ++timings->faces;
    return patch;
  }

 private:
  std::shared_ptr<EnhancerModel> model_;
  cv::Mat crop_mask_;  // the box mask times the blend
};

}  // namespace

Result<std::shared_ptr<EnhancerModel>> EnhancerModel::Load(const std::filesystem::path& onnx) {
  auto session = infer::InferenceSession::Load(onnx, GfpganSignature());
  if (!session.ok()) return session.status().WithContext("face enhancer");
  return std::shared_ptr<EnhancerModel>(new EnhancerModel(std::move(session).value()));
}

Result<cv::Mat> EnhancerModel::Run(const cv::Mat& input) {
  std::lock_guard lock(mutex_);
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> outputs, session_->Run(input));
  return outputs[0].clone();  // the network's own buffer, which the next run overwrites
}

std::unique_ptr<FaceSwapper> NewFaceEnhancer(std::shared_ptr<EnhancerModel> model, const SwapperOptions& options) {
  return std::make_unique<FaceEnhancer>(std::move(model), options);
}

}  // namespace swapline::vision
