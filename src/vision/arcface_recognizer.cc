#include "vision/arcface_recognizer.h"

#include <cmath>
#include <limits>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "infer/session.h"
#include "vision/face_aligner.h"

namespace swapline::vision {
namespace {

constexpr int kCropSide = 112;
constexpr float kSameIdentityDistance = 0.6f;

infer::ModelSignature ArcFaceSignature() {
  return {{{"", {1, 3, kCropSide, kCropSide}}}, {{"", {1, kArcFaceEmbeddingSize}}}};
}

class ArcFaceRecognizer final : public FaceRecognizer {
 public:
  explicit ArcFaceRecognizer(std::unique_ptr<infer::InferenceSession> session) : session_(std::move(session)) {}

  Result<Embedding> Embed(const cv::Mat& image, const Face& face) override {
    SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat blob, ArcFaceInput(image, face.landmarks5));
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> outputs, session_->Run(blob));
    const float* values = outputs[0].ptr<float>();
    Embedding embedding;
    embedding.values.assign(values, values + kArcFaceEmbeddingSize);
    return embedding;
  }

  // 1 − cosine similarity; +inf when the two cannot be compared, so a mismatch never
  // counts as one person.
  float Distance(const Embedding& a, const Embedding& b) const override {
    if (a.values.empty() || a.values.size() != b.values.size()) return std::numeric_limits<float>::infinity();
    double dot = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < a.values.size(); ++i) {
      dot += static_cast<double>(a.values[i]) * b.values[i];
      aa += static_cast<double>(a.values[i]) * a.values[i];
      bb += static_cast<double>(b.values[i]) * b.values[i];
    }
    if (aa == 0 || bb == 0) return std::numeric_limits<float>::infinity();
    return static_cast<float>(1.0 - dot / std::sqrt(aa * bb));
  }

  float SameIdentityThreshold() const override { return kSameIdentityDistance; }

 private:
  std::unique_ptr<infer::InferenceSession> session_;
};

}  // namespace

Result<cv::Mat> ArcFaceInput(const cv::Mat& image, const Landmarks5& landmarks) {
  if (image.empty() || (image.type() != CV_8UC3 && image.type() != CV_8UC1)) {
    return InvalidArgument("ArcFace needs an 8-bit BGR or grey image");
  }
  SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat alignment,
                            EstimateAlignment(landmarks, WarpTemplate::kArcface112V2, {kCropSide, kCropSide}));
  cv::Mat crop = WarpFace(image, alignment, {kCropSide, kCropSide});
  if (crop.channels() == 1) cv::cvtColor(crop, crop, cv::COLOR_GRAY2BGR);
  return cv::dnn::blobFromImage(crop, 1.0 / 127.5, {}, cv::Scalar::all(127.5), /*swapRB=*/true);
}

Result<std::unique_ptr<FaceRecognizer>> LoadArcFaceRecognizer(const std::filesystem::path& onnx) {
  auto session = infer::InferenceSession::Load(onnx, ArcFaceSignature());
  if (!session.ok()) return session.status().WithContext("ArcFace recognizer");
  return std::unique_ptr<FaceRecognizer>(std::make_unique<ArcFaceRecognizer>(std::move(session).value()));
}

}  // namespace swapline::vision
