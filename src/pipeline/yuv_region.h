// Face regions of planar YUV 4:2:0 frames as BGR images, and back.
//
// Video frames stay in the decoder's YUV; only the rectangle around a face is
// converted to BGR for the vision layer, and only the pixels the processing actually
// changed are written back, so everything else reaches the encoder bit-exact.
// Conversions use OpenCV's I420 routines.
//
// Pure functions, thread-safe on distinct frames.
#pragma once

#include <opencv2/core.hpp>

#include "media/video.h"

namespace swapline::pipeline {

// `roi` grown to even coordinates and size, clipped to the frame.
cv::Rect EvenRegion(const cv::Rect& roi, cv::Size frame);

// REQUIRES: roi == EvenRegion(roi, frame size), non-empty.
cv::Mat RegionToBgr(const media::VideoFrame& frame, const cv::Rect& roi);

// Writes `bgr` into the region, only where it differs from `original` (both as
// returned by RegionToBgr for the same roi). REQUIRES: the frame's planes are writable.
void WriteChangedRegion(media::VideoFrame& frame, const cv::Rect& roi, const cv::Mat& bgr, const cv::Mat& original);

}  // namespace swapline::pipeline
