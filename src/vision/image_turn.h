// Quarter turns of an image, and where a point or box of the image lies in a turned
// copy and back. FaceFusion's --face-detector-angles detect faces lying on their side
// or upside down on such copies; their landmarks are marked upright in one too.
//
// `angle` is clockwise in degrees: 0, 90, 180 or 270 (REQUIRES). Coordinates are
// continuous pixels (a pixel's top-left corner at integer values), so the maps are
// exact inverses of each other.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"

namespace swapline::vision {

// OK when `angles` is a non-empty list of distinct quarter turns; otherwise an
// InvalidArgument naming --face-detector-angles, the option that carries them.
Status CheckDetectorAngles(const std::vector<int>& angles);

// A copy of `image` turned clockwise by `angle` (the same image for 0).
cv::Mat TurnClockwise(const cv::Mat& image, int angle);

// `point` of an image of `size` → the same point in its copy turned by `angle`.
cv::Point2f ToTurned(cv::Point2f point, cv::Size size, int angle);
// A point of the turned copy → the image of `size` (the unturned size).
cv::Point2f FromTurned(cv::Point2f point, cv::Size size, int angle);
cv::Rect2f ToTurned(const cv::Rect2f& box, cv::Size size, int angle);
cv::Rect2f FromTurned(const cv::Rect2f& box, cv::Size size, int angle);

}  // namespace swapline::vision
