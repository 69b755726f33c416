#include "vision/neural_face_swapper.h"

#include <algorithm>
#include <iterator>
#include <string>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "infer/onnx_initializer.h"
#include "vision/arcface_recognizer.h"
#include "vision/face_aligner.h"
#include "vision/swap_source.h"

namespace swapline::vision {
namespace {

constexpr int kPixelBoosts[] = {128, 256, 384, 512, 768, 1024};

infer::ModelSignature InswapperSignature() {
  return {{{"target", {1, 3, kInswapperSide, kInswapperSide}}, {"source", {1, kArcFaceEmbeddingSize}}},
          {{"", {1, 3, kInswapperSide, kInswapperSide}}}};
}

// FaceFusion's implode_pixel_boost: the k² sub-images of a k·S crop, sub-image a·k + b
// holding pixels (a + k·y, b + k·x).
std::vector<cv::Mat> SplitBoosted(const cv::Mat& crop, int k) {
  const int side = crop.rows / k;
  std::vector<cv::Mat> parts;
  for (int a = 0; a < k; ++a) {
    for (int b = 0; b < k; ++b) {
      cv::Mat part(side, side, crop.type());
      for (int y = 0; y < side; ++y) {
        const auto* row = crop.ptr<cv::Vec3b>(a + k * y);
        auto* out = part.ptr<cv::Vec3b>(y);
        for (int x = 0; x < side; ++x) out[x] = row[b + k * x];
      }
      parts.push_back(part);
    }
  }
  return parts;
}

// The inverse: explode_pixel_boost.
cv::Mat JoinBoosted(const std::vector<cv::Mat>& parts, int k) {
  const int side = parts.front().rows;
  cv::Mat crop(side * k, side * k, parts.front().type());
  for (int a = 0; a < k; ++a) {
    for (int b = 0; b < k; ++b) {
      const cv::Mat& part = parts[static_cast<std::size_t>(a * k + b)];
      for (int y = 0; y < side; ++y) {
        const auto* in = part.ptr<cv::Vec3b>(y);
        auto* row = crop.ptr<cv::Vec3b>(a + k * y);
        for (int x = 0; x < side; ++x) row[b + k * x] = in[x];
      }
    }
  }
  return crop;
}

class InswapperFaceSwapper final : public FaceSwapper {
 public:
  InswapperFaceSwapper(std::shared_ptr<InswapperModel> model, const SwapperOptions& options)
      : model_(std::move(model)), mask_(options.mask),
        crop_side_(options.pixel_boost > 0 ? options.pixel_boost : kInswapperSide) {}

  void SetSource(std::shared_ptr<const SwapSource> source) override {
    source_ = std::move(source);
    latent_.release();
  }

  cv::Rect Region(const Face& target, cv::Size image) const override {
    return AlignedCropRegion(target.landmarks5, WarpTemplate::kArcface128, image);
  }

  Result<SwapPatch> Render(const Face& target, cv::Size /*image*/, const cv::Rect& roi, const RegionReader& read,
                           SwapTimings* timings) override {
    if (!source_) return Internal("Render() called before SetSource()");
    SwapPatch patch;
    patch.roi = roi;
    if (roi.width < 4 || roi.height < 4) return patch;  // face outside the frame
    if (latent_.empty()) {
      SWAPLINE_ASSIGN_OR_RETURN(latent_, model_->SourceLatent(source_->faces));
    }
    // The crop's square, turned, spans up to √2 its side: the frame keeps its pixels.
    const WorkFrame work(roi, std::max(kWorkSide, crop_side_ * 3 / 2));
    const cv::Mat region = read(roi, work.size, cv::INTER_AREA);
    Face face;  // the target in the working frame
    face.landmarks68 = work.ToWork(target.landmarks68);
    for (std::size_t i = 0; i < face.landmarks5.size(); ++i) face.landmarks5[i] = work.ToWork(target.landmarks5[i]);
    const cv::Size crop_size(crop_side_, crop_side_);
    SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat alignment,
                              EstimateAlignment(face.landmarks5, WarpTemplate::kArcface128, crop_size));
    const int k = crop_side_ / kInswapperSide;
    std::vector<cv::Mat> parts = SplitBoosted(WarpFace(region, alignment, crop_size), k);
    for (cv::Mat& part : parts) {
      const cv::Mat blob = cv::dnn::blobFromImage(part, 1.0 / 255.0, {}, {}, /*swapRB=*/true);
      SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat swapped, model_->Run(blob, latent_));
      part = RgbTensorToBgr(swapped, 255.0, 0.0);
    }
    const cv::Mat to_work = InvertAlignment(alignment);
    cv::warpAffine(JoinBoosted(parts, k), patch.face, to_work, work.size, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    patch.mask = CreateFaceMask(face, work.size, cv::Rect(0, 0, work.size.width, work.size.height), mask_);
    if (timings) ++timings->faces;
    return patch;
  }

