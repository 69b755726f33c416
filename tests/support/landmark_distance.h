// Landmark comparisons shared by the tests that link the vision layer.
#pragma once

#include <opencv2/core.hpp>

#include "vision/face.h"

namespace swapline::testing {

// The mean distance between the corresponding points of two 68-point sets, pixels.
inline double MeanLandmarkDistance(const vision::Landmarks68& a, const vision::Landmarks68& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += cv::norm(a[i] - b[i]);
  return sum / static_cast<double>(a.size());
}

}  // namespace swapline::testing
