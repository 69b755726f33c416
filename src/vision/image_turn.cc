#include "vision/image_turn.h"

#include <algorithm>
#include <string>

#include <opencv2/core.hpp>

namespace swapline::vision {
namespace {

cv::Rect2f Bounds(cv::Point2f a, cv::Point2f b) {
  return {cv::Point2f(std::min(a.x, b.x), std::min(a.y, b.y)), cv::Point2f(std::max(a.x, b.x), std::max(a.y, b.y))};
}

}  // namespace

Status CheckDetectorAngles(const std::vector<int>& angles) {
  if (angles.empty()) return InvalidArgument("--face-detector-angles needs at least one angle");
  for (auto it = angles.begin(); it != angles.end(); ++it) {
    const bool quarter_turn = *it == 0 || *it == 90 || *it == 180 || *it == 270;
    if (!quarter_turn || std::find(angles.begin(), it, *it) != it) {
      return InvalidArgument("--face-detector-angles takes distinct values of 0, 90, 180 and 270, got " +
                             std::to_string(*it));
    }
  }
  return Status::Ok();
}

cv::Mat TurnClockwise(const cv::Mat& image, int angle) {
  if (angle == 0) return image;
  cv::Mat turned;
  cv::rotate(image, turned,
             angle == 90 ? cv::ROTATE_90_CLOCKWISE : angle == 180 ? cv::ROTATE_180 : cv::ROTATE_90_COUNTERCLOCKWISE);
  return turned;
}

cv::Point2f ToTurned(cv::Point2f p, cv::Size size, int angle) {
  const auto w = static_cast<float>(size.width), h = static_cast<float>(size.height);
  switch (angle) {
    case 90: return {h - p.y, p.x};
    case 180: return {w - p.x, h - p.y};
    case 270: return {p.y, w - p.x};
    default: return p;
  }
}

cv::Point2f FromTurned(cv::Point2f p, cv::Size size, int angle) {
  const auto w = static_cast<float>(size.width), h = static_cast<float>(size.height);
  switch (angle) {
    case 90: return {p.y, h - p.x};
    case 180: return {w - p.x, h - p.y};
    case 270: return {w - p.y, p.x};
    default: return p;
  }
}

cv::Rect2f ToTurned(const cv::Rect2f& box, cv::Size size, int angle) {
  return Bounds(ToTurned(box.tl(), size, angle), ToTurned(box.br(), size, angle));
}

cv::Rect2f FromTurned(const cv::Rect2f& box, cv::Size size, int angle) {
  return Bounds(FromTurned(box.tl(), size, angle), FromTurned(box.br(), size, angle));
}

}  // namespace swapline::vision
