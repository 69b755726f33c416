// YuNet (libfacedetection.train, 2023 layout): a fixed-size S×S BGR input (0..255,
// NCHW) and, per stride 8/16/32, four outputs over the (S/stride)² grid points:
// cls and obj (probabilities), bbox (dx, dy, log w, log h in strides) and kps (five
// points, dx dy in strides). Score = sqrt(cls·obj), as OpenCV's FaceDetectorYN.
#include "vision/face_detector.h"

#include <algorithm>
#include <cmath>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "infer/session.h"

namespace swapline::vision {
namespace {

constexpr int kStrides[] = {8, 16, 32};
constexpr float kNmsIou = 0.3f;

infer::ModelSignature YuNetSignature(int side) {
  infer::ModelSignature signature{{"input", {1, 3, side, side}}, {}};
  for (const char* kind : {"cls", "obj", "bbox", "kps"}) {
    const int width = std::string(kind) == "bbox" ? 4 : std::string(kind) == "kps" ? 10 : 1;
    for (int stride : kStrides) {
      signature.outputs.push_back({std::string(kind) + "_" + std::to_string(stride),
                                   {1, (side / stride) * (side / stride), width}});
    }
  }
  return signature;
}

class YuNetFaceDetector final : public FaceDetector {
 public:
  YuNetFaceDetector(std::unique_ptr<infer::InferenceSession> session, int side)
      : session_(std::move(session)), side_(side) {}

  Result<std::vector<Detection>> Detect(const cv::Mat& image, float min_score) override {
    if (image.empty() || (image.type() != CV_8UC3 && image.type() != CV_8UC1)) {
      return InvalidArgument("detector needs an 8-bit BGR or grey image");
    }
    // Fit the image into the S×S input from the top-left corner, keeping its aspect.
    const double scale = std::min(static_cast<double>(side_) / image.cols, static_cast<double>(side_) / image.rows);
    const cv::Size fitted(std::max(1, static_cast<int>(image.cols * scale)), std::max(1, static_cast<int>(image.rows * scale)));
    cv::Mat canvas(side_, side_, CV_8UC3, cv::Scalar::all(0));
    cv::Mat resized;
    cv::resize(image, resized, fitted, 0, 0, scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
    if (resized.channels() == 1) cv::cvtColor(resized, resized, cv::COLOR_GRAY2BGR);
    resized.copyTo(canvas(cv::Rect({0, 0}, fitted)));
    const cv::Mat blob = cv::dnn::blobFromImage(canvas);  // NCHW float, 0..255, BGR
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> outputs, session_->Run(blob));

    std::vector<cv::Rect2d> boxes;
    std::vector<float> scores;
    const int levels = static_cast<int>(std::size(kStrides));
    for (int level = 0; level < levels; ++level) {
      const int stride = kStrides[level];
      const int cols = side_ / stride;
      const float* cls = outputs[static_cast<std::size_t>(level)].ptr<float>();
      const float* obj = outputs[static_cast<std::size_t>(levels + level)].ptr<float>();
      const float* bbox = outputs[static_cast<std::size_t>(2 * levels + level)].ptr<float>();
      for (int i = 0; i < cols * cols; ++i) {
        const float score = std::sqrt(std::clamp(cls[i], 0.0f, 1.0f) * std::clamp(obj[i], 0.0f, 1.0f));
        if (score < min_score) continue;
        const float* b = bbox + 4 * i;
        const double cx = (i % cols + b[0]) * stride;
        const double cy = (i / cols + b[1]) * stride;
        const double w = std::exp(b[2]) * stride;
        const double h = std::exp(b[3]) * stride;
        boxes.emplace_back((cx - w / 2) / scale, (cy - h / 2) / scale, w / scale, h / scale);
        scores.push_back(score);
      }
    }
    std::vector<int> kept;
    cv::dnn::NMSBoxes(boxes, scores, min_score, kNmsIou, kept);
    std::vector<Detection> detections;
    const cv::Rect2d frame(0, 0, image.cols, image.rows);
    for (int index : kept) {
      const cv::Rect2d box = boxes[static_cast<std::size_t>(index)] & frame;
      if (box.area() <= 0) continue;
      detections.push_back({cv::Rect2f(box), scores[static_cast<std::size_t>(index)]});
    }
    return detections;
  }

 private:
  std::unique_ptr<infer::InferenceSession> session_;
  int side_;
};

}  // namespace

Result<std::unique_ptr<FaceDetector>> NewYuNetFaceDetector(const std::filesystem::path& onnx, int side) {
  if (side != 320 && side != 640) return InvalidArgument("YuNet models take 320 or 640 px inputs");
  SWAPLINE_ASSIGN_OR_RETURN(auto session, infer::InferenceSession::Load(onnx, YuNetSignature(side)));
  return std::unique_ptr<FaceDetector>(std::make_unique<YuNetFaceDetector>(std::move(session), side));
}

}  // namespace swapline::vision
