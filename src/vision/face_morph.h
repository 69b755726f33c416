// Face shape morph: the target's landmark geometry moved toward the source's
// proportions, so that the swapped face takes the source's face shape and not only
// its texture.
//
// Proportions are compared in an aligned frame: the source's 68 landmarks are mapped
// onto the target's by the least-squares similarity (rotation, uniform scale,
// translation), which removes pose and size but keeps shape. Then, by `strength`
// (0: target shape, 1: source shape):
//   jaw and cheek outline (0-16), brows (17-26) and nose (27-35) move toward the
//   aligned source points;
//   each eye (36-41, 42-47) moves as a whole to the source's eye centre (eye
//   spacing) and keeps the target's lid shape (blinks stay the target's);
//   the mouth (48-67) moves as a whole to the source's mouth centre and is widened
//   or narrowed to the source's mouth width along its own axis; its opening stays
//   the target's (expression).
// The similarity fit keeps the target's position, scale and rotation.
//
// Pure functions, thread-safe.
#pragma once

#include <opencv2/core.hpp>

#include "vision/face.h"

namespace swapline::vision {

// The least-squares similarity (2x3 CV_64F) mapping `from` onto `to`.
cv::Mat FitSimilarity(const Landmarks68& from, const Landmarks68& to);

// REQUIRES: 0 <= strength <= 1.
Landmarks68 MorphTowardSource(const Landmarks68& target, const Landmarks68& source, float strength);

}  // namespace swapline::vision
