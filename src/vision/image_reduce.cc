#include "vision/image_reduce.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

namespace swapline::vision {

AreaReduction ReduceByBlocks(const cv::Mat& image, int whole) {
  if (whole < 2 || image.cols < whole || image.rows < whole) return {image, image.size(), {1.0f, 1.0f}};
  const cv::Size covered(image.cols / whole * whole, image.rows / whole * whole);
  cv::Mat blocks;
  cv::resize(image(cv::Rect(cv::Point(0, 0), covered)), blocks, covered / whole, 0, 0, cv::INTER_AREA);
  const float scale = 1.0f / static_cast<float>(whole);
  return {blocks, covered, {scale, scale}};
}

namespace {

cv::Size ReducedSize(const cv::Mat& image, double scale) {
  return {std::max(1, cvRound(image.cols * scale)), std::max(1, cvRound(image.rows * scale))};
}

// `reduced`, which averages the `covered` corner of the input, scaled the rest of the
// way to `size` by `interpolation`.
AreaReduction ScaleRest(cv::Mat reduced, cv::Size covered, cv::Size size, int interpolation) {
  if (reduced.size() != size) {
    cv::Mat rest;
    cv::resize(reduced, rest, size, 0, 0, interpolation);
    reduced = rest;
  }
  return {reduced, covered,
          {static_cast<float>(size.width) / static_cast<float>(covered.width),
           static_cast<float>(size.height) / static_cast<float>(covered.height)}};
}

}  // namespace

AreaReduction ReduceArea(const cv::Mat& image, double scale) {
  const AreaReduction blocks = ReduceByBlocks(image, std::max(1, static_cast<int>(1.0 / scale)));
  return ScaleRest(blocks.image, blocks.covered, ReducedSize(image, scale), cv::INTER_AREA);
}

AreaReduction ReduceByHalves(const cv::Mat& image, double scale) {
  const cv::Size size = ReducedSize(image, scale);
  cv::Mat reduced = image;
  int factor = 1;  // input pixels per side of a pixel of `reduced`
  while (reduced.cols >= 2 * size.width && reduced.rows >= 2 * size.height) {
    reduced = ReduceByBlocks(reduced, 2).image;
    factor *= 2;
  }
  return ScaleRest(reduced, reduced.size() * factor, size, cv::INTER_LINEAR);
}

}  // namespace swapline::vision
