// FaceMotion: how a face's pixels moved from one video frame to the next, measured on
// the pixels themselves.
//
// A landmark fit places each frame's points anew, with a few pixels of noise that no
// two frames share: on a clip whose face only slides sideways, whole pixels a frame,
// the fitted points wandered ±4 px around the true motion, and a face rendered on them
// changes shape a little in every frame (the encoder pays for that: at high quality
// such a swap took twice the bits and half again the time of the input). The pixels
// know better. Remember() keeps the frame around a face, scaled so that the face is
// about kMotionSide pixels wide, with corners to follow inside its landmark outline;
// Measure() follows those corners into the next frame (pyramidal Lucas-Kanade) and fits
// one similarity (position, scale, rotation) to where they went, robustly (RANSAC), so
// a mouth that talks or a hand that passes is outvoted by the rest of the face. A
// face that turns in depth moves by more than a similarity; the landmarks carry that.
//
// Measure() answers nothing (nullopt) when nothing was remembered, when too few
// corners were found or followed, or when too few agree on one motion (a cut, a face
// covered): the caller then has the fit alone to go by.
//
// Thread safety: one per tracked face, used by one thread.
#pragma once

#include <optional>
#include <vector>

#include <opencv2/core.hpp>

#include "vision/face.h"

namespace swapline::vision {

class FaceMotion {
 public:
  // Keeps `frame` (8-bit, one channel) around the face whose landmarks are `face`.
  void Remember(const cv::Mat& frame, const Landmarks68& face);

  // The similarity carrying the remembered frame's pixels onto `frame`'s (8-bit, one
  // channel, of the same size), in frame pixels: p' = M (x, y, 1).
  std::optional<cv::Matx23d> Measure(const cv::Mat& frame) const;

  void Forget() { patch_.release(); }

 private:
  cv::Mat patch_;                    // the remembered frame's region, scaled
  cv::Rect region_;                  // in frame pixels
  double scale_ = 1;                 // patch pixels per frame pixel, as asked
  cv::Point2f patch_scale_{1, 1};    // ...and as cut, per axis (AreaReduction::scale)
  std::vector<cv::Point2f> corners_;  // in patch pixels
};

// `point` moved by the similarity `motion`.
inline cv::Point2f Moved(const cv::Matx23d& motion, cv::Point2f point) {
  return {static_cast<float>(motion(0, 0) * point.x + motion(0, 1) * point.y + motion(0, 2)),
          static_cast<float>(motion(1, 0) * point.x + motion(1, 1) * point.y + motion(1, 2))};
}

}  // namespace swapline::vision
