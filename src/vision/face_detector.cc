#include "vision/face_detector.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include <dlib/image_processing/frontal_face_detector.h>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/dlib_kernels.h"
#include "vision/frontal_face_detector_data.h"
#include "vision/image_turn.h"

namespace swapline::vision {
namespace {

constexpr double kMaxUpscale = 2.0;
// DetectNear: the HOG scan of a face's surroundings makes its box this wide; its
// window is 80 px, so the face is found at the first pyramid levels (100, 83 px).
constexpr double kNearBoxSide = 100.0;

// The region DetectNear searches: `box` grown by half its size on every side, within
// the image.
cv::Rect NearRegion(const cv::Rect2f& box, cv::Size image) {
  const cv::Rect2f grown(box.x - box.width / 2, box.y - box.height / 2, box.width * 2, box.height * 2);
  return cv::Rect(cv::Point(static_cast<int>(std::floor(grown.x)), static_cast<int>(std::floor(grown.y))),
                  cv::Point(static_cast<int>(std::ceil(grown.br().x)), static_cast<int>(std::ceil(grown.br().y)))) &
         cv::Rect(cv::Point(0, 0), image);
}

// `found` in the image `region` was cut from.
std::vector<Detection> FromRegion(std::vector<Detection> found, const cv::Rect& region) {
  for (Detection& d : found) {
    d.box.x += static_cast<float>(region.x);
    d.box.y += static_cast<float>(region.y);
  }
  return found;
}
// SVM margin reported as score 0.5. dlib's own threshold (margin 0) lets through
// face-like patterns (a mission patch on the tilted test portrait scores 0.03), while
// every real test face, small and partial ones included, scores above 0.55.
constexpr double kMarginAtHalfScore = 0.25;

double MarginForScore(float score) {
  const double s = std::clamp(static_cast<double>(score), 1e-4, 1.0 - 1e-4);
  return kMarginAtHalfScore + std::log(s / (1.0 - s)) / 2.0;
}

float ScoreForMargin(double margin) {
  return static_cast<float>(1.0 / (1.0 + std::exp(-2.0 * (margin - kMarginAtHalfScore))));
}

// dlib's detector as decoded at build time (vision/frontal_face_detector_data.h), read
// once per process; each detector copies it.
const dlib::frontal_face_detector& DecodedFrontalFaceDetector() {
  static const dlib::frontal_face_detector decoded = [] {
    std::istringstream in(std::string(reinterpret_cast<const char*>(kSerializedFrontalFaceDetector),
                                      kSerializedFrontalFaceDetectorSize));
    dlib::frontal_face_detector detector;
    dlib::deserialize(detector, in);
    return detector;
  }();
  return decoded;
}

Status CheckDetectorInput(const cv::Mat& image) {
  if (image.empty() || (image.type() != CV_8UC3 && image.type() != CV_8UC1)) {
    return InvalidArgument("detector needs an 8-bit BGR or grey image");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Detection>> FaceDetector::DetectNear(const cv::Mat& bgr, const cv::Rect2f& box, float min_score) {
  SWAPLINE_RETURN_IF_ERROR(CheckDetectorInput(bgr));
  const cv::Rect region = NearRegion(box, bgr.size());
  if (region.width < 2 || region.height < 2) return std::vector<Detection>{};
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<Detection> found, Detect(bgr(region), min_score));
  return FromRegion(std::move(found), region);
}

namespace {

class HogFaceDetector final : public FaceDetector {
 public:
  explicit HogFaceDetector(const HogFaceDetectorOptions& options)
      : options_(options), detector_(DecodedFrontalFaceDetector()) {}

  Result<std::vector<Detection>> Detect(const cv::Mat& bgr, float min_score) override {
    SWAPLINE_RETURN_IF_ERROR(CheckDetectorInput(bgr));
    const int longest = std::max(bgr.cols, bgr.rows);
    return Scan(bgr, std::min(kMaxUpscale, static_cast<double>(options_.detect_side) / longest), min_score);
  }

  Result<std::vector<Detection>> DetectNear(const cv::Mat& bgr, const cv::Rect2f& box, float min_score) override {
    SWAPLINE_RETURN_IF_ERROR(CheckDetectorInput(bgr));
    const cv::Rect region = NearRegion(box, bgr.size());
    const double scale = std::min(kMaxUpscale, kNearBoxSide / std::max(1.0f, box.width));
    if (region.width * scale < kNearBoxSide || region.height * scale < kNearBoxSide) return std::vector<Detection>{};
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<Detection> found, Scan(bgr(region), scale, min_score));
    return FromRegion(std::move(found), region);
  }

 private:
  // The faces of `bgr` scanned at `scale`, in `bgr`'s pixels.
  Result<std::vector<Detection>> Scan(const cv::Mat& bgr, double scale, float min_score) {
    // HOG works on intensity; one grey conversion at the scanned size is the cheapest input.
    cv::Mat scaled;
    if (std::abs(scale - 1.0) > 1e-3) {
      cv::resize(bgr, scaled, cv::Size(), scale, scale, scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
    } else {
      scaled = bgr;
    }
    cv::Mat grey;
    if (scaled.channels() == 3) {
      cv::cvtColor(scaled, grey, cv::COLOR_BGR2GRAY);
    } else {
      grey = scaled;
    }
    std::vector<dlib::rect_detection> found;
    try {
      dlib_kernels::Active().scan_faces(detector_, grey, MarginForScore(min_score), found);
    } catch (const std::exception& e) {
      return Internal(std::string("face detection failed: ") + e.what());
    }
    std::vector<Detection> detections;
    detections.reserve(found.size());
    for (const auto& d : found) {
      const auto& r = d.rect;
      Detection det;
      det.box = cv::Rect2f(static_cast<float>(r.left() / scale), static_cast<float>(r.top() / scale),
                           static_cast<float>(r.width() / scale), static_cast<float>(r.height() / scale));
      det.score = ScoreForMargin(d.detection_confidence);
      if (det.score >= min_score) detections.push_back(det);
    }
    return detections;
  }

  HogFaceDetectorOptions options_;
  dlib::frontal_face_detector detector_;
};

}  // namespace

std::unique_ptr<FaceDetector> NewHogFaceDetector(const HogFaceDetectorOptions& options) {
  return std::make_unique<HogFaceDetector>(options);
}

namespace {

class TurningFaceDetector final : public FaceDetector {
 public:
  TurningFaceDetector(std::unique_ptr<FaceDetector> detector, std::vector<int> angles)
      : detector_(std::move(detector)), angles_(std::move(angles)) {}

  Result<std::vector<Detection>> Detect(const cv::Mat& image, float min_score) override {
    std::vector<Detection> all;
    for (const int angle : angles_) {
      SWAPLINE_ASSIGN_OR_RETURN(std::vector<Detection> found, detector_->Detect(TurnClockwise(image, angle), min_score));
      for (Detection& d : found) {
        d.box = FromTurned(d.box, image.size(), angle);
        d.angle = angle;
        all.push_back(d);
      }
    }
    if (angles_.size() == 1) return all;
    // A face found at two angles (a tilted one at 0 and 90) is kept once, at its best;
    // FaceFusion's overlap threshold for four angles.
    std::vector<cv::Rect2d> boxes;
    std::vector<float> scores;
    for (const Detection& d : all) {
      boxes.emplace_back(d.box);
      scores.push_back(d.score);
    }
    std::vector<int> kept;
    cv::dnn::NMSBoxes(boxes, scores, min_score, kAcrossAnglesIou, kept);
    std::vector<Detection> best;
    for (const int i : kept) best.push_back(all[static_cast<std::size_t>(i)]);
    return best;
  }

 private:
  static constexpr float kAcrossAnglesIou = 0.1f;
  std::unique_ptr<FaceDetector> detector_;
  std::vector<int> angles_;
};

}  // namespace

Result<std::unique_ptr<FaceDetector>> NewTurningFaceDetector(std::unique_ptr<FaceDetector> detector,
                                                             const std::vector<int>& angles) {
  if (Status checked = CheckDetectorAngles(angles); !checked.ok()) return checked;
  return std::unique_ptr<FaceDetector>(std::make_unique<TurningFaceDetector>(std::move(detector), angles));
}

namespace {

class MarginFaceDetector final : public FaceDetector {
 public:
  MarginFaceDetector(std::unique_ptr<FaceDetector> detector, const std::array<float, 4>& margin)
      : detector_(std::move(detector)), margin_(margin) {}

  Result<std::vector<Detection>> Detect(const cv::Mat& image, float min_score) override {
    // Percent of half the side: 100 pads by half the image.
    auto pad = [](float percent, int side) { return static_cast<int>(side * percent / 200.0f); };
    const int top = pad(margin_[0], image.rows), right = pad(margin_[1], image.cols);
    const int bottom = pad(margin_[2], image.rows), left = pad(margin_[3], image.cols);
    cv::Mat padded;
    cv::copyMakeBorder(image, padded, top, bottom, left, right, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<Detection> found, detector_->Detect(padded, min_score));
    std::vector<Detection> kept;
    const cv::Rect2f frame(0, 0, static_cast<float>(image.cols), static_cast<float>(image.rows));
    for (Detection& d : found) {
      d.box.x -= static_cast<float>(left);
      d.box.y -= static_cast<float>(top);
      // A "face" wholly in the padding is no face of the image.
      if ((d.box & frame).area() > 0) kept.push_back(d);
    }
    return kept;
  }

 private:
  std::unique_ptr<FaceDetector> detector_;
  std::array<float, 4> margin_;
};

}  // namespace

Status CheckDetectorMargin(const std::array<float, 4>& margin) {
  for (const float m : margin) {
    if (!(m >= 0.0f && m <= 100.0f)) return InvalidArgument("--face-detector-margin values must be 0..100");
  }
  return Status::Ok();
}

Result<std::unique_ptr<FaceDetector>> NewMarginFaceDetector(std::unique_ptr<FaceDetector> detector,
                                                            const std::array<float, 4>& margin) {
  SWAPLINE_RETURN_IF_ERROR(CheckDetectorMargin(margin));
  return std::unique_ptr<FaceDetector>(std::make_unique<MarginFaceDetector>(std::move(detector), margin));
}

}  // namespace swapline::vision
