// Face tone: what colour and light the swapped face takes from the target.
//
// Statistics come from the skin only (CreateSkinMask): cheeks and nose, without eyes,
// nostrils, forehead (fringes, hat brims), mouth, moustache or beard, so a bearded or
// open-mouthed target does not darken the face, and pixels far from the skin's own
// tone (glasses frames, shadows) are left out by a second, trimmed pass.
//
// TransferTone() works in CIE Lab:
//   light  L is split into shading (a quadratic surface fitted over the skin: side
//          light, a darker chin) and detail (the rest). The face keeps its own detail,
//          its skin's spread matched to the target's within 0.5..1x so the source's
//          features stay readable on a flat target and teeth and glasses never blow
//          out (eyes, brows and nostrils, beyond a spread of the skin's mean, keep
//          their own contrast past that point), and takes the target's shading
//          instead of its own.
//   colour a and b take the target's skin mean and spread; a black-and-white target
//          (no spread) gives a grey face. A wider spread than the source's widens
//          only its skin's range of colour: brows, lips and eyes, far from the skin's
//          mean, are not pushed further (they would turn blue and violet). A
//          black-and-white source's colour fades to grey beyond a spread of its
//          skin's lightness: its brows and eyes do not turn skin-coloured.
//
// Pure functions, thread-safe.
#pragma once

#include <optional>

#include <opencv2/core.hpp>

#include "vision/face.h"

namespace swapline::vision {

// 255 on the skin of the face with `landmarks`, 0 elsewhere, over an image of `size`.
cv::Mat CreateSkinMask(const Landmarks68& landmarks, cv::Size size);

// 255 where a pixel of `lab` (8-bit Lab) lies far from the skin under `skin` (8-bit):
// beyond 4 of the skin's spreads, each spread at least a floor, so skin lit unevenly
// stays skin while hair, hats and glasses frames do not; 0 elsewhere.
cv::Mat MarkFarFromSkin(const cv::Mat& lab, const cv::Mat& skin);

// Recolours `face` (8-bit BGR) in place. `target` is the same size, the same frame;
// `face_skin` and `target_skin` (8-bit masks) mark the skin of each. The target is
// only measured, on a copy reduced to at most 192 px (its statistics and shading
// surface need no more), so the cost is that of converting `face`. Given `within`
// (a part of `face`), only its pixels are recoloured, as they would be in the whole;
// the statistics still come from all the skin.
void TransferTone(cv::Mat& face, const cv::Mat& face_skin, const cv::Mat& target, const cv::Mat& target_skin,
                  const std::optional<cv::Rect>& within = std::nullopt);

}  // namespace swapline::vision
