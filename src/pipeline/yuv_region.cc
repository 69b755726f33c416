#include "pipeline/yuv_region.h"

#include <cstring>

#include <opencv2/imgproc.hpp>

namespace swapline::pipeline {
namespace {

// BT.601 limited range, OpenCV's I420 coefficients (ITUR_BT_601_* / 2^20): rows B, G,
// R; columns Y, U, V, 1.
cv::Matx34f YuvToBgrMatrix() {
  constexpr float kY = 1220542.0f / (1 << 20), kUB = 2116026.0f / (1 << 20);
  constexpr float kUG = -409993.0f / (1 << 20), kVG = -852492.0f / (1 << 20), kVR = 1673527.0f / (1 << 20);
  return {kY, kUB, 0, -16 * kY - 128 * kUB,              //
          kY, kUG, kVG, -16 * kY - 128 * (kUG + kVG),   //
          kY, 0,   kVR, -16 * kY - 128 * kVR};
}

// Its exact inverse, so that a pixel read and pasted back unchanged keeps its value.
cv::Matx34f BgrToYuvMatrix() {
  const cv::Matx34f forward = YuvToBgrMatrix();
  cv::Matx44f square = cv::Matx44f::eye();
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 4; ++c) square(r, c) = forward(r, c);
  }
  const cv::Matx44f inverse = square.inv();
  return inverse.get_minor<3, 4>(0, 0);
}

cv::Rect ChromaRegion(const cv::Rect& roi) { return {roi.x / 2, roi.y / 2, roi.width / 2, roi.height / 2}; }

}  // namespace

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

cv::Mat ReadRegion(const media::VideoFrame& frame, const cv::Rect& roi, cv::Size size, int interpolation) {
  if (size == roi.size()) return RegionToBgr(frame, roi);
  const cv::Rect chroma = ChromaRegion(roi);
  cv::Mat planes[3];
  cv::resize(frame.y(roi), planes[0], size, 0, 0, interpolation);
  cv::resize(frame.u(chroma), planes[1], size, 0, 0, interpolation);
  cv::resize(frame.v(chroma), planes[2], size, 0, 0, interpolation);
  cv::Mat yuv, bgr;
  cv::merge(planes, 3, yuv);
  static const cv::Matx34f kToBgr = YuvToBgrMatrix();
  cv::transform(yuv, bgr, kToBgr);
  return bgr;
}

void PastePatch(media::VideoFrame& frame, const vision::SwapPatch& patch) {
  if (patch.face.empty()) return;
  static const cv::Matx34f kToYuv = BgrToYuvMatrix();
  cv::Mat yuv;
  cv::transform(patch.face, yuv, kToYuv);
  cv::Mat face_y(yuv.size(), CV_8U), face_uv(yuv.size(), CV_8UC2);
  const int split[] = {0, 0, 1, 1, 2, 2};
  cv::Mat outputs[] = {face_y, face_uv};
  cv::mixChannels(&yuv, 1, outputs, 2, split, 3);
  // Both chroma planes in one pass: the mask and motion are scaled once for the two.
  const cv::Rect chroma = ChromaRegion(patch.roi);
  cv::Mat u = frame.u(chroma), v = frame.v(chroma);
  cv::Mat uv(chroma.size(), CV_8UC2);
  const int merge[] = {0, 0, 1, 1};
  const cv::Mat planes[] = {u, v};
  cv::mixChannels(planes, 2, &uv, 1, merge, 2);
  vision::PastePatch({{vision::PastePlane{frame.y(patch.roi), face_y, patch.roi.tl(), 1},
                       vision::PastePlane{uv, face_uv, chroma.tl(), 2}}},
                     patch);
  cv::Mat back[] = {u, v};
  cv::mixChannels(&uv, 1, back, 2, merge, 2);
}

}  // namespace swapline::pipeline
