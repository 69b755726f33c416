#include "vision/image_reduce.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

namespace swapline::vision {
namespace {

// A smooth ramp: 0.2 grey levels per pixel across, 0.1 down, so any reduction's pixel
// shows where in the input its centre lies.
cv::Mat Ramp(cv::Size size) {
  cv::Mat ramp(size, CV_32F);
  for (int y = 0; y < size.height; ++y) {
    for (int x = 0; x < size.width; ++x) ramp.at<float>(y, x) = 0.2f * static_cast<float>(x) + 0.1f * static_cast<float>(y);
  }
  return ramp;
}

TEST(ReduceByHalvesTest, PixelCentresMapAsTheScaleSaysForEveryFactor) {
  const cv::Mat ramp = Ramp({1201, 1079});
  for (const double scale : {1.0, 0.9, 0.5, 0.41, 0.29, 0.25, 0.13}) {
    const AreaReduction reduced = ReduceByHalves(ramp, scale);
    ASSERT_EQ(reduced.image.cols, cvRound(ramp.cols * scale)) << scale;
    ASSERT_EQ(reduced.image.rows, cvRound(ramp.rows * scale)) << scale;
    EXPECT_LE(reduced.covered.width, ramp.cols);
    EXPECT_LE(reduced.covered.height, ramp.rows);
    // More than half the factor is whole blocks: at most one pixel in a factor's
    // worth is left out at the right and bottom.
    EXPECT_GT(reduced.covered.width, ramp.cols - 1.0 / scale) << scale;
    double worst = 0;
    for (int y = 0; y < reduced.image.rows; y += 7) {
      for (int x = 0; x < reduced.image.cols; x += 7) {
        const float input_x = (static_cast<float>(x) + 0.5f) / reduced.scale.x - 0.5f;
        const float input_y = (static_cast<float>(y) + 0.5f) / reduced.scale.y - 0.5f;
        const double expected = 0.2 * input_x + 0.1 * input_y;
        worst = std::max(worst, std::abs(reduced.image.at<float>(y, x) - expected));
      }
    }
    EXPECT_LT(worst, 1e-2) << "scale " << scale;
  }
}

TEST(ReduceByHalvesTest, AveragesAwayDetailFinerThanTheResult) {
  // One-pixel stripes, 0 and 200: every reduction by 3.5 is a mid grey; bilinear
  // sampling alone would keep stripes.
  cv::Mat stripes(700, 700, CV_8U);
  for (int x = 0; x < stripes.cols; ++x) stripes.col(x).setTo(x % 2 ? 200 : 0);
  const AreaReduction reduced = ReduceByHalves(stripes, 1 / 3.5);
  double low = 0, high = 0;
  cv::minMaxLoc(reduced.image, &low, &high);
  EXPECT_GE(low, 99);
  EXPECT_LE(high, 101);
  // The view of the input itself when nothing is reduced.
  EXPECT_EQ(ReduceByHalves(stripes, 1.0).image.data, stripes.data);
}

}  // namespace
}  // namespace swapline::vision
