#include "vision/image_reduce.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

namespace swapline::vision {

AreaReduction ReduceArea(const cv::Mat& image, double scale) {
  const cv::Size size(std::max(1, cvRound(image.cols * scale)), std::max(1, cvRound(image.rows * scale)));
  const int whole = std::max(1, static_cast<int>(1.0 / scale));
  cv::Size covered = image.size();
  cv::Mat blocks = image;
  if (whole >= 2 && image.cols >= whole && image.rows >= whole) {
    covered = cv::Size(image.cols / whole * whole, image.rows / whole * whole);
    cv::resize(image(cv::Rect(cv::Point(0, 0), covered)), blocks, cv::Size(covered.width / whole, covered.height / whole),
               0, 0, cv::INTER_AREA);
  }
  cv::Mat reduced = blocks;
  if (blocks.size() != size) cv::resize(blocks, reduced, size, 0, 0, cv::INTER_AREA);
  return {reduced, covered,
          {static_cast<float>(size.width) / static_cast<float>(covered.width),
           static_cast<float>(size.height) / static_cast<float>(covered.height)}};
}

}  // namespace swapline::vision
