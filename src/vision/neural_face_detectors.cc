// Face detectors that run a neural network through infer::InferenceSession. Each
// fits the image into its square input from the top-left corner (keeping the
// aspect), decodes its outputs into boxes in input pixels, and keeps the best of
// overlapping boxes.
//
// YuNet (libfacedetection.train, 2023 layout): S×S BGR input (0..255, NCHW) and, per
// stride 8/16/32, four outputs over the (S/stride)² grid points: cls and obj
// (probabilities), bbox (dx, dy, log w, log h in strides) and kps (five points).
// Score = sqrt(cls·obj), as OpenCV's FaceDetectorYN.
//
// BlazeFace (MediaPipe, keijiro's Barracuda ONNX export): S×S RGB input (-1..1,
// NHWC); 512 anchors on a 16×16 grid (2 per cell) and 384 on an 8×8 grid (6 per
// cell), for both the front (128 px) and back (256 px) models; per anchor a score
// logit and 16 regressors (box centre offset and size, then six keypoints) in input
// pixels. Anchors have unit size (MediaPipe's fixed_anchor_size).
//
// SCRFD and RetinaFace (InsightFace det_2.5g / det_10g, FaceFusion's scrfd and
// retinaface): S×S BGR input, (x − 127.5) / 128, NCHW; per stride 8/16/32 a score
// (probability), four box distances (left, top, right, bottom) and five keypoints, in
// strides from the anchor; two anchors per cell, at the cell's top-left corner. The
// outputs' names are tensor numbers that differ per file, so they are found by shape.
//
// yolo_face (YOLOv8n-face, FaceFusion's default): 640×640 BGR input, x / 255, NCHW;
// one output 1×20×8400 whose columns are candidates: centre, size (input pixels),
// score, then five keypoints as x, y, confidence.
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
  infer::ModelSignature signature{{{"input", {1, 3, side, side}}}, {}};
  for (const char* kind : {"cls", "obj", "bbox", "kps"}) {
    const int width = std::string(kind) == "bbox" ? 4 : std::string(kind) == "kps" ? 10 : 1;
    for (int stride : kStrides) {
      signature.outputs.push_back({std::string(kind) + "_" + std::to_string(stride),
                                   {1, (side / stride) * (side / stride), width}});
    }
  }
  return signature;
}

// The image fitted into an S×S canvas from the top-left corner; `scale` maps image
// pixels to canvas pixels.
cv::Mat FitIntoSquare(const cv::Mat& image, int side, double& scale) {
  scale = std::min(static_cast<double>(side) / image.cols, static_cast<double>(side) / image.rows);
  const cv::Size fitted(std::max(1, static_cast<int>(image.cols * scale)), std::max(1, static_cast<int>(image.rows * scale)));
  cv::Mat canvas(side, side, CV_8UC3, cv::Scalar::all(0));
  cv::Mat resized;
  cv::resize(image, resized, fitted, 0, 0, scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (resized.channels() == 1) cv::cvtColor(resized, resized, cv::COLOR_GRAY2BGR);
  resized.copyTo(canvas(cv::Rect({0, 0}, fitted)));
  return canvas;
}

// Candidates (boxes in image pixels) → the best of each overlapping group, clipped to the image.
std::vector<Detection> KeepBest(const std::vector<cv::Rect2d>& boxes, const std::vector<float>& scores,
                                float min_score, cv::Size image) {
  std::vector<int> kept;
  cv::dnn::NMSBoxes(boxes, scores, min_score, kNmsIou, kept);
  std::vector<Detection> detections;
  const cv::Rect2d frame(0, 0, image.width, image.height);
  for (int index : kept) {
    const cv::Rect2d box = boxes[static_cast<std::size_t>(index)] & frame;
    if (box.area() <= 0) continue;
    detections.push_back({cv::Rect2f(box), scores[static_cast<std::size_t>(index)]});
  }
  return detections;
}


// A detector whose network takes a square image: fit, run, decode candidates in
// input pixels, map them back and keep the best of each overlapping group.
class SquareInputDetector : public FaceDetector {
 public:
  SquareInputDetector(std::unique_ptr<infer::InferenceSession> session, int side)
      : session_(std::move(session)), side_(side) {}

  Result<std::vector<Detection>> Detect(const cv::Mat& image, float min_score) final {
    if (image.empty() || (image.type() != CV_8UC3 && image.type() != CV_8UC1)) {
      return InvalidArgument("detector needs an 8-bit BGR or grey image");
    }
    double scale = 1;
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> outputs, session_->Run(ToBlob(FitIntoSquare(image, side_, scale))));
    std::vector<cv::Rect2d> boxes;
    std::vector<float> scores;
    Decode(outputs, min_score, boxes, scores);
    for (cv::Rect2d& box : boxes) box = cv::Rect2d(box.x / scale, box.y / scale, box.width / scale, box.height / scale);
    return KeepBest(boxes, scores, min_score, image.size());
  }

 protected:
  // The network input for a BGR canvas of side() pixels.
  virtual cv::Mat ToBlob(const cv::Mat& canvas) const = 0;
  // Candidates scoring at least `min_score`, boxes in canvas pixels.
  virtual void Decode(const std::vector<cv::Mat>& outputs, float min_score, std::vector<cv::Rect2d>& boxes,
                      std::vector<float>& scores) const = 0;
  int side() const { return side_; }

 private:
  std::unique_ptr<infer::InferenceSession> session_;
  int side_;
};

