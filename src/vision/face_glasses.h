// Eyeglasses on a face: whether it wears them, and where their frame lies.
//
// Classic image analysis on the face's pixels and 68 landmarks, in an eye frame of
// fixed scale (eye centres kEyeDistance apart, level), so it behaves alike on small
// and large faces:
//   found  a frame's bridge crosses the nose between the inner eye corners and a
//          lower rim runs under each eye: along each strip, a horizontal bar darker
//          or lighter than the skin just above and below it, the same in nearly
//          every column (a wrinkle or a fold does not span the strip; shading has no
//          such step). Both must show: brows that meet over the nose make the bridge's
//          bar alone, lower lids and their bags make weaker lines than a rim;
//   frame  around the eyes, pixels that stand out from the face's skin (a colour far
//          from the cheeks' and nose's, or a thin dark line), kept where they join
//          one of those bars or have a colour of their own, and the bridge's bar
//          itself. The eyes, and everything above the brow points (the brows
//          included), are never frame.
// With --face-swapper-keep-glasses the classic swapper keeps a target's frame over the
// swapped face, as an occluder (FaceFusion's occlusion mask does the same with a
// network): the output wears the target's glasses, with the source's eyes behind the
// lenses, and never the source's: where the source's own frame lies (found on the
// source photo), the target's face shows through. Without the option a source's
// glasses come with its eyes, as part of its face (a strong likeness to the
// recogniser), cut at the face's outline.
//
// In a video one frame is not enough to decide: a lower rim fades for a few frames as
// the head turns or blurs, and glasses that came and went would flicker. There a
// face's track decides (GlassesVote, kept by the video pipeline), and once it wears
// glasses the bridge alone shows where their frame is.
//
// Pure functions, thread-safe.
#pragma once

#include <optional>

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

// The glasses of the face with `landmarks` in `bgr` (8-bit BGR). `worn` is what is
// known already (Face::glasses): unknown, both the bridge and the rims must show;
// true, the bridge alone does; false, nothing is looked for.
GlassesFrame FindGlassesFrame(const cv::Mat& bgr, const Landmarks68& landmarks,
                              std::optional<bool> worn = std::nullopt);

// FindGlassesFrame's decision alone (`mask` stays empty), at a fraction of its cost.
GlassesFrame MeasureGlasses(const cv::Mat& bgr, const Landmarks68& landmarks);

// The pixels of an image of size `image` that FindGlassesFrame reads for the face
// with `landmarks`: a caller holding the image in another form converts only these.
cv::Rect GlassesRegion(const Landmarks68& landmarks, cv::Size image);

// One face's decision across the frames of a video: a running vote over the frames'
// own findings (MeasureGlasses().found), each frame weighing kWeight of it. The first
// frame decides alone; after it glasses are put on when the vote reaches kOn and
// taken off when it falls below kOff, so a rim lost for a few frames keeps them on
// and a single false finding never puts them on.
class GlassesVote {
 public:
  static constexpr float kWeight = 0.2f, kOn = 0.5f, kOff = 0.2f;
  // This frame's finding; returns the decision after it.
  bool Update(bool found);

 private:
  bool started_ = false, worn_ = false;
  float vote_ = 0;
};

}  // namespace swapline::vision
