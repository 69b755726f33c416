#include "vision/neural_face_swapper.h"

#include <algorithm>
#include <iterator>
#include <string>

#include <opencv2/imgproc.hpp>

#include "infer/onnx_initializer.h"
#include "vision/arcface_recognizer.h"
#include "vision/face_aligner.h"
#include "vision/swap_source.h"

namespace swapline::vision {
namespace {

const NeuralSwapperLayout kLayouts[] = {
    {"inswapper", WarpTemplate::kArcface128, 128, kUnitRange, 255.0, 0.0, SourceInput::kEmapLatent},
    {"hyperswap", WarpTemplate::kArcface128, 256, kSignedRange, 127.5, 127.5, SourceInput::kMeanNormalised},
    // Its output is 0..1, not de-normalised from ImageNet's statistics.
    {"simswap", WarpTemplate::kArcface112V1, 256, kImageNet, 255.0, 0.0, SourceInput::kConvertedNormalised},
};
// FaceFusion's largest pixel boost.
constexpr int kMaxPixelBoost = 1024;

infer::ModelSignature SwapperSignature(int side) {
  return {{{"target", {1, 3, side, side}}, {"source", {1, kArcFaceEmbeddingSize}}}, {{"", {1, 3, side, side}}}};
}

// simswap's crossface converter: an embedding in, one out.
infer::ModelSignature ConverterSignature() {
  return {{{"", {1, kArcFaceEmbeddingSize}}}, {{"", {1, kArcFaceEmbeddingSize}}}};
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

class NeuralFaceSwapper final : public FaceSwapper {
 public:
  NeuralFaceSwapper(std::shared_ptr<NeuralSwapperModel> model, const SwapperOptions& options)
      : model_(std::move(model)), mask_(options.mask),
        crop_side_(options.pixel_boost > 0 ? options.pixel_boost : model_->layout().side) {}

  void SetSource(std::shared_ptr<const SwapSource> source) override {
    source_ = std::move(source);
    latent_.release();
  }

  cv::Rect Region(const Face& target, cv::Size image) const override {
    return AlignedCropRegion(target.landmarks5, model_->layout().warp_template, image);
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
    face.landmarks5 = work.ToWork(target.landmarks5);
    const NeuralSwapperLayout& layout = model_->layout();
    const cv::Size crop_size(crop_side_, crop_side_);
    SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat alignment,
                              EstimateAlignment(face.landmarks5, layout.warp_template, crop_size));
    const int k = crop_side_ / layout.side;
    std::vector<cv::Mat> parts = SplitBoosted(WarpFace(region, alignment, crop_size), k);
    for (cv::Mat& part : parts) {
      SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat swapped, model_->Run(RgbBlob(part, layout.input), latent_));
      part = RgbTensorToBgr(swapped, layout.output_scale, layout.output_offset);
    }
    const cv::Mat to_work = InvertAlignment(alignment);
    cv::warpAffine(JoinBoosted(parts, k), patch.face, to_work, work.size, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    patch.mask = CreateFaceMask(face, work.size, cv::Rect(0, 0, work.size.width, work.size.height), mask_,
                                layout.warp_template);
    SWAPLINE_RETURN_IF_ERROR(
        ApplySegmentationMasks(face, layout.warp_template, region, patch.face, mask_, patch.mask, patch.shift));
    if (timings) ++timings->faces;
    return patch;
  }

 private:
  std::shared_ptr<NeuralSwapperModel> model_;
  FaceMaskOptions mask_;
  int crop_side_;  // the pixel boost
  std::shared_ptr<const SwapSource> source_;
  cv::Mat latent_;  // of source_, made at its first face
};

}  // namespace

const NeuralSwapperLayout* FindNeuralSwapperLayout(std::string_view architecture) {
  for (const NeuralSwapperLayout& layout : kLayouts) {
    if (architecture == layout.architecture) return &layout;
  }
  return nullptr;
}

NeuralSwapperModel::NeuralSwapperModel(const NeuralSwapperLayout& layout,
                                       std::unique_ptr<infer::InferenceSession> session, cv::Mat emap,
                                       std::unique_ptr<FaceRecognizer> arcface,
                                       std::unique_ptr<infer::InferenceSession> converter)
    : layout_(layout), session_(std::move(session)), emap_(std::move(emap)), arcface_(std::move(arcface)),
      converter_(std::move(converter)) {}

Result<std::shared_ptr<NeuralSwapperModel>> NeuralSwapperModel::Load(std::string_view architecture,
                                                                     const std::filesystem::path& swapper,
                                                                     const std::filesystem::path& arcface,
                                                                     const std::filesystem::path& converter) {
  const NeuralSwapperLayout* layout = FindNeuralSwapperLayout(architecture);
  if (layout == nullptr) return InvalidArgument("no face swapper of architecture '" + std::string(architecture) + "'");
  const std::string name = layout->architecture;
  auto session = infer::InferenceSession::Load(swapper, SwapperSignature(layout->side));
  if (!session.ok()) return session.status().WithContext(name);
  cv::Mat emap;
  if (layout->source == SourceInput::kEmapLatent) {
    auto read = infer::ReadLastInitializer(swapper);
    if (!read.ok()) return read.status().WithContext(name + " emap");
    if (read->dims != 2 || read->rows != kArcFaceEmbeddingSize || read->cols != kArcFaceEmbeddingSize) {
      return FailedPrecondition(name + ": model " + swapper.filename().string() +
                                " does not end with a 512x512 emap initializer");
    }
    emap = std::move(read).value();
  }
  auto recognizer = LoadArcFaceRecognizer(arcface);
  if (!recognizer.ok()) return recognizer.status().WithContext(name + "'s recognizer");
  std::unique_ptr<infer::InferenceSession> converter_session;
  if (layout->source == SourceInput::kConvertedNormalised) {
    auto loaded = infer::InferenceSession::Load(converter, ConverterSignature());
    if (!loaded.ok()) return loaded.status().WithContext(name + "'s embedding converter");
    converter_session = std::move(loaded).value();
  }
  return std::shared_ptr<NeuralSwapperModel>(new NeuralSwapperModel(*layout, std::move(session).value(),
                                                                    std::move(emap), std::move(recognizer).value(),
                                                                    std::move(converter_session)));
}

Result<cv::Mat> NeuralSwapperModel::SourceLatent(const std::vector<SourceImage>& faces) {
  if (faces.empty()) return InvalidArgument("face swapper: no source face");
  cv::Mat sum(1, kArcFaceEmbeddingSize, CV_32F, cv::Scalar(0));
  std::lock_guard lock(mutex_);
  for (const SourceImage& source : faces) {
    SWAPLINE_ASSIGN_OR_RETURN(const Embedding embedding, arcface_->Embed(source.image, source.face));
    const cv::Mat e(1, kArcFaceEmbeddingSize, CV_32F, const_cast<float*>(embedding.values.data()));
    const double length = cv::norm(e);
    if (!(length > 0)) return NoFace("face swapper: the source face has an empty ArcFace embedding");
    sum += layout_.source == SourceInput::kMeanNormalised ? e / length : e;
  }
  switch (layout_.source) {
    case SourceInput::kEmapLatent:
      return cv::Mat(sum * emap_ / cv::norm(sum));  // the mean's length × the count, which cancels
    case SourceInput::kMeanNormalised:
      return cv::Mat(sum / static_cast<double>(faces.size()));
    case SourceInput::kConvertedNormalised: {
      const cv::Mat mean = sum / static_cast<double>(faces.size());
      SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> converted, converter_->Run(mean));
      const cv::Mat out = converted[0].reshape(1, 1);
      const double length = cv::norm(out);
      if (!(length > 0)) return NoFace("face swapper: the converted source embedding is empty");
      return cv::Mat(out / length);
    }
  }
  return Internal("unknown source input");
}

Result<cv::Mat> NeuralSwapperModel::Run(const cv::Mat& target, const cv::Mat& latent) {
  std::lock_guard lock(mutex_);
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> outputs, session_->Run(std::vector<cv::Mat>{target, latent}));
  return outputs[0].clone();  // the network's own buffer, which the next run overwrites
}

std::unique_ptr<FaceSwapper> NewNeuralFaceSwapper(std::shared_ptr<NeuralSwapperModel> model,
                                                  const SwapperOptions& options) {
  return std::make_unique<NeuralFaceSwapper>(std::move(model), options);
}

Status CheckPixelBoost(const NeuralSwapperLayout& layout, int pixel_boost) {
  if (pixel_boost == 0 || (pixel_boost % layout.side == 0 && pixel_boost <= kMaxPixelBoost && pixel_boost > 0)) {
    return Status::Ok();
  }
  return InvalidArgument("--face-swapper-pixel-boost takes a multiple of " + std::to_string(layout.side) +
                         " up to " + std::to_string(kMaxPixelBoost) + " for " + layout.architecture + ", got " +
                         std::to_string(pixel_boost));
}

}  // namespace swapline::vision
