// Face regions of planar YUV 4:2:0 frames: read as BGR for the vision layer, and
// swapped faces pasted straight into the planes.
//
// Video frames stay in the decoder's YUV. The swapper reads a face's region scaled
// to its working resolution (ReadRegion converts only those few pixels), and the
// full-resolution paste-back runs on the planes themselves: luma at full
// resolution, both chroma planes together at half, so no full-resolution colour
// conversion happens in either direction and every pixel the swap does not touch
// reaches the encoder bit-exact. Colours follow BT.601 limited range, as OpenCV's
// I420 conversions do.
//
// Pure functions, thread-safe on distinct frames.
#pragma once

#include <opencv2/core.hpp>

#include "media/video.h"
#include "vision/face_swapper.h"

namespace swapline::pipeline {

// `roi` grown to even coordinates and size, clipped to the frame.
cv::Rect EvenRegion(const cv::Rect& roi, cv::Size frame);

// The region as 8-bit BGR, at full resolution. REQUIRES: roi == EvenRegion(roi, frame size), non-empty.
cv::Mat RegionToBgr(const media::VideoFrame& frame, const cv::Rect& roi);

// The region as 8-bit BGR resized to `size` with `interpolation` (a vision::RegionReader).
// REQUIRES: as RegionToBgr.
cv::Mat ReadRegion(const media::VideoFrame& frame, const cv::Rect& roi, cv::Size size, int interpolation);

// Pastes `patch` into the frame's planes. REQUIRES: patch.roi == EvenRegion(patch.roi,
// frame size); the planes are writable.
void PastePatch(media::VideoFrame& frame, const vision::SwapPatch& patch);

}  // namespace swapline::pipeline
