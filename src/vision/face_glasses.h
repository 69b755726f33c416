// Eyeglasses on a face: whether it wears them, and where their frame lies.
//
// Classic image analysis on the face's pixels and 68 landmarks, in an eye frame of
// fixed scale (eye centres kEyeDistance apart, level), so it behaves alike on small
// and large faces:
//   found  a frame's bridge crosses the nose between the inner eye corners: along
//          the strip between them, a horizontal bar darker or lighter than the skin
//          just above and below it, the same in nearly every column (a wrinkle or a
//          fold of the nose does not span the strip; shading has no such step);
//   frame  around the eyes, pixels that stand out from the face's skin (far from the
//          cheeks' and nose's colour, or darker than their surroundings in a thin
//          line), kept where they connect to the bridge: the rims and the temples'
//          start. The eyes themselves are never frame; a brow the rim runs along
//          joins it.
// The classic swapper keeps the target's frame over the swapped face, as an occluder
// (FaceFusion's occlusion mask does the same with a network): the output wears the
// target's glasses, with the source's eyes behind the lenses. A source's glasses come
// with its eyes, as part of its face.
//
// Pure functions, thread-safe.
#pragma once

#include <opencv2/core.hpp>

#include "vision/face.h"

namespace swapline::vision {

struct GlassesFrame {
  bool found = false;
  // The bridge's contrast: the median step, in grey levels, between the bar and the
  // skin above and below it, across the strip between the eyes.
  float bridge_contrast = 0;
  // The weaker of the two lower rims' contrast, measured alike under each eye.
  float rim_contrast = 0;
  // 8-bit over the image: 255 on the frame, feathered by about a pixel; empty when
  // no glasses were found.
  cv::Mat mask;
};

// The glasses of the face with `landmarks` in `bgr` (8-bit BGR).
GlassesFrame FindGlassesFrame(const cv::Mat& bgr, const Landmarks68& landmarks);

}  // namespace swapline::vision
