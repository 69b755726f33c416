// Face alignment: FaceFusion's warp templates and the similarity transform onto them.
//
// A template is five normalised points (left eye, right eye, nose tip, left and right
// mouth corner) in a unit square; multiplied by a crop size it gives where those
// landmarks land in an aligned crop. EstimateAlignment() fits the 4-degree-of-freedom
// similarity (rotation, uniform scale, translation) that maps a face's 5 landmarks onto
// the template at `crop_size`, exactly as FaceFusion does (estimateAffinePartial2D,
// RANSAC, reprojection threshold 100). WarpFace() cuts the aligned crop; PasteBack()
// blends a processed crop back into the frame through the inverse transform, touching
// only the crop's footprint.
//
// All functions are pure and thread-safe.
#pragma once

#include <array>
#include <string_view>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "vision/face.h"

namespace swapline::vision {

enum class WarpTemplate {
  kArcface112V1,
  kArcface112V2,
  kArcface128,
  kDflWholeFace,
  kFfhq512,
  kMtcnn512,
  kStyleganex384,
};

Result<WarpTemplate> ParseWarpTemplate(std::string_view name);

// The normalised points of a template (0..1).
const std::array<cv::Point2f, 5>& TemplatePoints(WarpTemplate warp_template);

// 2x3 CV_64F matrix mapping image pixels to crop pixels.
Result<cv::Mat> EstimateAlignment(const Landmarks5& landmarks, WarpTemplate warp_template,
                                  cv::Size crop_size);

// The aligned crop (INTER_AREA, BORDER_REPLICATE as FaceFusion).
cv::Mat WarpFace(const cv::Mat& frame, const cv::Mat& alignment, cv::Size crop_size);

// The pixels of an image of size `image` that the aligned crop of `landmarks` on
// `warp_template` covers, with a margin of 2 px, clipped to the image; empty when the
// landmarks are degenerate.
cv::Rect AlignedCropRegion(const Landmarks5& landmarks, WarpTemplate warp_template, cv::Size image);

// The 2x3 inverse of an alignment: crop pixels to image pixels.
cv::Mat InvertAlignment(const cv::Mat& alignment);

// Applies a 2x3 transform to points.
std::vector<cv::Point2f> TransformPoints(const std::vector<cv::Point2f>& points, const cv::Mat& transform);

// Blends `crop` (aligned with `alignment`) into `frame` in place with `mask`
// (CV_32F, crop-sized, 0..1) as alpha: frame = frame·(1−m) + crop·m.
void PasteBack(cv::Mat& frame, const cv::Mat& crop, const cv::Mat& mask, const cv::Mat& alignment);

}  // namespace swapline::vision
