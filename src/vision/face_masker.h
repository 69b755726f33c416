// Face masks: where a processed face may replace the target's pixels.
//
// Masks are CV_32F, 0..1, over a region of interest (ROI) of the frame; several types
// combine by element-wise minimum, as FaceFusion's --face-mask-types:
//   box        FaceFusion's box mask: the face's aligned square (arcface_128 template,
//              or a neural swapper's own),
//              edge bands cut by --face-mask-padding (top right bottom left, % of the
//              square) and feathered by --face-mask-blur;
//   area       the face outline from the 68 landmarks, reaching up to the forehead: brow
//              points raised by a third of the chin-to-nose-bridge distance (the forehead
//              carries much of a person's identity), without hairline or background;
//              feathered by --face-mask-blur: the edge fades in inside the outline, never
//              past it (FaceFusion's area mask of all three areas, forehead included);
//   occlusion  what covers the target's face (a hand, a microphone), found by an XSeg
//              network (--face-occluder-model), is kept;
//   region     only the facial regions of --face-mask-regions (skin, eyes, nose, lips…)
//              of the swapped face, found by a BiSeNet face parser
//              (--face-parser-model), take the swap.
// The last two are learned (vision/face_segmenter.h) and need their networks.
// --face-mask-blur (0..1) sets the feather of the first two: 0 is a hard edge.
//
// Pure functions, thread-safe.
#pragma once

#include <array>
#include <memory>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "vision/face.h"
#include "vision/face_aligner.h"
#include "vision/face_segmenter.h"

namespace swapline::vision {

enum class MaskType { kBox, kArea, kOcclusion, kRegion };

Result<MaskType> ParseMaskType(std::string_view name);

struct FaceMaskOptions {
  std::vector<MaskType> types = {MaskType::kBox, MaskType::kArea};
  float blur = 0.3f;                          // 0..1
  std::array<float, 4> padding = {0, 0, 0, 0};  // top, right, bottom, left, percent 0..100
  std::vector<int> regions = AllFaceRegions();  // the parser's classes the region mask keeps
  // The networks of the learned masks, set by whoever loaded them (pipeline::ImageSwapEngine).
  std::shared_ptr<const FaceSegmenter> occluder;
  std::shared_ptr<const FaceSegmenter> parser;

  static std::vector<int> AllFaceRegions();
  bool Uses(MaskType type) const;
  // Whether a learned mask (occlusion, region) is asked for.
  bool UsesSegmenters() const { return Uses(MaskType::kOcclusion) || Uses(MaskType::kRegion); }
  // FailedPrecondition naming the mask whose network is not set.
  Status CheckSegmenters() const;
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

// The inner lips' gap (mean of the three pairs across the mouth) as a share of the
// face width: 0 for lips that meet, about 0.04 for lips just apart.
float MouthOpening(const Landmarks68& landmarks);

// The combined box and area masks of `face` over `roi` (frame coordinates); the
// learned ones are ApplySegmentationMasks'. The box is the square `box_template`
// aligns the face to: a neural swapper's own crop.
cv::Mat CreateFaceMask(const Face& face, cv::Size image, const cv::Rect& roi, const FaceMaskOptions& options,
                       WarpTemplate box_template = WarpTemplate::kArcface128);

cv::Mat CreateBoxMask(const Face& face, const cv::Rect& roi, const FaceMaskOptions& options,
                      WarpTemplate box_template = WarpTemplate::kArcface128);
// FaceFusion's create_box_mask over an aligned crop of `size`: edge bands of `padding`
// (percent) or at least the blur's half-width cut, feathered by `blur` (0..1).
cv::Mat CreateCropBoxMask(int size, float blur, const std::array<float, 4>& padding);
cv::Mat CreateAreaMask(const Face& face, cv::Size image, const cv::Rect& roi, float blur);

// Keeps the target's own pixels where `visible` (CV_32F, 0..1, `mask`'s size) is not
// 1, as under an occluder: narrows `mask` to it and stops `shift` (a SwapPatch's motion
// of the target's pixels, may be empty) by it, so what covers the face stays where it
// is. Both become new matrices: ones they shared are left as they were.
void KeepOccluders(const cv::Mat& visible, cv::Mat& mask, cv::Mat& shift);

// Narrows `mask` (CV_32F over `target`, the face's working frame) by the learned masks
// of options.types: the occlusion mask of `target`, and the region mask of `swapped`
// (8-bit BGR, `target`'s size) laid over `target` by `mask`. Each is made in the crop
// that `warp_template` aligns `face` (landmarks in `target`) to, and mapped back.
// `shift` (a SwapPatch's motion of the target's own pixels, may be empty) is stopped
// under occluders too: what covers the face stays where it is. `mask` and `shift`
// become new matrices: ones they shared are left as they were. FailedPrecondition when
// a mask's network is not set.
Status ApplySegmentationMasks(const Face& face, WarpTemplate warp_template, const cv::Mat& target,
                              const cv::Mat& swapped, const FaceMaskOptions& options, cv::Mat& mask,
                              cv::Mat& shift);

// Where the forehead of the face in `bgr` (8-bit BGR, landmarks in it) shows its own
// skin rather than what covers it, a hat's brim or a fringe: 8-bit, `bgr`'s size, 255
// visible, 0 covered, feathered between. Going up from just above each brow point
// (along the face's chin-to-brow direction), the forehead is cut at the first run of
// pixels whose colour lies far from the skin of the cheeks and nose (CreateSkinMask);
// wrinkles and single hairs are too thin to cut it, neighbouring cuts are evened out
// toward the lower ones, and the feather ends at the cut. Below the brows everything
// is visible. The classic swapper pastes the source's forehead only where it is
// visible: a brim or a fringe toned like skin shows as a grey or brown band. Only the
// face's neighbourhood is looked at; farther away the mask is 255.
cv::Mat CreateForeheadVisibilityMask(const cv::Mat& bgr, const Landmarks68& landmarks);

// The inner mouth (points 60-67), slightly grown: 1 inside, 0 outside, over `roi`;
// grown by two `feather`s and blurred by one, `feather` a share of the face width.
cv::Mat CreateInnerMouthMask(const Landmarks68& landmarks, const cv::Rect& roi, float feather);

}  // namespace swapline::vision