class YuNetFaceDetector final : public SquareInputDetector {
 public:
  using SquareInputDetector::SquareInputDetector;

 protected:
  cv::Mat ToBlob(const cv::Mat& canvas) const override { return cv::dnn::blobFromImage(canvas); }  // NCHW, 0..255, BGR

  void Decode(const std::vector<cv::Mat>& outputs, float min_score, std::vector<cv::Rect2d>& boxes,
              std::vector<float>& scores) const override {
    const int levels = static_cast<int>(std::size(kStrides));
    for (int level = 0; level < levels; ++level) {
      const int stride = kStrides[level];
      const int cols = side() / stride;
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
        boxes.emplace_back(cx - w / 2, cy - h / 2, w, h);
        scores.push_back(score);
      }
    }
  }
};

// BlazeFace's anchor grids: (cells per side, anchors per cell).
constexpr std::pair<int, int> kBlazeGrids[] = {{16, 2}, {8, 6}};

infer::ModelSignature BlazeFaceSignature(int side) {
  return {{{"input:0", {1, side, side, 3}}},
          {{"Identity:0", {1, 512, 1}}, {"Identity_1:0", {1, 384, 1}},
           {"Identity_2:0", {1, 512, 16}}, {"Identity_3:0", {1, 384, 16}}}};
}

class BlazeFaceDetector final : public SquareInputDetector {
 public:
  using SquareInputDetector::SquareInputDetector;

 protected:
  cv::Mat ToBlob(const cv::Mat& canvas) const override {
    cv::Mat rgb;
    cv::cvtColor(canvas, rgb, cv::COLOR_BGR2RGB);
    cv::Mat normalised;
    rgb.convertTo(normalised, CV_32FC3, 2.0 / 255.0, -1.0);
    return normalised.reshape(1, {1, side(), side(), 3});  // NHWC: the pixels as they lie
  }

  void Decode(const std::vector<cv::Mat>& outputs, float min_score, std::vector<cv::Rect2d>& boxes,
              std::vector<float>& scores) const override {
    for (std::size_t level = 0; level < std::size(kBlazeGrids); ++level) {
      const auto [cells, per_cell] = kBlazeGrids[level];
      const float* logits = outputs[level].ptr<float>();
      const float* regressors = outputs[level + 2].ptr<float>();
      for (int i = 0; i < cells * cells * per_cell; ++i) {
        const float score = 1.0f / (1.0f + std::exp(-std::clamp(logits[i], -100.0f, 100.0f)));
        if (score < min_score) continue;
        const int cell = i / per_cell;
        const float* r = regressors + 16 * i;
        const double cx = ((cell % cells) + 0.5) / cells * side() + r[0];
        const double cy = ((cell / cells) + 0.5) / cells * side() + r[1];
        boxes.emplace_back(cx - r[2] / 2, cy - r[3] / 2, r[2], r[3]);
        scores.push_back(score);
      }
    }
  }
};

infer::ModelSignature ScrfdSignature(int side) {
  infer::ModelSignature signature{{{"input.1", {1, 3, side, side}}}, {}};
  for (const int width : {1, 4, 10}) {
    for (const int stride : kStrides) signature.outputs.push_back({"", {2 * (side / stride) * (side / stride), width}});
  }
  return signature;
}

class ScrfdFaceDetector final : public SquareInputDetector {
 public:
  using SquareInputDetector::SquareInputDetector;

 protected:
  cv::Mat ToBlob(const cv::Mat& canvas) const override {
    return cv::dnn::blobFromImage(canvas, 1.0 / 128, {}, cv::Scalar::all(127.5));
  }

