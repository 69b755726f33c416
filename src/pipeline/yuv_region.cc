#include "pipeline/yuv_region.h"

#include <cstring>

#include <opencv2/imgproc.hpp>

namespace swapline::pipeline {

cv::Rect EvenRegion(const cv::Rect& roi, cv::Size frame) {
  // Only whole 2x2 chroma blocks: frames with odd sizes lose their last row/column.
  const int max_x = frame.width & ~1, max_y = frame.height & ~1;
  const int x0 = std::clamp(roi.x & ~1, 0, max_x), y0 = std::clamp(roi.y & ~1, 0, max_y);
  const int x1 = std::clamp((roi.x + roi.width + 1) & ~1, 0, max_x);
  const int y1 = std::clamp((roi.y + roi.height + 1) & ~1, 0, max_y);
  return {x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
}

cv::Mat RegionToBgr(const media::VideoFrame& frame, const cv::Rect& roi) {
  const int w = roi.width, h = roi.height;
  // OpenCV's I420 layout: h rows of Y, then U and V, each (w/2)x(h/2), packed.
  cv::Mat i420(h * 3 / 2, w, CV_8U);
  for (int y = 0; y < h; ++y) std::memcpy(i420.ptr(y), frame.y.ptr(roi.y + y) + roi.x, static_cast<std::size_t>(w));
  std::uint8_t* u = i420.ptr(h);
  std::uint8_t* v = u + (w / 2) * (h / 2);
  for (int y = 0; y < h / 2; ++y) {
    std::memcpy(u + y * (w / 2), frame.u.ptr(roi.y / 2 + y) + roi.x / 2, static_cast<std::size_t>(w / 2));
    std::memcpy(v + y * (w / 2), frame.v.ptr(roi.y / 2 + y) + roi.x / 2, static_cast<std::size_t>(w / 2));
  }
  cv::Mat bgr;
  cv::cvtColor(i420, bgr, cv::COLOR_YUV2BGR_I420);
  return bgr;
}

void WriteChangedRegion(media::VideoFrame& frame, const cv::Rect& roi, const cv::Mat& bgr, const cv::Mat& original) {
  const int w = roi.width, h = roi.height;
  cv::Mat diff;
  cv::absdiff(bgr, original, diff);
  cv::Mat changed;
  cv::transform(diff, changed, cv::Matx13f(1, 1, 1));  // any channel differs → > 0
  cv::Mat i420;
  cv::cvtColor(bgr, i420, cv::COLOR_BGR2YUV_I420);
  const std::uint8_t* u = i420.ptr(h);
  const std::uint8_t* v = u + (w / 2) * (h / 2);
  for (int y = 0; y < h; y += 2) {
    const std::uint8_t* c0 = changed.ptr(y);
    const std::uint8_t* c1 = changed.ptr(y + 1);
    std::uint8_t* y0 = frame.y.ptr(roi.y + y) + roi.x;
    std::uint8_t* y1 = frame.y.ptr(roi.y + y + 1) + roi.x;
    const std::uint8_t* n0 = i420.ptr(y);
    const std::uint8_t* n1 = i420.ptr(y + 1);
    std::uint8_t* fu = frame.u.ptr(roi.y / 2 + y / 2) + roi.x / 2;
    std::uint8_t* fv = frame.v.ptr(roi.y / 2 + y / 2) + roi.x / 2;
    for (int x = 0; x < w; x += 2) {
      bool any = false;
      for (int dx = 0; dx < 2; ++dx) {
        if (c0[x + dx]) { y0[x + dx] = n0[x + dx]; any = true; }
        if (c1[x + dx]) { y1[x + dx] = n1[x + dx]; any = true; }
      }
      if (any) {
        const int k = (y / 2) * (w / 2) + x / 2;
        fu[x / 2] = u[k];
        fv[x / 2] = v[k];
      }
    }
  }
}

}  // namespace swapline::pipeline
