#include "vision/face_motion.h"

#include <algorithm>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include "vision/face_masker.h"
#include "vision/image_reduce.h"

namespace swapline::vision {
namespace {

// The face's width in the remembered patch: corners a few patch pixels apart, followed
// to a tenth of a patch pixel, fix a similarity far finer than a landmark fit.
constexpr float kMotionSide = 256.0f;
// The patch reaches this share of the landmarks' bounds beyond them on each side, so
// that corners near the outline still find their window in the next frame.
constexpr float kMotionMargin = 0.15f;
constexpr int kMaxCorners = 80;
// Fewer corners than this, followed or agreeing, measure no motion.
constexpr std::size_t kMinCorners = 12;
// A followed corner off the fitted motion by more than this (patch pixels) is an outlier.
constexpr double kInlierDistance = 1.0;
// A motion that moves no corner by this much (frame pixels) is none (see Measure).
constexpr double kStillMotion = 1e-3;

// `region` of `frame` reduced by `scale`, a copy of its own, by halves (OpenCV's
// general area path cost more than the rest of the motion on a face that filled a
// 1080p frame; its whole-block path, still a third of it).
AreaReduction Cut(const cv::Mat& frame, const cv::Rect& region, double scale) {
  AreaReduction cut = ReduceByHalves(frame(region), scale);
  if (cut.image.size() == region.size()) cut.image = cut.image.clone();  // unreduced: the frame's own pixels
  return cut;
}

}  // namespace

void FaceMotion::Remember(const cv::Mat& frame, const Landmarks68& face) {
  CV_Assert(frame.type() == CV_8UC1);
  corners_.clear();
  const cv::Rect2f bounds = cv::boundingRect(std::vector<cv::Point2f>(face.begin(), face.end()));
  const float dx = bounds.width * kMotionMargin, dy = bounds.height * kMotionMargin;
  region_ = cv::Rect(cvFloor(bounds.x - dx), cvFloor(bounds.y - dy), cvCeil(bounds.width + 2 * dx),
                     cvCeil(bounds.height + 2 * dy)) &
            cv::Rect(0, 0, frame.cols, frame.rows);
  if (region_.width < 16 || region_.height < 16) {
    Forget();
    return;
  }
  scale_ = std::min(1.0, static_cast<double>(kMotionSide) / std::max(FaceWidth(face), 1.0f));
  const AreaReduction cut = Cut(frame, region_, scale_);
  patch_ = cut.image;
  patch_scale_ = cut.scale;

  // Corners inside the face's outline: the background may move otherwise.
  std::vector<cv::Point2f> outline;
  for (const cv::Point2f& p : face) {
    outline.emplace_back((p.x - static_cast<float>(region_.x)) * patch_scale_.x,
                         (p.y - static_cast<float>(region_.y)) * patch_scale_.y);
  }
  std::vector<cv::Point2f> hull;
  cv::convexHull(outline, hull);
  cv::Mat inside = cv::Mat::zeros(patch_.size(), CV_8U);
  cv::fillConvexPoly(inside, RoundedPoints(hull), cv::Scalar(255));
  cv::goodFeaturesToTrack(patch_, corners_, kMaxCorners, 0.01, kMotionSide / 32, inside);
}

std::optional<cv::Matx23d> FaceMotion::Measure(const cv::Mat& frame) const {
  CV_Assert(frame.type() == CV_8UC1);
  if (patch_.empty() || corners_.size() < kMinCorners) return std::nullopt;
  if ((region_ & cv::Rect(0, 0, frame.cols, frame.rows)) != region_) return std::nullopt;
  const cv::Mat next = Cut(frame, region_, scale_).image;
  std::vector<cv::Point2f> moved;
  std::vector<std::uint8_t> found;
  std::vector<float> error;
  cv::calcOpticalFlowPyrLK(patch_, next, corners_, moved, found, error, cv::Size(21, 21), 3,
                           cv::TermCriteria(cv::TermCriteria::COUNT | cv::TermCriteria::EPS, 20, 0.01));
  // Both ends in frame pixels (pixel centres map onto pixel centres, as cv::resize does).
  auto to_frame = [&](cv::Point2f p) {
    return cv::Point2f((p.x + 0.5f) / patch_scale_.x - 0.5f + static_cast<float>(region_.x),
                       (p.y + 0.5f) / patch_scale_.y - 0.5f + static_cast<float>(region_.y));
  };
  std::vector<cv::Point2f> from, to;
  for (std::size_t i = 0; i < corners_.size(); ++i) {
    if (!found[i]) continue;
    from.push_back(to_frame(corners_[i]));
    to.push_back(to_frame(moved[i]));
  }
  if (from.size() < kMinCorners) return std::nullopt;
  std::vector<std::uint8_t> inliers;
  const cv::Mat motion =
      cv::estimateAffinePartial2D(from, to, inliers, cv::RANSAC, kInlierDistance / scale_, 2000, 0.99, 10);
  if (motion.empty()) return std::nullopt;
  const auto agreeing = static_cast<std::size_t>(std::count(inliers.begin(), inliers.end(), 1));
  if (agreeing < std::max(kMinCorners, from.size() / 2)) return std::nullopt;
  const cv::Matx23d similarity(motion.ptr<double>());
  // Below a thousandth of a pixel anywhere on the face, the pixels held still: exactly
  // no motion, so that a still face's landmarks come to rest exactly.
  const cv::Matx23d none(1, 0, 0, 0, 1, 0);
  for (const cv::Point2f& p : from) {
    if (cv::norm(Moved(similarity, p) - p) >= kStillMotion) return similarity;
  }
  return none;
}

}  // namespace swapline::vision
