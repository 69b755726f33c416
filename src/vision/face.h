// Face: what the analysers know about one face in one image.
//
// Coordinates are in pixels of the analysed image, x to the right, y down.
// Landmark sets are distinct types so that a 5-point set can never be passed where
// 68 points are expected. Point order follows the iBUG 300-W 68-point scheme
// (0-16 jaw, 17-21 and 22-26 brows, 27-35 nose, 36-41 and 42-47 eyes, 48-67 mouth)
// and, for 5 points, FaceFusion's order: left eye, right eye, nose tip, left mouth
// corner, right mouth corner ("left" as seen in the image).
#pragma once

#include <array>
#include <optional>
#include <vector>

#include <opencv2/core.hpp>

namespace swapline::vision {

using Landmarks5 = std::array<cv::Point2f, 5>;
using Landmarks68 = std::array<cv::Point2f, 68>;

// An identity embedding; compare two with the recognizer that made them.
struct Embedding {
  std::vector<float> values;
};

struct Detection {
  cv::Rect2f box;
  // 0..1; 0.5 is the detector's own default operating point.
  float score = 0.0f;
  // The face stands upright in the image turned clockwise by this many degrees (0, 90,
  // 180, 270): where it was found (NewTurningFaceDetector) and where it is marked.
  int angle = 0;
};

struct Face {
  cv::Rect2f box;
  float score = 0.0f;
  Landmarks68 landmarks68{};
  Landmarks5 landmarks5{};  // derived from landmarks68 (Landmarks5From68)
  std::optional<Embedding> embedding;  // set when a recognizer is configured
  // Wears glasses: set when decided for it (a video track's GlassesVote, when the
  // swapper keeps a target's glasses); unset, the swapper decides from the image.
  std::optional<bool> glasses;
};

// FaceFusion's 68→5 reduction: mean of 36-41, mean of 42-47, 30, 48, 54.
Landmarks5 Landmarks5From68(const Landmarks68& points);

// `points` less `offset`, rounded to whole pixels: the vertices OpenCV's polygon
// drawing takes.
inline std::vector<cv::Point> RoundedPoints(const std::vector<cv::Point2f>& points, cv::Point2f offset = {}) {
  std::vector<cv::Point> out;
  out.reserve(points.size());
  for (const auto& p : points) out.emplace_back(cvRound(p.x - offset.x), cvRound(p.y - offset.y));
  return out;
}

}  // namespace swapline::vision