  void Decode(const std::vector<cv::Mat>& outputs, float min_score, std::vector<cv::Rect2d>& boxes,
              std::vector<float>& scores) const override {
    constexpr int kAnchorsPerCell = 2;
    const int levels = static_cast<int>(std::size(kStrides));
    for (int level = 0; level < levels; ++level) {
      const int stride = kStrides[level];
      const int cols = side() / stride;
      const float* score = outputs[static_cast<std::size_t>(level)].ptr<float>();
      const float* distance = outputs[static_cast<std::size_t>(levels + level)].ptr<float>();
      for (int i = 0; i < cols * cols * kAnchorsPerCell; ++i) {
        if (score[i] < min_score) continue;
        const int cell = i / kAnchorsPerCell;
        const double x = (cell % cols) * stride, y = (cell / cols) * stride;
        const float* d = distance + 4 * i;
        boxes.emplace_back(cv::Point2d(x - d[0] * stride, y - d[1] * stride),
                           cv::Point2d(x + d[2] * stride, y + d[3] * stride));
        scores.push_back(score[i]);
      }
    }
  }
};

constexpr int kYoloSide = 640;

infer::ModelSignature YoloFaceSignature() {
  int candidates = 0;
  for (const int stride : kStrides) candidates += (kYoloSide / stride) * (kYoloSide / stride);
  return {{{"images", {1, 3, kYoloSide, kYoloSide}}}, {{"output0", {1, 20, candidates}}}};
}

class YoloFaceDetector final : public SquareInputDetector {
 public:
  using SquareInputDetector::SquareInputDetector;

 protected:
  cv::Mat ToBlob(const cv::Mat& canvas) const override { return cv::dnn::blobFromImage(canvas, 1.0 / 255); }

  void Decode(const std::vector<cv::Mat>& outputs, float min_score, std::vector<cv::Rect2d>& boxes,
              std::vector<float>& scores) const override {
    const cv::Mat& rows = outputs.front();
    const int n = rows.size[2];
    const float* cx = rows.ptr<float>();
    const float* cy = cx + n;
    const float* w = cy + n;
    const float* h = w + n;
    const float* score = h + n;
    for (int i = 0; i < n; ++i) {
      if (score[i] < min_score) continue;
      boxes.emplace_back(cx[i] - w[i] / 2, cy[i] - h[i] / 2, w[i], h[i]);
      scores.push_back(score[i]);
    }
  }
};

template <typename Detector>
Result<std::unique_ptr<FaceDetector>> Load(const std::filesystem::path& onnx, const infer::ModelSignature& signature,
                                           int side) {
  SWAPLINE_ASSIGN_OR_RETURN(auto session, infer::InferenceSession::Load(onnx, signature));
  return std::unique_ptr<FaceDetector>(std::make_unique<Detector>(std::move(session), side));
}

}  // namespace

Result<std::unique_ptr<FaceDetector>> NewYuNetFaceDetector(const std::filesystem::path& onnx, int side) {
  if (side != 320 && side != 640) return InvalidArgument("YuNet models take 320 or 640 px inputs");
  return Load<YuNetFaceDetector>(onnx, YuNetSignature(side), side);
}

Result<std::unique_ptr<FaceDetector>> NewBlazeFaceDetector(const std::filesystem::path& onnx, int side) {
  if (side != 128 && side != 256) return InvalidArgument("BlazeFace models take 128 (front) or 256 (back) px inputs");
  return Load<BlazeFaceDetector>(onnx, BlazeFaceSignature(side), side);
}

Result<std::unique_ptr<FaceDetector>> NewScrfdFaceDetector(const std::filesystem::path& onnx, int side) {
  if (side < 160 || side > 1280 || side % 32 != 0) {
    return InvalidArgument("SCRFD and RetinaFace models take square inputs of 160 to 1280 px in steps of 32");
  }
  return Load<ScrfdFaceDetector>(onnx, ScrfdSignature(side), side);
}

Result<std::unique_ptr<FaceDetector>> NewYoloFaceDetector(const std::filesystem::path& onnx) {
  return Load<YoloFaceDetector>(onnx, YoloFaceSignature(), kYoloSide);
}

Result<std::unique_ptr<FaceDetector>> LoadFaceDetector(std::string_view architecture,
                                                       const std::filesystem::path& onnx, int side) {
  if (architecture == "yunet") return NewYuNetFaceDetector(onnx, side);
  if (architecture == "blazeface") return NewBlazeFaceDetector(onnx, side);
  if (architecture == "scrfd") return NewScrfdFaceDetector(onnx, side);
  if (architecture == "yolo_face") return NewYoloFaceDetector(onnx);
  return InvalidArgument("no face detector of architecture '" + std::string(architecture) + "'");
}

}  // namespace swapline::vision
