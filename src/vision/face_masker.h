// Face masks: where a processed face may replace the target's pixels.
//
// Masks are CV_32F, 0..1, over a region of interest (ROI) of the frame; several types
// combine by element-wise minimum, as FaceFusion's --face-mask-types:
//   box     FaceFusion's box mask: the face's aligned square (arcface_128 template),
//           edge bands cut by --face-mask-padding (top right bottom left, % of the
//           square) and feathered by --face-mask-blur;
//   region  the face outline from the 68 landmarks, reaching up to the forehead: brow
//           points raised by a third of the chin-to-nose-bridge distance (the forehead
//           carries much of a person's identity), without hairline or background;
//           feathered by --face-mask-blur: the edge fades in inside the outline, never past it.
// --face-mask-blur (0..1) sets the feather: 0 is a hard edge.
//
// Pure functions, thread-safe.
#pragma once

#include <array>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "vision/face.h"

namespace swapline::vision {

enum class MaskType { kBox, kRegion };

Result<MaskType> ParseMaskType(std::string_view name);

struct FaceMaskOptions {
  std::vector<MaskType> types = {MaskType::kBox, MaskType::kRegion};
  float blur = 0.3f;                          // 0..1
  std::array<float, 4> padding = {0, 0, 0, 0};  // top, right, bottom, left, percent 0..100
};

// Checks ranges; the message names the option.
Status ValidateFaceMaskOptions(const FaceMaskOptions& options);

// Number of points in a FaceOutline: 17 jaw points, then the 10 brow points raised.
inline constexpr int kOutlinePointCount = 27;

// Jaw (0-16) and forehead points (brows 26..17 raised), clamped to `image`. The 68
// landmarks plus these 10 raised points are what the classic swapper triangulates.
std::vector<cv::Point2f> ForeheadPoints(const Landmarks68& landmarks, cv::Size image);
std::vector<cv::Point2f> FaceOutline(const Landmarks68& landmarks, cv::Size image);

// Bounding box of the outline, grown by `margin` of its size, clipped to the image.
cv::Rect FaceRegionOfInterest(const Landmarks68& landmarks, cv::Size image, float margin);

// Face width in pixels (jaw point 0 to 16), the scale of feathering.
float FaceWidth(const Landmarks68& landmarks);

// True when the lips are apart (inner-lip gap above 4 % of the face width).
bool IsMouthOpen(const Landmarks68& landmarks);

// The combined mask of `face` over `roi` (frame coordinates).
cv::Mat CreateFaceMask(const Face& face, cv::Size image, const cv::Rect& roi, const FaceMaskOptions& options);

cv::Mat CreateBoxMask(const Face& face, const cv::Rect& roi, const FaceMaskOptions& options);
// FaceFusion's create_box_mask over an aligned crop of `size`: edge bands of `padding`
// (percent) or at least the blur's half-width cut, feathered by `blur` (0..1).
cv::Mat CreateCropBoxMask(int size, float blur, const std::array<float, 4>& padding);
cv::Mat CreateRegionMask(const Face& face, cv::Size image, const cv::Rect& roi, float blur);

// The inner mouth (points 60-67), slightly grown: 1 inside, 0 outside, over `roi`.
cv::Mat CreateInnerMouthMask(const Landmarks68& landmarks, const cv::Rect& roi);

}  // namespace swapline::vision
