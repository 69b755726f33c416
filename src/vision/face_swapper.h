// FaceSwapper: puts the identity of a source face onto target faces.
//
// SetSource() takes the source image and its chosen face once; Swap() then replaces
// one target face of `frame` in place (8-bit BGR), touching only pixels inside the
// face mask (vision/face_masker.h). Swap() is called once per selected target face.
//
// The embedded swapper is "classic" (no model file): the source face, its 68
// landmarks plus 10 forehead points, is split into Delaunay triangles; each triangle
// is mapped affinely onto the target's landmarks (a piecewise-affine warp that keeps
// the target's pose and expression); the warped face takes the target's colours (mean
// and spread of L, a, b inside the mask, so a black-and-white target gets a grey face);
// then it is blended in, feathered (default) or with Poisson cloning (--face-swapper-
// blend poisson; it can smear colour across the cheeks). All of this runs in a
// working face frame, the face's region scaled down to at most 512 px, so a face's
// cost does not grow with its pixel area; only the final paste-back (scaling the
// result and the mask up, blending under the mask) touches full-resolution pixels.
// When the target's mouth is open, its own inner mouth is kept: a closed source mouth
// would otherwise be stretched over the gap.
//
// Thread safety: an instance is used by one thread at a time.
#pragma once

#include <memory>
#include <string_view>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "vision/face.h"
#include "vision/face_masker.h"

namespace swapline::vision {

enum class BlendMode { kFeather, kPoisson };

Result<BlendMode> ParseBlendMode(std::string_view name);

struct ClassicSwapperOptions {
  BlendMode blend = BlendMode::kFeather;
  bool color_transfer = true;
  FaceMaskOptions mask;
};

// Time spent in each step of Swap(), accumulated, for benchmarks.
struct SwapTimings {
  double warp_ms = 0;    // working frame, source warp, masks
  double colour_ms = 0;
  double blend_ms = 0;   // blending and the full-resolution paste-back
};

class FaceSwapper {
 public:
  virtual ~FaceSwapper() = default;
  virtual Status SetSource(const cv::Mat& image, const Face& face) = 0;
  // REQUIRES: SetSource() succeeded.
  virtual Status Swap(cv::Mat& frame, const Face& target, SwapTimings* timings = nullptr) = 0;
};

std::unique_ptr<FaceSwapper> NewClassicFaceSwapper(const ClassicSwapperOptions& options);

// The point set the classic swapper warps: 68 landmarks then 10 forehead points.
std::vector<cv::Point2f> SwapPoints(const Landmarks68& landmarks, cv::Size image);

// Delaunay triangles over `points`, as index triples.
std::vector<cv::Vec3i> Triangulate(const std::vector<cv::Point2f>& points);

}  // namespace swapline::vision
