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

AreaReduction ReduceArea(const cv::Mat& image, double scale) {
  const cv::Size size(std::max(1, cvRound(image.cols * scale)), std::max(1, cvRound(image.rows * scale)));
  const AreaReduction blocks = ReduceByBlocks(image, std::max(1, static_cast<int>(1.0 / scale)));
  const cv::Size covered = blocks.covered;
  cv::Mat reduced = blocks.image;
  if (reduced.size() != size) cv::resize(blocks.image, reduced, size, 0, 0, cv::INTER_AREA);
  return {reduced, covered,
          {static_cast<float>(size.width) / static_cast<float>(covered.width),
           static_cast<float>(size.height) / static_cast<float>(covered.height)}};
}

AreaReduction ReduceByHalves(const cv::Mat& image, double scale) {
  const cv::Size size(std::max(1, cvRound(image.cols * scale)), std::max(1, cvRound(image.rows * scale)));
  cv::Mat reduced = image;
  int factor = 1;  // input pixels per side of a pixel of `reduced`
  while (reduced.cols >= 2 * size.width && reduced.rows >= 2 * size.height) {
    const cv::Size even(reduced.cols / 2 * 2, reduced.rows / 2 * 2);
    cv::Mat half;
    cv::resize(reduced(cv::Rect(cv::Point(0, 0), even)), half, even / 2, 0, 0, cv::INTER_AREA);
    reduced = half;
    factor *= 2;
  }
  const cv::Size covered(reduced.cols * factor, reduced.rows * factor);
  if (reduced.size() != size) {
    cv::Mat rest;
    cv::resize(reduced, rest, size, 0, 0, cv::INTER_LINEAR);
    reduced = rest;
  }
  return {reduced, covered,
          {static_cast<float>(size.width) / static_cast<float>(covered.width),
           static_cast<float>(size.height) / static_cast<float>(covered.height)}};
}

}  // namespace swapline::vision
