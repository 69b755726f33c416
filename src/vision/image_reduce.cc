#include "vision/image_reduce.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

namespace swapline::vision {

cv::Mat ReduceArea(const cv::Mat& image, double scale, cv::Size& covered) {
  const cv::Size size(std::max(1, cvRound(image.cols * scale)), std::max(1, cvRound(image.rows * scale)));
  const int whole = std::max(1, static_cast<int>(1.0 / scale));
  cv::Mat source = image;
  covered = image.size();
  if (whole >= 2 && image.cols >= whole && image.rows >= whole) {
    covered = cv::Size(image.cols / whole * whole, image.rows / whole * whole);
    cv::resize(image(cv::Rect(cv::Point(0, 0), covered)), source, cv::Size(covered.width / whole, covered.height / whole),
               0, 0, cv::INTER_AREA);
  }
  cv::Mat reduced = source;
  if (source.size() != size) cv::resize(source, reduced, size, 0, 0, cv::INTER_AREA);
  return reduced;
}

}  // namespace swapline::vision