 private:
  std::shared_ptr<InswapperModel> model_;
  FaceMaskOptions mask_;
  int crop_side_;  // the pixel boost
  std::shared_ptr<const SwapSource> source_;
  cv::Mat latent_;  // of source_, made at its first face
};

}  // namespace

InswapperModel::InswapperModel(std::unique_ptr<infer::InferenceSession> session, cv::Mat emap,
                               std::unique_ptr<FaceRecognizer> arcface)
    : session_(std::move(session)), emap_(std::move(emap)), arcface_(std::move(arcface)) {}

Result<std::shared_ptr<InswapperModel>> InswapperModel::Load(const std::filesystem::path& inswapper,
                                                             const std::filesystem::path& arcface) {
  auto session = infer::InferenceSession::Load(inswapper, InswapperSignature());
  if (!session.ok()) return session.status().WithContext("inswapper");
  auto emap = infer::ReadLastInitializer(inswapper);
  if (!emap.ok()) return emap.status().WithContext("inswapper emap");
  if (emap->dims != 2 || emap->rows != kArcFaceEmbeddingSize || emap->cols != kArcFaceEmbeddingSize) {
    return FailedPrecondition("inswapper: model " + inswapper.filename().string() +
                              " does not end with a 512x512 emap initializer");
  }
  auto recognizer = LoadArcFaceRecognizer(arcface);
  if (!recognizer.ok()) return recognizer.status().WithContext("inswapper's recognizer");
  return std::shared_ptr<InswapperModel>(
      new InswapperModel(std::move(session).value(), std::move(emap).value(), std::move(recognizer).value()));
}

Result<cv::Mat> InswapperModel::SourceLatent(const std::vector<SourceImage>& faces) {
  if (faces.empty()) return InvalidArgument("inswapper: no source face");
  cv::Mat sum(1, kArcFaceEmbeddingSize, CV_32F, cv::Scalar(0));
  std::lock_guard lock(mutex_);
  for (const SourceImage& source : faces) {
    SWAPLINE_ASSIGN_OR_RETURN(const Embedding embedding, arcface_->Embed(source.image, source.face));
    sum += cv::Mat(1, kArcFaceEmbeddingSize, CV_32F, const_cast<float*>(embedding.values.data()));
  }
  const double length = cv::norm(sum);  // the mean's length × the count, which cancels
  if (!(length > 0)) return NoFace("inswapper: the source face has an empty ArcFace embedding");
  cv::Mat latent = sum * emap_ / length;
  return latent;
}

Result<cv::Mat> InswapperModel::Run(const cv::Mat& target, const cv::Mat& latent) {
  std::lock_guard lock(mutex_);
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> outputs, session_->Run(std::vector<cv::Mat>{target, latent}));
  return outputs[0].clone();  // the network's own buffer, which the next run overwrites
}

std::unique_ptr<FaceSwapper> NewInswapperFaceSwapper(std::shared_ptr<InswapperModel> model,
                                                     const SwapperOptions& options) {
  return std::make_unique<InswapperFaceSwapper>(std::move(model), options);
}

Status CheckPixelBoost(int pixel_boost) {
  if (pixel_boost == 0 || std::find(std::begin(kPixelBoosts), std::end(kPixelBoosts), pixel_boost) != std::end(kPixelBoosts)) {
    return Status::Ok();
  }
  return InvalidArgument("--face-swapper-pixel-boost takes 128, 256, 384, 512, 768 or 1024 (inswapper_128), got " +
                         std::to_string(pixel_boost));
}

}  // namespace swapline::vision
