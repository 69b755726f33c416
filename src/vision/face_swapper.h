// FaceSwapper: puts the identity of a source face onto target faces.
//
// PrepareSource() turns the source face(s) into a SwapSource once per job (shared,
// read-only, by any number of swappers); SetSource() hands it to a swapper. Per
// selected target face, Region() says which frame pixels the swap may change and
// Render() makes the swapped face as a SwapPatch at the face's working resolution,
// reading the frame only through a RegionReader; pasting the patch back is the one
// full-resolution step, done by the frame's owner in the frame's own pixel format
// (PastePatch() for 8-bit BGR images, pipeline/yuv_region.h for video planes).
// Swap() does all three on a BGR image.
//
// The embedded swapper is "classic" (no model file). Per face, everything runs in a
// working face frame: the face's region scaled down to at most 512 px (kWorkSide),
// and to no more than 1.5 pixels per pixel of the source face (every pixel of the
// swapped face is sampled from the source, so a finer frame adds cost, not detail),
// so the cost does not grow with the face's pixel area; only the final paste-back
// touches full-resolution pixels, and only inside the face region.
//   shape   the target's landmarks move toward the source's proportions
//           (vision/face_morph.h) by --face-swapper-morph (0..1, default 0.75); the
//           target's own pixels between the face outline and a ring 10 % of the
//           face width outside it are warped along, smoothly back to no motion at
//           the ring, so the new outline meets the neck, hair and background without
//           a gap; nothing outside the ring moves;
//   texture the source face, its 68 landmarks plus 10 forehead points, is split into
//           Delaunay triangles; each is mapped affinely onto the morphed landmarks (a
//           piecewise-affine warp that keeps the target's pose and expression);
//   tone    the warped face takes the target's skin colour and light
//           (vision/face_tone.h: skin-only statistics, the target's shading);
//   detail  a source face smaller than the target face is sharpened in proportion,
//           once per strength before the warp (kept per swapper);
//   blend   feathered (default) or with Poisson cloning (--face-swapper-blend
//           poisson), inside the face mask (vision/face_masker.h).
// The target's own inner mouth is kept, grown and feathered in proportion to how far
// its lips are apart: its teeth and tongue when open (a closed source mouth would
// otherwise be stretched over the gap), its lips' own line when they meet or barely
// part (an open source mouth's teeth squeezed onto it showed as specks). A beard or
// moustache of the target inside the face outline is replaced by the source's lower
// face (the mask covers the chin); only the feathered edge keeps some of it.
// Several sources are averaged: their shapes after similarity alignment, and their
// textures after warping onto that mean shape, each toned like the first.
//
// Per-face geometry (the morph field, the warped source, the box and area masks)
// depends only on the target's landmarks in its working frame; a swapper keeps it for
// the last few faces and reuses it while a face holds still (the very same landmarks
// in the very same working frame), so a still face in a video costs only its tone and
// paste-back. The learned masks (occlusion, region) read the pixels, so they are
// made for every face: a hand passing over a still face is seen.
//
// Thread safety: a SwapSource is immutable; a FaceSwapper is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "vision/face.h"
#include "vision/face_masker.h"

