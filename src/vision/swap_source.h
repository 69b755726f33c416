// Internal to the swappers (vision/face_swapper.h, vision/neural_face_swapper.h): what
// a prepared source holds, and the working frame a face's region is processed in.
#pragma once

#include <algorithm>
#include <array>
#include <vector>

#include <opencv2/core.hpp>

#include "vision/face.h"
#include "vision/face_swapper.h"

namespace swapline::vision {

struct SwapSource {
  cv::Mat image;                    // the face crop (or the average of several)
  cv::Mat visible;                  // 8-bit, image's size: where the face shows its own
                                    // skin (CreateForeheadVisibilityMask), 255
  cv::Mat visible_without_glasses;  // `visible` less the source's own glasses frame,
                                    // empty when it wears none (SwapperOptions::keep_glasses)
  Landmarks68 landmarks;            // in `image`
  std::vector<cv::Point2f> points;  // SwapPoints(landmarks)
  std::vector<cv::Vec3i> triangles;
  std::vector<SourceImage> faces;   // the sources as given, for swappers that embed identities
};

// Longest side of the working face frame: the per-face work (warps, masks, tone,
// blending maths) runs at this resolution at most, so a face that fills a 4K frame
// costs what a 512 px face costs; only the final paste-back touches full resolution.
// 512 keeps the detail any source photo's face has in practice.
inline constexpr int kWorkSide = 512;

// A face's region of interest scaled down to the working resolution.
struct WorkFrame {
  cv::Rect roi;        // frame pixels
  double scale = 1.0;  // work pixels per frame pixel, <= 1
  cv::Size size;
  cv::Point2d origin;  // where the centre of work pixel (0, 0) lies in the frame

  // `region` resized to at most `max_side`: pixel centres map onto pixel centres, as
  // cv::resize does.
  explicit WorkFrame(const cv::Rect& region, int max_side = kWorkSide)
      : roi(region),
        scale(std::min(1.0, static_cast<double>(max_side) / std::max({region.width, region.height, 1}))),
        size(std::max(1, cvRound(region.width * scale)), std::max(1, cvRound(region.height * scale))),
        origin(region.x - 0.5 + 0.5 / scale, region.y - 0.5 + 0.5 / scale) {}

  // `size` work pixels at `scale` per frame pixel from `work_origin`, pasted into `region`.
  WorkFrame(const cv::Rect& region, double work_scale, cv::Size work_size, cv::Point2d work_origin)
      : roi(region), scale(work_scale), size(work_size), origin(work_origin) {}

  cv::Point2f ToWork(cv::Point2f p) const {
    return {static_cast<float>((p.x - origin.x) * scale), static_cast<float>((p.y - origin.y) * scale)};
  }
  template <std::size_t N>
  std::array<cv::Point2f, N> ToWork(const std::array<cv::Point2f, N>& points) const {
    std::array<cv::Point2f, N> out;
    std::transform(points.begin(), points.end(), out.begin(), [this](cv::Point2f p) { return ToWork(p); });
    return out;
  }
};

}  // namespace swapline::vision