namespace swapline::vision {

enum class BlendMode { kFeather, kPoisson };

Result<BlendMode> ParseBlendMode(std::string_view name);

// --face-swapper-morph default, measured on the 12 pairs of the four test portraits
// (DenseNet distance output→source / output→target, means): 0: 0.485 / 0.694,
// 0.5: 0.429 / 0.731, 0.75: 0.417 / 0.751, 1: 0.424 / 0.776. 0.75 brings the output
// closest to the source; full strength moves the outline more for no gain there.
inline constexpr float kDefaultMorph = 0.75f;

// FaceFusion's --processors, run in the order given on every selected face.
enum class FaceProcessor { kSwapper, kEnhancer };

// blend, color_transfer and morph are the classic swapper's; pixel_boost the neural
// ones' (vision/neural_face_swapper.h); enhancer_blend the face enhancer's
// (vision/face_enhancer.h); the masks are all's.
struct SwapperOptions {
  BlendMode blend = BlendMode::kFeather;
  bool color_transfer = true;
  float morph = kDefaultMorph;  // 0..1
  bool keep_glasses = false;    // classic: a target's glasses stay on and a source's stay
                                // off (vision/face_glasses.h)
  FaceMaskOptions mask;
  int pixel_boost = 0;  // side of the aligned crop, a multiple of the model's; 0: the model's
  int enhancer_blend = 80;  // 0..100: the enhanced face's weight
  std::vector<FaceProcessor> processors = {FaceProcessor::kSwapper};
};

// Checks ranges; the message names the option.
Status ValidateSwapperOptions(const SwapperOptions& options);

// Time spent in each step of a swap, accumulated, for benchmarks.
struct SwapTimings {
  double read_ms = 0;    // the face's region read at the working resolution
  double warp_ms = 0;    // morph, source warp, masks
  double colour_ms = 0;  // tone and detail
  double blend_ms = 0;   // blending at the working resolution (Poisson)
  double paste_ms = 0;   // the full-resolution paste-back
  std::int64_t faces = 0;              // faces rendered
  std::int64_t reused_geometries = 0;  // of those, faces whose warps and masks were kept
  std::int64_t kept_glasses = 0;       // of those, faces whose own glasses were kept on
};

// One face of one source image.
struct SourceImage {
  cv::Mat image;  // 8-bit BGR
  Face face;
};

// A source identity ready to swap (opaque).
struct SwapSource;

// Prepares `sources` (at least one; the first leads: its crop and tone are the
// average's). Code::kNoFace when a face is too small or degenerate.
Result<std::shared_ptr<const SwapSource>> PrepareSource(const std::vector<SourceImage>& sources);

// One swapped face as Render() makes it. `face`, `mask` and `shift` cover the face's
// region `roi` at the working resolution (one size, at most roi's); the paste-back
// scales them up to `roi` and, within it, moves the frame's own pixels by `shift`
// and lays `face` over them weighted by `mask`. Where the mask is 0 and nothing
// moves, a frame pixel comes out unchanged.
struct SwapPatch {
  cv::Rect roi;         // frame pixels
  cv::Mat face;         // 8-bit BGR; empty: nothing to paste
  cv::Mat mask;         // CV_32F, 0..1
  cv::Mat shift;        // CV_32FC2: where each pixel's new content comes from,
                        // relative to it, in working pixels; empty: nothing moves
  // Where the working pixels lie: frame pixel p shows the face at (p - origin) * scale
  // (working pixels). Scale 0: the face spans roi exactly, resized.
  cv::Point2d origin;
  double scale = 0;
};

// Reads the frame being swapped: 8-bit BGR of `roi` resized to `size` with
// `interpolation` (a cv::InterpolationFlags value).
using RegionReader = std::function<cv::Mat(const cv::Rect& roi, cv::Size size, int interpolation)>;

class FaceSwapper {
 public:
  virtual ~FaceSwapper() = default;
  virtual void SetSource(std::shared_ptr<const SwapSource> source) = 0;
  // The pixels of an image of size `image` that a swap of `target` may change,
  // with a margin of a few pixels.
  virtual cv::Rect Region(const Face& target, cv::Size image) const = 0;
  // Swaps `target` (landmarks in the coordinates of a frame of size `image`)
  // within `roi`, which contains Region(target, image) and lies in the frame.
  // REQUIRES: SetSource() was called.
  virtual Result<SwapPatch> Render(const Face& target, cv::Size image, const cv::Rect& roi,
                                   const RegionReader& read, SwapTimings* timings = nullptr) = 0;
};

// A plane to paste into: `region` is the patch's roi of a frame, or of any plane of
// the same picture sampled `region.size() / patch.roi.size()` times as densely; `face`
// holds the patch's face in the channels of `region` (patch.face itself for BGR).
struct PastePlane {
  cv::Mat region;  // written in place
  cv::Mat face;
  cv::Point at;         // the region's top-left pixel in its plane (for a patch with a scale)
  int subsampling = 1;  // frame pixels per plane pixel: 2 for 4:2:0 chroma
};

// Pastes `patch` into each of `planes` (the luma and chroma planes of a video frame:
// what they share of the work, from the patch's mask and motion, is done once).
void PastePatch(std::span<const PastePlane> planes, const SwapPatch& patch);

// Region(), Render() and the paste-back on an 8-bit BGR image, in place.
Status Swap(FaceSwapper& swapper, cv::Mat& image, const Face& target, SwapTimings* timings = nullptr);

std::unique_ptr<FaceSwapper> NewClassicFaceSwapper(const SwapperOptions& options);

// The point set the classic swapper warps: 68 landmarks then 10 forehead points.
std::vector<cv::Point2f> SwapPoints(const Landmarks68& landmarks, cv::Size image);

// The ring outside which Swap() changes no pixel: the face outline (FaceOutline)
// pushed outward by 10 % of the face width, the reach of the shape morph.
std::vector<cv::Point2f> SwapOutline(const Landmarks68& landmarks, cv::Size image);

// Delaunay triangles over `points`, as index triples.
std::vector<cv::Vec3i> Triangulate(const std::vector<cv::Point2f>& points);

// `images` (of one size) warped piecewise-affinely from the `src` points onto the `dst`
// points through `triangles`, into images of `size`. `coverage` (CV_32F) is 1 where a
// triangle lies, 0 elsewhere. Where triangles share pixels, one thinner than 2 px
// (a closed mouth's inner lips) yields them to its neighbours.
std::vector<cv::Mat> WarpTriangles(const std::vector<cv::Mat>& images, const std::vector<cv::Point2f>& src,
                                   const std::vector<cv::Point2f>& dst, const std::vector<cv::Vec3i>& triangles,
                                   cv::Size size, cv::Mat& coverage);

}  // namespace swapline::vision
