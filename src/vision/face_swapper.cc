#include "vision/face_swapper.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>

#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include "core/recently_used.h"
#include "vision/face_glasses.h"
#include "vision/face_morph.h"
#include "vision/face_tone.h"
#include "vision/swap_source.h"

// The paste's per-pixel loops, which the compiler vectorises, are built for AVX2 and
// for any x86-64 CPU, and the loader picks one (target_clones): twice as wide, the
// three loops' share of a large-face video's CPU samples 7.0 -> 5.7 %, output bit-exact.
#if defined(__x86_64__) && defined(__GNUC__)
#define SWAPLINE_WIDE_LOOPS [[gnu::target_clones("avx2", "default")]]
#else
#define SWAPLINE_WIDE_LOOPS
#endif

namespace swapline::vision {

namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Margin around the source face kept for sampling, as a share of its size.
constexpr float kSourceMargin = 0.05f;
// The morph moves the target's pixels up to a ring this share of the face width
// outside the face outline; beyond it nothing moves.
constexpr float kMorphRing = 0.10f;
// A morphed point moves at most this share of the face width, half the ring: the
// ring's triangles can never fold over.
constexpr float kMaxMorphShift = 0.05f;
// The feather of the target's kept inner mouth, in face widths, for mouths open wide.
constexpr float kMouthFeather = 0.015f;
// A mouth open this much of the face width or more keeps all of the target's inner mouth
// (closed mouths measure 0.2 to 0.7 %, smiles with teeth 7 to 10 %).
constexpr float kKeptMouthOpening = 0.03f;
// Source faces smaller than the target face by more than this are sharpened.
constexpr float kSharpenAbove = 1.25f;
// The working frame holds at most this many pixels per pixel of the source face:
// every pixel of the face is sampled from the source, so a finer frame adds cost but
// no detail (the margin keeps the double resampling's blur below what shows).
constexpr float kSourceDetail = 1.5f;
// ...and at least this side, so that the masks' outlines and the mouth stay smooth.
constexpr int kMinWorkSide = 192;
// The paste-back decides per square of this side of the plane whether to move pixels
// (on the large-face clip, squares of 32 remapped 57 % of the region, of 64 66 %,
// where 43 % moves).
constexpr int kPasteBlock = 32;

double TriangleArea(const cv::Point2f& a, const cv::Point2f& b, const cv::Point2f& c) {
  return std::abs((b.x - a.x) * (c.y - a.y) - (c.x - a.x) * (b.y - a.y)) * 0.5;
}

// Piecewise-affine maps: every pixel of `size` inside a triangle of `dst` gets the
// position in `src` through that triangle's affine map (map_x, map_y, CV_32F; -1
// outside), and `coverage` (CV_32F) is 1 there, 0 elsewhere.
void TriangleMaps(const std::vector<cv::Point2f>& src, const std::vector<cv::Point2f>& dst,
                  const std::vector<cv::Vec3i>& triangles, cv::Size size, cv::Mat& map_x, cv::Mat& map_y,
                  cv::Mat& coverage) {
  cv::Mat labels(size, CV_16S, cv::Scalar(-1));
  std::vector<cv::Matx23f> affines(triangles.size());
  constexpr int kShift = 4;  // sub-pixel vertices for fillConvexPoly
  // Slivers (thinner than kSliver pixels) are drawn first, so their neighbours take
  // the pixels on their shared edges: a filled triangle owns every pixel its edges
  // touch, and a sliver (a closed mouth's inner lips, where the source's mouth is open)
  // is little else. Drawn in turn, a sliver showed what it maps from (the source's
  // teeth) along a dotted staircase that changed with every sub-pixel move of the lips.
  constexpr double kSliver = 2.0;
  auto sliver = [&](std::size_t t) {
    const cv::Point2f& a = dst[triangles[t][0]];
    const cv::Point2f& b = dst[triangles[t][1]];
    const cv::Point2f& c = dst[triangles[t][2]];
    const double longest = std::max({cv::norm(b - a), cv::norm(c - b), cv::norm(a - c)});
    return 2 * TriangleArea(a, b, c) < kSliver * longest;
  };
  std::vector<std::size_t> order(triangles.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_partition(order.begin(), order.end(), sliver);
  for (const std::size_t t : order) {
    const cv::Vec3i& tri = triangles[t];
    const cv::Point2f to[3] = {dst[tri[0]], dst[tri[1]], dst[tri[2]]};
    const cv::Point2f from[3] = {src[tri[0]], src[tri[1]], src[tri[2]]};
    if (TriangleArea(to[0], to[1], to[2]) < 1e-2) continue;
    cv::Mat affine = cv::getAffineTransform(to, from);
    affine.convertTo(affine, CV_32F);
    affines[t] = cv::Matx23f(affine.ptr<float>());
    cv::Point vertices[3];
    for (int k = 0; k < 3; ++k) {
      vertices[k] = cv::Point(cvRound(to[k].x * (1 << kShift)), cvRound(to[k].y * (1 << kShift)));
    }
    cv::fillConvexPoly(labels, vertices, 3, cv::Scalar(static_cast<double>(t)), cv::LINE_8, kShift);
  }
  map_x.create(size, CV_32F);
  map_y.create(size, CV_32F);
  coverage = cv::Mat::zeros(size, CV_32F);
  for (int y = 0; y < size.height; ++y) {
    const short* label = labels.ptr<short>(y);
    float* mx = map_x.ptr<float>(y);
    float* my = map_y.ptr<float>(y);
    float* cov = coverage.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) {
      if (label[x] < 0) {
        mx[x] = -1;
        my[x] = -1;
        continue;
      }
      const cv::Matx23f& a = affines[static_cast<std::size_t>(label[x])];
      const float fx = static_cast<float>(x), fy = static_cast<float>(y);
      mx[x] = a(0, 0) * fx + a(0, 1) * fy + a(0, 2);
      my[x] = a(1, 0) * fx + a(1, 1) * fy + a(1, 2);
      cov[x] = 1.0f;
    }
  }
}

}  // namespace

std::vector<cv::Mat> WarpTriangles(const std::vector<cv::Mat>& images, const std::vector<cv::Point2f>& src,
                                   const std::vector<cv::Point2f>& dst, const std::vector<cv::Vec3i>& triangles,
                                   cv::Size size, cv::Mat& coverage) {
  cv::Mat map_x, map_y;
  TriangleMaps(src, dst, triangles, size, map_x, map_y, coverage);
  // cv::remap turns float maps into its fixed point on every call; converted once, the
  // maps serve every image (the same rounding: the same pixels, at about half the cost).
  cv::Mat map_whole, map_fraction;
  cv::convertMaps(map_x, map_y, map_whole, map_fraction, CV_16SC2);
  std::vector<cv::Mat> warped(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    cv::remap(images[i], warped[i], map_whole, map_fraction, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  }
  return warped;
}

namespace {

// The morph's motion field (CV_32FC2, work pixels): for each work pixel, where its
// new content comes from, relative to itself; zero outside the ring.
cv::Mat MorphShift(const std::vector<cv::Point2f>& from, const std::vector<cv::Point2f>& to, cv::Size size) {
  cv::Mat map_x, map_y, coverage;
  TriangleMaps(from, to, Triangulate(from), size, map_x, map_y, coverage);
  // No motion on the ring's last two pixels: scaled up to full resolution, the field
  // must be zero at the ring already, not a pixel or two beyond it. Beyond the frame
  // counts as outside: the ring reaches within a pixel of the frame's border.
  cv::erode(coverage, coverage, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)), cv::Point(-1, -1), 1,
            cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::Mat shift(size, CV_32FC2);
  for (int y = 0; y < size.height; ++y) {
    const float* mx = map_x.ptr<float>(y);
    const float* my = map_y.ptr<float>(y);
    const float* cov = coverage.ptr<float>(y);
    cv::Vec2f* s = shift.ptr<cv::Vec2f>(y);
    for (int x = 0; x < size.width; ++x) {
      s[x] = cov[x] > 0 ? cv::Vec2f(mx[x] - static_cast<float>(x), my[x] - static_cast<float>(y)) : cv::Vec2f(0, 0);
    }
  }
  return shift;
}

// Where a plane's pixels sample the working frame along one axis: pixel i at
// start + step * i, in working pixels.
struct AxisMap {
  double step = 1, start = 0;
};

// cv::resize's enlargement from `from` pixels to `to`: pixel centres onto pixel centres.
AxisMap ResizeMap(int from, int to) {
  const double step = static_cast<double>(from) / to;
  return {step, 0.5 * step - 0.5};
}

// Where bilinear sampling along `map` of an axis `from` working pixels long samples
// pixel `i`: the lower working pixel, the next one and the weight of the next. Out of
// range, it clamps to the border pixel, as cv::resize does.
struct BilinearTap {
  int lower, upper;
  float fraction;
};
BilinearTap Tap(int i, const AxisMap& map, int from) {
  const double position = map.start + map.step * i;
  const int lower = cvFloor(position);
  if (lower < 0) return {0, 0, 0.0f};
  if (lower >= from - 1) return {from - 1, from - 1, 0.0f};
  return {lower, lower + 1, static_cast<float>(position - lower)};
}

// Sampling positions for cv::remap (map_x, map_y: CV_32F, of the size of `block`)
// that move each pixel of `block` of a plane that samples the working frame along
// `along_x` and `along_y` by the motion field `shift` (CV_32FC2, relative, in working
// pixels): the motion is sampled bilinearly, as the face is, and scaled to the plane's
// pixels. Separably: each working row the block reads is sampled along x once, then
// output rows blend two of those, a loop the compiler vectorises.
SWAPLINE_WIDE_LOOPS void MotionMaps(const cv::Mat& shift, const AxisMap& along_x, const AxisMap& along_y,
                                    const cv::Rect& block, cv::Mat& map_x, cv::Mat& map_y) {
  const cv::Size work = shift.size();
  const auto kx = static_cast<float>(1.0 / along_x.step);
  const auto ky = static_cast<float>(1.0 / along_y.step);
  map_x.create(block.size(), CV_32F);
  map_y.create(block.size(), CV_32F);
  const int first_row = Tap(block.y, along_y, work.height).lower;
  const int last_row = Tap(block.y + block.height - 1, along_y, work.height).upper;
  const auto width = static_cast<std::size_t>(block.width);
  // Rows first_row..last_row of the field sampled along x, in plane pixels: x moves
  // then y moves.
  std::vector<BilinearTap> columns(width);
  for (std::size_t x = 0; x < width; ++x) {
    columns[x] = Tap(block.x + static_cast<int>(x), along_x, work.width);
  }
  std::vector<float> wide(static_cast<std::size_t>(last_row - first_row + 1) * 2 * width);
  for (int v = first_row; v <= last_row; ++v) {
    const cv::Vec2f* s = shift.ptr<cv::Vec2f>(v);
    float* moves_x = wide.data() + static_cast<std::size_t>(v - first_row) * 2 * width;
    float* moves_y = moves_x + width;
    for (std::size_t x = 0; x < width; ++x) {
      const BilinearTap& c = columns[x];
      moves_x[x] = (s[c.lower][0] + (s[c.upper][0] - s[c.lower][0]) * c.fraction) * kx;
      moves_y[x] = (s[c.lower][1] + (s[c.upper][1] - s[c.lower][1]) * c.fraction) * ky;
    }
  }
  for (int y = 0; y < block.height; ++y) {
    const BilinearTap row = Tap(block.y + y, along_y, work.height);
    const float* above = wide.data() + static_cast<std::size_t>(row.lower - first_row) * 2 * width;
    const float* below = wide.data() + static_cast<std::size_t>(row.upper - first_row) * 2 * width;
    const float f = row.fraction;
    const auto py = static_cast<float>(block.y + y);
    float* mx = map_x.ptr<float>(y);
    float* my = map_y.ptr<float>(y);
    for (int x = 0; x < block.width; ++x) {
      mx[x] = static_cast<float>(block.x + x) + above[x] + (below[x] - above[x]) * f;
      my[x] = py + above[width + x] + (below[width + x] - above[width + x]) * f;
    }
  }
}

// The working pixels that bilinear sampling along `along_x` and `along_y` reads within
// `block` of a plane.
cv::Rect WorkWindow(const cv::Rect& block, const AxisMap& along_x, const AxisMap& along_y, cv::Size work) {
  const BilinearTap left = Tap(block.x, along_x, work.width);
  const BilinearTap right = Tap(block.x + block.width - 1, along_x, work.width);
  const BilinearTap top = Tap(block.y, along_y, work.height);
  const BilinearTap bottom = Tap(block.y + block.height - 1, along_y, work.height);
  return {left.lower, top.lower, right.upper - left.lower + 1, bottom.upper - top.lower + 1};
}

// `src` (8-bit, any channels) sampled bilinearly along `along_x` and `along_y` into
// `dst` of `size`, clamped at the border as cv::resize does. cv::resize samples only
// from a start of half a step less half a pixel; a face in a working frame of its own
// lies anywhere between the plane's pixels. In fixed point as cv::resize's (11-bit
// fractions): each row of `src` that the output reads is interpolated along x once,
// kept in 16 bits, then each output row blends two of those, a loop the compiler
// vectorises.
SWAPLINE_WIDE_LOOPS void Enlarge(const cv::Mat& src, cv::Mat& dst, cv::Size size, const AxisMap& along_x,
                                 const AxisMap& along_y) {
  constexpr int kBits = 11;  // of a fraction
  constexpr int kDropped = 4;  // low bits a row interpolated along x drops, to fit in 16
  constexpr std::uint32_t kOne = 1u << kBits;
  const int channels = src.channels();
  dst.create(size, src.type());
  const auto width = static_cast<std::size_t>(size.width * channels);
  // Per output element, not per pixel, so that the loops have no channel loop.
  std::vector<int> lower(width), upper(width);
  std::vector<std::uint16_t> next(width);  // the upper element's weight, of kOne
  for (int x = 0; x < size.width; ++x) {
    const BilinearTap tap = Tap(x, along_x, src.cols);
    const auto weight = static_cast<std::uint16_t>(cvRound(tap.fraction * kOne));
    for (int c = 0; c < channels; ++c) {
      const auto i = static_cast<std::size_t>(x * channels + c);
      lower[i] = tap.lower * channels + c;
      upper[i] = tap.upper * channels + c;
      next[i] = weight;
    }
  }
  // The last two rows of `src` interpolated along x and which rows they are: output
  // rows go down, so each row of `src` is interpolated once.
  std::vector<std::uint16_t> rows[2] = {std::vector<std::uint16_t>(width), std::vector<std::uint16_t>(width)};
  int held[2] = {-1, -1};
  auto row = [&](int v, int keep) -> const std::uint16_t* {
    for (int slot = 0; slot < 2; ++slot) {
      if (held[slot] == v) return rows[slot].data();
    }
    const int slot = held[0] == keep ? 1 : 0;
    held[slot] = v;
    const std::uint8_t* s = src.ptr<std::uint8_t>(v);
    std::uint16_t* h = rows[slot].data();
    for (std::size_t i = 0; i < width; ++i) {
      const std::uint32_t sum = s[lower[i]] * (kOne - next[i]) + s[upper[i]] * next[i];
      h[i] = static_cast<std::uint16_t>((sum + (1u << (kDropped - 1))) >> kDropped);
    }
    return h;
  };
  constexpr int kShift = 2 * kBits - kDropped;
  for (int y = 0; y < size.height; ++y) {
    const BilinearTap tap = Tap(y, along_y, src.rows);
    const auto below = static_cast<std::uint16_t>(cvRound(tap.fraction * kOne));
    const auto above = static_cast<std::uint16_t>(kOne - below);
    const std::uint16_t* a = row(tap.lower, -1);
    const std::uint16_t* b = row(tap.upper, tap.lower);
    std::uint8_t* out = dst.ptr<std::uint8_t>(y);
    for (std::size_t i = 0; i < width; ++i) {
      const std::uint32_t sum = static_cast<std::uint32_t>(a[i]) * above + static_cast<std::uint32_t>(b[i]) * below;
      out[i] = static_cast<std::uint8_t>((sum + (1u << (kShift - 1))) >> kShift);
    }
  }
}

// Unsharp-mask strengths for a source face enlarged onto a larger target come in
// this many steps from 0 to 1: a sharpened source is made once per step in use.
constexpr int kSharpenSteps = 16;

// The strength step for a source face enlarged `enlargement` times (target face width
// / source face width, both in full-resolution pixels): 0 up to kSharpenAbove, then
// half a unit per doubling, at most 1.
int SharpenStep(float enlargement) {
  if (enlargement <= kSharpenAbove) return 0;
  return cvRound(std::min(1.0, 0.5 * std::log2(enlargement)) * kSharpenSteps);
}

// Differences from the unsharp mask's blur within this many grey levels are a photo's
// grain and compression noise rather than its features' edges: the sharpening passes
// them through unamplified. Amplified, enlarged grain was blotches on the face and new
// detail for the encoder in every frame: 120 frames of the large-face clip at medium
// with Hopper's face took 2.5 % fewer bytes with the threshold, wrinkles and eyelids as
// sharp; the small-source detail test 0.49 -> 0.47 of the full-size source's.
constexpr float kSharpenThreshold = 4.0f;

// `image` unsharp-masked at strength `step` / kSharpenSteps, with a blur of 0.6 of its
// own pixels (what the enlargement's bilinear sampling softens most), the difference
// from the blur soft-thresholded by kSharpenThreshold.
cv::Mat Sharpened(const cv::Mat& image, int step) {
  const float amount = static_cast<float>(step) / kSharpenSteps;
  cv::Mat original, blurred, out;
  image.convertTo(original, CV_32F);
  cv::GaussianBlur(original, blurred, cv::Size(0, 0), 0.6);
  cv::Mat detail = original - blurred;
  detail -= cv::min(cv::max(detail, -kSharpenThreshold), kSharpenThreshold);
  cv::Mat(original + amount * detail).convertTo(out, CV_8U);
  return out;
}

// Poisson-blends `warped` into `region` (same size) under `core_mask`, in place.
Status PoissonBlend(cv::Mat& region, const cv::Mat& warped, const cv::Mat& core_mask) {
  // seamlessClone needs the mask clear of the image border.
  cv::Mat mask = core_mask.clone();
  cv::rectangle(mask, cv::Rect(0, 0, mask.cols, mask.rows), cv::Scalar(0), 2);
  const cv::Rect bounds = cv::boundingRect(mask);
  if (bounds.empty()) return Status::Ok();
  const cv::Point center(bounds.x + bounds.width / 2, bounds.y + bounds.height / 2);
  try {
    cv::Mat blended;
    cv::seamlessClone(warped, region, mask, center, blended, cv::NORMAL_CLONE);
    blended.copyTo(region, mask);  // seamlessClone retouches its whole solve area
  } catch (const cv::Exception& e) {
    return Internal(std::string("Poisson blend failed: ") + e.what());
  }
  return Status::Ok();
}

Result<SwapSource> CropSource(const SourceImage& source) {
  if (source.image.empty() || source.image.type() != CV_8UC3) {
    return InvalidArgument("source must be an 8-bit BGR image");
  }
  const std::vector<cv::Point2f> points = SwapPoints(source.face.landmarks68, source.image.size());
  const cv::Rect2f bounds = cv::boundingRect(points);
  const float dx = bounds.width * kSourceMargin, dy = bounds.height * kSourceMargin;
  const cv::Rect roi = cv::Rect(cvFloor(bounds.x - dx), cvFloor(bounds.y - dy), cvCeil(bounds.width + 2 * dx) + 1,
                                cvCeil(bounds.height + 2 * dy) + 1) &
                       cv::Rect(0, 0, source.image.cols, source.image.rows);
  if (roi.width < 8 || roi.height < 8) return NoFace("source face is too small to use");
  SwapSource out;
  out.image = source.image(roi).clone();
  // Found on the whole photo: what covers the forehead may reach beyond the crop.
  out.visible = CreateForeheadVisibilityMask(source.image, source.face.landmarks68)(roi).clone();
  const cv::Point2f offset(static_cast<float>(roi.x), static_cast<float>(roi.y));
  for (std::size_t i = 0; i < out.landmarks.size(); ++i) out.landmarks[i] = source.face.landmarks68[i] - offset;
  const GlassesFrame glasses = FindGlassesFrame(out.image, out.landmarks);
  if (glasses.found) {
    // Grown by three pixels and feathered: the rims' shadows, antialiased edges and the
    // halo of the source's sharpening (SourceTexture) go with them, and the target's own
    // pixels fade in. Grown by two, the lower rims still read as glasses on Obama under
    // Hopper's eyes (contrast 30 against the finder's 30; three: 26).
    cv::Mat frame;
    cv::dilate(glasses.mask, frame, cv::getStructuringElement(cv::MORPH_ELLIPSE, {7, 7}));
    cv::GaussianBlur(frame, frame, cv::Size(0, 0), 1.5);
    cv::min(out.visible, 255 - frame, out.visible_without_glasses);
  }
  for (const auto& p : points) out.points.push_back(p - offset);
  out.triangles = Triangulate(out.points);
  if (out.triangles.empty()) return NoFace("source face landmarks are degenerate");
  return out;
}

// Everything Swap() derives from the target's landmarks alone, in the working frame.
// It is the same for every frame where the face holds still relative to its working
// frame (which follows the face by whole pixels), so it is kept for recent faces.
struct FaceGeometry {
  cv::Size size;           // of the working frame
  double scale = 1.0;      // working frame per frame pixel
  Landmarks68 landmarks;   // the target's, working frame
  Landmarks68 morphed;     // moved toward the source's proportions
  cv::Mat shift;           // the morph's motion field (MorphShift), empty when off
  cv::Mat warped;          // the source face on `morphed` (8-bit BGR)
  cv::Mat mask;            // blend weight (CV_32F)
  cv::Mat core_mask;       // mask > 0.5
  cv::Rect shown;          // the bounds of mask > 0: what the paste can show
  cv::Mat source_skin;     // skin of the warped source under the core mask (tone)
  cv::Mat target_skin;     // skin of the target (tone)
  bool glasses = false;    // the target's glasses are kept on (KeepOccluders)
};

// A face's geometry is reused only for the very same landmarks in the very same
// working frame: a face held still (the tracker's landmarks of a still face come to
// rest exactly). Landmarks that merely came close would make the output depend on
// which earlier frame the geometry was made for, and with frames swapped in parallel
// that is a matter of scheduling: the same job gave different bytes run to run.
// Geometries kept per swapper: a few faces per frame.
constexpr std::size_t kKeptGeometries = 4;
// Sharpened source textures kept per swapper: one per strength in use, a few at most.
constexpr std::size_t kKeptTextures = 4;

// An attached working frame's scale is set for a region this many of the landmarks'
// spreads (root mean square distance from their centre) across: about the swap region
// of a frontal face.
constexpr double kRegionSpreads = 5.0;

cv::Point2d LandmarkMean(const Landmarks68& landmarks) {
  cv::Point2d sum(0, 0);
  for (const cv::Point2f& p : landmarks) sum += cv::Point2d(p.x, p.y);
  return sum / static_cast<double>(landmarks.size());
}

double Spread(const Landmarks68& landmarks, cv::Point2d centre) {
  double sum = 0;
  for (const cv::Point2f& p : landmarks) sum += (p.x - centre.x) * (p.x - centre.x) + (p.y - centre.y) * (p.y - centre.y);
  return std::max(1.0, std::sqrt(sum / static_cast<double>(landmarks.size())));
}

bool SameGeometry(const FaceGeometry& geometry, const WorkFrame& work, const Landmarks68& landmarks) {
  return geometry.size == work.size && geometry.scale == work.scale && geometry.landmarks == landmarks;
}

class ClassicFaceSwapper final : public FaceSwapper {
 public:
  explicit ClassicFaceSwapper(const SwapperOptions& options) : options_(options) {}

  void SetSource(std::shared_ptr<const SwapSource> source) override {
    source_ = std::move(source);
    kept_.clear();
    sharpened_.clear();
  }

  cv::Rect Region(const Face& target, cv::Size image) const override {
    const cv::Rect frame(0, 0, image.width, image.height);
    if (!Attached() || !source_) return Bounds(target.landmarks68, image) & frame;
    const WorkFrame work = AttachedFrame(target.landmarks68, image, cv::Rect());
    const double last = 1.0 / work.scale;
    return cv::Rect(cv::Point(cvFloor(work.origin.x) - 1, cvFloor(work.origin.y) - 1),
                    cv::Point(cvCeil(work.origin.x + (work.size.width - 1) * last) + 2,
                              cvCeil(work.origin.y + (work.size.height - 1) * last) + 2)) &
           frame;
  }

  Result<SwapPatch> Render(const Face& target, cv::Size image, const cv::Rect& roi, const RegionReader& read,
                           SwapTimings* timings) override {
    if (!source_) return Internal("Render() called before SetSource()");
    const WorkFrame work =
        Attached() ? AttachedFrame(target.landmarks68, image, roi) : WorkFrame(roi, WorkSide(roi, target.landmarks68));
    SwapPatch patch;
    patch.roi = roi;
    if (roi.width < 4 || roi.height < 4) return patch;  // face outside the frame
    if (Attached()) {
      patch.origin = work.origin;
      patch.scale = work.scale;
    }
    const auto read_start = Clock::now();
    // Feathered blending reads the region only for tone statistics, which a bilinear
    // reduction serves as well as an area average at a fraction of the cost; the
    // Poisson solve blends into it, so it gets the area average.
    cv::Mat region = Attached() ? ReadAttached(read, work, image)
                                : read(roi, work.size, options_.blend == BlendMode::kPoisson ? cv::INTER_AREA
                                                                                             : cv::INTER_LINEAR);
    if (region.empty()) return patch;
    if (timings) timings->read_ms += MsSince(read_start);

    const auto warp_start = Clock::now();
    const FaceGeometry& geometry = Geometry(target, image, work, region, timings);
    if (timings) timings->warp_ms += MsSince(warp_start);
    if (cv::countNonZero(geometry.core_mask) < 16) return patch;  // nothing visible to swap
    if (timings && geometry.glasses) ++timings->kept_glasses;

    const auto colour_start = Clock::now();
    // Only what the paste can show is toned, with the margin that the paste's bilinear
    // enlargement reads around it; the rest of the working frame (the morph ring's
    // corners) never shows.
    constexpr int kMargin = 2;
    const cv::Rect shown = (geometry.shown + cv::Point(-kMargin, -kMargin) + cv::Size(2 * kMargin, 2 * kMargin)) &
                           cv::Rect(cv::Point(0, 0), work.size);
    cv::Mat warped = geometry.warped.clone();
    if (options_.color_transfer) TransferTone(warped, geometry.source_skin, region, geometry.target_skin, shown);
    if (timings) timings->colour_ms += MsSince(colour_start);

    patch.face = warped;
    patch.mask = geometry.mask;
    patch.shift = geometry.shift;
    // The Poisson solve blends into `region`; the learned masks read the target as it was.
    const cv::Mat target_region =
        options_.blend == BlendMode::kPoisson && options_.mask.UsesSegmenters() ? region.clone() : region;
    if (options_.blend == BlendMode::kPoisson) {
      // The solve replaces everything under the core mask; paste that back hard-edged.
      const auto blend_start = Clock::now();
      if (!geometry.shift.empty()) {
        cv::Mat map_x, map_y;
        const AxisMap same;
        MotionMaps(geometry.shift, same, same, cv::Rect(cv::Point(0, 0), region.size()), map_x, map_y);
        cv::remap(region.clone(), region, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
      }
      SWAPLINE_RETURN_IF_ERROR(PoissonBlend(region, warped, geometry.core_mask));
      patch.face = region;
      // A new matrix: the kept geometry's mask stays as it is.
      patch.mask = cv::Mat();
      geometry.core_mask.convertTo(patch.mask, CV_32F, 1.0 / 255);
      if (timings) timings->blend_ms += MsSince(blend_start);
    }
    Face work_target;
    work_target.landmarks68 = geometry.landmarks;
    work_target.landmarks5 = work.ToWork(target.landmarks5);
    SWAPLINE_RETURN_IF_ERROR(ApplySegmentationMasks(work_target, WarpTemplate::kArcface128, target_region, patch.face,
                                                    options_.mask, patch.mask, patch.shift));
    return patch;
  }

 private:
  // Feathered swaps work in a frame attached to the face (AttachedFrame); the Poisson
  // solve's result is pasted whole, so it works in the region itself.
  bool Attached() const { return options_.blend == BlendMode::kFeather; }

  // What a swap of `target` touches: its outline and the morph's ring, and a margin.
  static cv::Rect Bounds(const Landmarks68& target, cv::Size image) {
    std::vector<cv::Point2f> points = FaceOutline(target, image);
    const std::vector<cv::Point2f> ring = SwapOutline(target, image);
    points.insert(points.end(), ring.begin(), ring.end());
    const cv::Rect2f bounds = cv::boundingRect(points);
    return {cvFloor(bounds.x) - 2, cvFloor(bounds.y) - 2, cvCeil(bounds.width) + 5, cvCeil(bounds.height) + 5};
  }

  // The working frame of `target`, pasted into `roi`, attached to the face: its scale
  // follows the face's size and its pixels lie at whole steps from the landmarks'
  // centre, so from frame to frame the face lands on the same working pixels wherever
  // it moves and however it zooms, and the paste resamples one face the way the
  // input's own pixels move. In a frame cut from the region (integer corners, a side
  // scaled to fit), the working grid slid across the face with every move and every
  // change of the region's size, and the encoder coded the changed detail: 120 frames
  // of the large-face clip re-encoded at crf 10 took 5.2 % fewer bytes and 7 % less of
  // x264's time attached.
  WorkFrame AttachedFrame(const Landmarks68& target, cv::Size image, const cv::Rect& roi) const {
    const cv::Point2d centre = LandmarkMean(target);
    // The scale no finer than the source's detail needs and within the working side's
    // bounds for a region kRegionSpreads spreads across (the spread: the bounds'
    // integer corners would step the scale).
    const double across = kRegionSpreads * Spread(target, centre);
    const double scale = std::min({1.0, std::clamp(DetailScale(target), kMinWorkSide / across, kWorkSide / across)});
    // At full resolution the working pixels are the frame's own: the paste copies them
    // rather than resampling them half a pixel off.
    const cv::Point2d anchor = scale < 1 ? centre : cv::Point2d(std::round(centre.x), std::round(centre.y));
    const cv::Rect bounds = Bounds(target, image);
    const int left = cvFloor((bounds.x - anchor.x) * scale), top = cvFloor((bounds.y - anchor.y) * scale);
    const int right = cvCeil((bounds.br().x - anchor.x) * scale), bottom = cvCeil((bounds.br().y - anchor.y) * scale);
    return WorkFrame(roi, scale, cv::Size(right - left + 1, bottom - top + 1),
                     cv::Point2d(anchor.x + left / scale, anchor.y + top / scale));
  }

  // The target's pixels in `work` (attached): the frame's rectangle whose resize lands
  // on the working pixels within a frame pixel, what of it lies beyond the frame
  // repeated from its edge. Empty when none of it lies in the frame. The rectangle has
  // even corners, as a video frame's 4:2:0 chroma needs.
  static cv::Mat ReadAttached(const RegionReader& read, const WorkFrame& work, cv::Size image) {
    const double last = 1.0 / work.scale;
    const int x0 = cvFloor((work.origin.x + 0.5 - 0.5 * last) / 2) * 2;
    const int y0 = cvFloor((work.origin.y + 0.5 - 0.5 * last) / 2) * 2;
    const int x1 = cvCeil((work.origin.x + 0.5 + (work.size.width - 0.5) * last) / 2) * 2;
    const int y1 = cvCeil((work.origin.y + 0.5 + (work.size.height - 0.5) * last) / 2) * 2;
    const cv::Rect wanted(x0, y0, x1 - x0, y1 - y0);
    const cv::Rect inside = wanted & cv::Rect(0, 0, image.width & ~1, image.height & ~1);
    if (inside.empty()) return {};
    if (inside == wanted) return read(wanted, work.size, cv::INTER_LINEAR);
    const double kx = static_cast<double>(work.size.width) / wanted.width;
    const double ky = static_cast<double>(work.size.height) / wanted.height;
    const int left = std::min(work.size.width - 1, cvRound((inside.x - wanted.x) * kx));
    const int top = std::min(work.size.height - 1, cvRound((inside.y - wanted.y) * ky));
    const int width = std::clamp(cvRound(inside.width * kx), 1, work.size.width - left);
    const int height = std::clamp(cvRound(inside.height * ky), 1, work.size.height - top);
    cv::Mat region;
    cv::copyMakeBorder(read(inside, cv::Size(width, height), cv::INTER_LINEAR), region, top,
                       work.size.height - top - height, left, work.size.width - left - width, cv::BORDER_REPLICATE);
    return region;
  }

  // Working pixels per frame pixel that the source face's detail needs: kSourceDetail
  // times the source's own, face width for face width.
  double DetailScale(const Landmarks68& target) const {
    return kSourceDetail * FaceWidth(source_->landmarks) / std::max(FaceWidth(target), 1.0f);
  }

  // The working frame's side for `roi`: kWorkSide at most, and no finer than the
  // source face's detail needs.
  int WorkSide(const cv::Rect& roi, const Landmarks68& target) const {
    return std::clamp(cvCeil(std::max(roi.width, roi.height) * DetailScale(target)), kMinWorkSide, kWorkSide);
  }

  // The geometry of `target` in `work`: a kept one when the face held still, else
  // made anew (and kept, replacing the least recently used).
  // `region`: the target's pixels in `work`, which the glasses are found in.
  const FaceGeometry& Geometry(const Face& target, cv::Size image, const WorkFrame& work, const cv::Mat& region,
                               SwapTimings* timings) {
    const Landmarks68 landmarks = work.ToWork(target.landmarks68);
    bool reused = false;
    const FaceGeometry& geometry = RecentlyUsed(
        kept_, kKeptGeometries, [&](const FaceGeometry& g) { return SameGeometry(g, work, landmarks); },
        [&] { return MakeGeometry(target, image, work, region, landmarks); }, &reused);
    if (timings) {
      ++timings->faces;
      if (reused) ++timings->reused_geometries;
    }
    return geometry;
  }

  // The source texture sharpened at `step` (SharpenStep), made on first use and kept
  // for the last few steps used. Sharpened before the warp, a face's texture keeps its
  // detail whatever sub-pixel position the face takes; sharpening the warped face
  // instead amplified the warp's resampling pattern, new with every move of the face,
  // and the encoder paid for it (120 frames of the large-face clip at medium with
  // Hopper's face: 7.7 MB against 7.2) on top of a blur per face per frame.
  const cv::Mat& SourceTexture(int step) {
    if (step == 0) return source_->image;
    return RecentlyUsed(
               sharpened_, kKeptTextures, [step](const auto& kept) { return kept.first == step; },
               [&] { return std::pair(step, Sharpened(source_->image, step)); })
        .second;
  }

  FaceGeometry MakeGeometry(const Face& target, cv::Size image, const WorkFrame& work, const cv::Mat& region,
                            const Landmarks68& landmarks) {
    FaceGeometry g;
    g.size = work.size;
    g.scale = work.scale;
    g.landmarks = landmarks;
    const float face_width = FaceWidth(landmarks);
    g.morphed = MorphTowardSource(landmarks, source_->landmarks, options_.morph);
    for (std::size_t i = 0; i < landmarks.size(); ++i) {
      const cv::Point2f move = g.morphed[i] - landmarks[i];
      const float length = static_cast<float>(cv::norm(move));
      if (length > kMaxMorphShift * face_width) g.morphed[i] = landmarks[i] + move * (kMaxMorphShift * face_width / length);
    }
    Face morphed;  // the target face with the source's proportions
    morphed.landmarks68 = g.morphed;
    morphed.landmarks5 = Landmarks5From68(g.morphed);
    const std::vector<cv::Point2f> points = SwapPoints(landmarks, work.size);
    const std::vector<cv::Point2f> morphed_points = SwapPoints(g.morphed, work.size);
    if (options_.morph > 0) {
      std::vector<cv::Point2f> ring = SwapOutline(target.landmarks68, image);
      for (auto& p : ring) p = work.ToWork(p);
      std::vector<cv::Point2f> from = points, to = morphed_points;
      from.insert(from.end(), ring.begin(), ring.end());
      to.insert(to.end(), ring.begin(), ring.end());
      g.shift = MorphShift(from, to, work.size);
    }
    cv::Mat coverage;
    // Keeping the target's glasses, the output wears no others: where the source's own
    // frame lies, the target's face shows.
    const cv::Mat& source_visible = options_.keep_glasses && !source_->visible_without_glasses.empty()
                                        ? source_->visible_without_glasses
                                        : source_->visible;
    const int sharpen_step = SharpenStep(face_width / static_cast<float>(work.scale) / FaceWidth(source_->landmarks));
    std::vector<cv::Mat> warped = WarpTriangles({SourceTexture(sharpen_step), source_visible}, source_->points,
                                                morphed_points, source_->triangles, work.size, coverage);
    g.warped = warped[0];
    const cv::Rect whole(0, 0, work.size.width, work.size.height);
    g.mask = CreateFaceMask(morphed, work.size, whole, options_.mask);
    cv::min(g.mask, coverage, g.mask);
    cv::Mat visible;  // the source's forehead where it is its own skin
    warped[1].convertTo(visible, CV_32F, 1.0 / 255);
    cv::min(g.mask, visible, g.mask);
    // The target's own inner mouth stays: its teeth and tongue when open, and where the
    // lips part slightly or meet, their own line. It is grown and feathered in
    // proportion to its opening or half the source's, whichever is wider (at most 1.5 %
    // of the face width): an open source mouth's teeth, squeezed onto lips barely
    // apart, showed as specks at the corners, and on a large target as a bright line
    // between the lips (Obama onto Lincoln); grown by the target's opening alone, 14 and
    // 12 light grey pixels within Hopper's lips, her photo and its mirror, now none. How
    // much of it stays grows with the wider of the two openings, all of it from
    // kKeptMouthOpening up: between a closed source's lips, all of a closed target's lip
    // line was a line of its lipstick (Lincoln onto Hopper: 253 lipstick-red pixels
    // within her lips' outline, 56 now, 517 her own).
    const float opening = MouthOpening(g.morphed);
    if (opening > 0) {
      const float source_opening = MouthOpening(source_->landmarks);
      const float kept = std::min(1.0f, std::max(opening, source_opening) / kKeptMouthOpening);
      const float feather = std::min(kMouthFeather, std::max(opening, source_opening / 2) / 4);
      const cv::Mat keep = 1.0 - kept * CreateInnerMouthMask(g.morphed, whole, feather);
      cv::min(g.mask, keep, g.mask);
    }
    // When asked, the target's glasses stay on, over the source's eyes.
    const GlassesFrame glasses =
        options_.keep_glasses ? FindGlassesFrame(region, landmarks, target.glasses) : GlassesFrame{};
    g.glasses = glasses.found;
    if (glasses.found) {
      cv::Mat visible;
      glasses.mask.convertTo(visible, CV_32F, -1.0 / 255, 1.0);
      KeepOccluders(visible, g.mask, g.shift);
    }
    g.core_mask = g.mask > 0.5f;
    g.shown = cv::boundingRect(g.mask > 0);
    if (options_.color_transfer) {
      g.source_skin = CreateSkinMask(g.morphed, work.size) & g.core_mask;
      g.target_skin = CreateSkinMask(landmarks, work.size);
      if (glasses.found) g.target_skin.setTo(0, glasses.mask);
    }
    return g;
  }

  SwapperOptions options_;
  std::shared_ptr<const SwapSource> source_;
  std::vector<FaceGeometry> kept_;  // most recently used first
  std::vector<std::pair<int, cv::Mat>> sharpened_;  // SourceTexture's, by step, most recently used first
};

}  // namespace

Result<BlendMode> ParseBlendMode(std::string_view name) {
  if (name == "feather") return BlendMode::kFeather;
  if (name == "poisson") return BlendMode::kPoisson;
  return InvalidArgument("unknown --face-swapper-blend '" + std::string(name) + "' (feather, poisson)");
}

Status ValidateSwapperOptions(const SwapperOptions& options) {
  if (!(options.morph >= 0.0f && options.morph <= 1.0f)) {
    return InvalidArgument("--face-swapper-morph must be between 0 and 1");
  }
  if (options.enhancer_blend < 0 || options.enhancer_blend > 100) {
    return InvalidArgument("--face-enhancer-blend must be between 0 and 100");
  }
  if (options.processors.empty()) return InvalidArgument("--processors needs at least one processor");
  return ValidateFaceMaskOptions(options.mask);
}

Result<std::shared_ptr<const SwapSource>> PrepareSource(const std::vector<SourceImage>& sources) {
  if (sources.empty()) return InvalidArgument("no source face to prepare");
  SWAPLINE_ASSIGN_OR_RETURN(SwapSource lead, CropSource(sources.front()));
  lead.faces = sources;
  if (sources.size() == 1) return std::make_shared<const SwapSource>(std::move(lead));

  // The mean shape, in the lead crop's frame.
  Landmarks68 mean{};
  for (const SourceImage& source : sources) {
    std::vector<cv::Point2f> aligned;
    cv::transform(std::vector<cv::Point2f>(source.face.landmarks68.begin(), source.face.landmarks68.end()), aligned,
                  FitSimilarity(source.face.landmarks68, lead.landmarks));
    for (std::size_t i = 0; i < mean.size(); ++i) mean[i] += aligned[i] * (1.0f / static_cast<float>(sources.size()));
  }
  SwapSource average;
  average.faces = sources;
  average.landmarks = mean;
  average.points = SwapPoints(mean, lead.image.size());
  average.triangles = Triangulate(average.points);
  if (average.triangles.empty()) return NoFace("source face landmarks are degenerate");

  // Each texture warped onto the mean shape and toned like the lead, then averaged
  // where it shows the face's own skin: a forehead under one source's hat comes from
  // the others, and so do eyes behind one source's glasses frame (its frame's pixels
  // count a hundredth). Outside every warp (the crop's margin) the lead's own pixels
  // stay, at a tiny weight; the average's forehead is visible where any source's is.
  constexpr double kFallbackWeight = 1e-3, kGlassesWeight = 1e-2;
  bool any_glasses = false;
  const cv::Mat skin = CreateSkinMask(mean, lead.image.size());
  cv::Mat sum, weight(lead.image.size(), CV_32F, cv::Scalar(kFallbackWeight));
  lead.image.convertTo(sum, CV_32FC3, kFallbackWeight);
  cv::Mat lead_warped;
  average.visible = cv::Mat::zeros(lead.image.size(), CV_8U);
  average.visible_without_glasses = cv::Mat::zeros(lead.image.size(), CV_8U);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    SwapSource other;
    if (i > 0) {  // the lead is cropped already
      SWAPLINE_ASSIGN_OR_RETURN(other, CropSource(sources[i]));
    }
    const SwapSource& crop = i == 0 ? lead : other;
    cv::Mat coverage;
    any_glasses |= !crop.visible_without_glasses.empty();
    const cv::Mat& bare = crop.visible_without_glasses.empty() ? crop.visible : crop.visible_without_glasses;
    std::vector<cv::Mat> warped = WarpTriangles({crop.image, crop.visible, bare}, crop.points, average.points,
                                                average.triangles, lead.image.size(), coverage);
    if (lead_warped.empty()) {
      lead_warped = warped[0];
    } else {
      TransferTone(warped[0], skin, lead_warped, skin);
    }
    cv::max(average.visible, warped[1], average.visible);
    cv::max(average.visible_without_glasses, warped[2], average.visible_without_glasses);
    cv::Mat as_float, visible, visible_bare, source_weight3;
    warped[0].convertTo(as_float, CV_32FC3);
    warped[1].convertTo(visible, CV_32F, kGlassesWeight / 255);
    warped[2].convertTo(visible_bare, CV_32F, 1.0 / 255);
    const cv::Mat source_weight = coverage.mul(cv::max(visible, visible_bare));
    cv::merge(std::vector<cv::Mat>{source_weight, source_weight, source_weight}, source_weight3);
    sum += as_float.mul(source_weight3);
    weight += source_weight;
  }
  cv::Mat weight3;
  cv::merge(std::vector<cv::Mat>{weight, weight, weight}, weight3);
  cv::Mat mean_texture = sum / weight3;
  mean_texture.convertTo(average.image, CV_8UC3);
  if (!any_glasses) average.visible_without_glasses.release();
  return std::make_shared<const SwapSource>(std::move(average));
}

namespace {

// out = round((base * (255 - weight) + face * weight) / 255), element by element over
// 8-bit matrices of one size and channel count: weight 0 gives base exactly, 255
// face exactly. All in 16 bits (255 * 255 + 128 fits), which the compiler vectorises.
SWAPLINE_WIDE_LOOPS void BlendByWeight(const cv::Mat& base, const cv::Mat& face, const cv::Mat& weight, cv::Mat& out) {
  const int width = out.cols * out.channels();
  for (int y = 0; y < out.rows; ++y) {
    const std::uint8_t* b = base.ptr<std::uint8_t>(y);
    const std::uint8_t* f = face.ptr<std::uint8_t>(y);
    const std::uint8_t* w = weight.ptr<std::uint8_t>(y);
    std::uint8_t* o = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < width; ++x) {
      const auto t = static_cast<std::uint16_t>(b[x] * (255 - w[x]) + f[x] * w[x] + 128);
      o[x] = static_cast<std::uint8_t>((t + (t >> 8)) >> 8);  // t / 255, rounded
    }
  }
}

// What the paste reads of a patch, whatever the plane: the blend weight in 8 bits, made
// at the working resolution (enlarging 8-bit planes costs a fraction of enlarging
// float ones, and 1/255 steps are finer than the 8-bit pixels they weigh; where the
// mask is 0 the weight is 0), and with a morph, where the target's own pixels move
// while they still show through the face (weight below 1: the face's core hides them),
// and where anything shows or moves at all: counts of such working pixels, as
// integral images (cv::integral), since the paste asks about a thousand windows.
class PasteWeights {
 public:
  explicit PasteWeights(const SwapPatch& patch) {
    patch.mask.convertTo(weight_, CV_8U, 255.0);
    if (patch.shift.empty()) return;
    cv::Mat still[2];
    cv::split(patch.shift, still);
    const cv::Mat moves = (still[0] != 0) | (still[1] != 0);
    cv::integral(((weight_ < 255) & moves) / 255, moving_, CV_32S);
    cv::integral(((weight_ > 0) | moves) / 255, shown_, CV_32S);
  }

  const cv::Mat& weight() const { return weight_; }
  // Whether any working pixel of `window` moves; shows or moves.
  bool Moves(const cv::Rect& window) const { return Any(moving_, window); }
  bool Shows(const cv::Rect& window) const { return Any(shown_, window); }

 private:
  static bool Any(const cv::Mat& counts, const cv::Rect& r) {
    return counts.at<int>(r.y + r.height, r.x + r.width) - counts.at<int>(r.y, r.x + r.width) -
               counts.at<int>(r.y + r.height, r.x) + counts.at<int>(r.y, r.x) >
           0;
  }

  cv::Mat weight_, moving_, shown_;
};

void PasteInto(const PastePlane& plane, const SwapPatch& patch, const PasteWeights& pasted) {
  cv::Mat region = plane.region;
  const cv::Mat& face = plane.face;
  const cv::Size size = region.size();
  const cv::Mat& weight = pasted.weight();
  cv::Mat weights = weight;  // one copy per channel
  if (face.channels() > 1) cv::merge(std::vector<cv::Mat>(static_cast<std::size_t>(face.channels()), weight), weights);
  AxisMap along_x = ResizeMap(face.cols, size.width), along_y = ResizeMap(face.rows, size.height);
  if (patch.scale > 0) {
    // A plane pixel's centre in the frame, then in the working frame.
    const double step = patch.scale * plane.subsampling, centre = 0.5 * (plane.subsampling - 1);
    along_x = {step, patch.scale * (plane.at.x * plane.subsampling + centre - patch.origin.x)};
    along_y = {step, patch.scale * (plane.at.y * plane.subsampling + centre - patch.origin.y)};
  }
  cv::Mat up_face, up_weight;
  Enlarge(face, up_face, size, along_x, along_y);
  Enlarge(weights, up_weight, size, along_x, along_y);
  if (patch.shift.empty()) {
    BlendByWeight(region, up_face, up_weight, region);
    return;
  }
  // The morph's remap skips what the face hides, and what neither the face nor the
  // motion reaches is left alone.
  const cv::Size work = patch.shift.size();
  const cv::Mat original = region.clone();  // the remap reads pixels that runs before it have pasted
  enum class Paste { kNone, kBlend, kMoveAndBlend };
  auto paste_in = [&](int x, int y, int rows) {
    const cv::Rect window =
        WorkWindow(cv::Rect(x, y, std::min(kPasteBlock, size.width - x), rows), along_x, along_y, work);
    if (!pasted.Shows(window)) return Paste::kNone;
    return pasted.Moves(window) ? Paste::kMoveAndBlend : Paste::kBlend;
  };
  // Along each row of blocks, neighbours that need the same work go as one run: one
  // remap call per run, not per block (each call has a fixed cost).
  cv::Mat map_x, map_y, moved;
  for (int y = 0; y < size.height; y += kPasteBlock) {
    const int rows = std::min(kPasteBlock, size.height - y);
    Paste next = paste_in(0, y, rows);
    for (int x = 0; x < size.width;) {
      const Paste current = next;
      int end = std::min(x + kPasteBlock, size.width);
      while (end < size.width && (next = paste_in(end, y, rows)) == current) {
        end = std::min(end + kPasteBlock, size.width);
      }
      const cv::Rect run(x, y, end - x, rows);
      x = end;
      if (current == Paste::kNone) continue;
      cv::Mat out = region(run);
      cv::Mat base = out;
      if (current == Paste::kMoveAndBlend) {
        MotionMaps(patch.shift, along_x, along_y, run, map_x, map_y);
        cv::remap(original, moved, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
        base = moved;
      }
      BlendByWeight(base, up_face(run), up_weight(run), out);
    }
  }
}

}  // namespace

void PastePatch(std::span<const PastePlane> planes, const SwapPatch& patch) {
  if (patch.face.empty()) return;
  const PasteWeights pasted(patch);
  for (const PastePlane& plane : planes) PasteInto(plane, patch, pasted);
}

Status Swap(FaceSwapper& swapper, cv::Mat& image, const Face& target, SwapTimings* timings) {
  const cv::Rect roi = swapper.Region(target, image.size());
  const RegionReader read = [&image](const cv::Rect& r, cv::Size size, int interpolation) {
    if (size == r.size()) return image(r).clone();
    cv::Mat scaled;
    cv::resize(image(r), scaled, size, 0, 0, interpolation);
    return scaled;
  };
  SWAPLINE_ASSIGN_OR_RETURN(SwapPatch patch, swapper.Render(target, image.size(), roi, read, timings));
  const auto paste_start = Clock::now();
  PastePatch({{PastePlane{image(roi), patch.face, roi.tl(), 1}}}, patch);
  if (timings) timings->paste_ms += MsSince(paste_start);
  return Status::Ok();
}

std::unique_ptr<FaceSwapper> NewClassicFaceSwapper(const SwapperOptions& options) {
  return std::make_unique<ClassicFaceSwapper>(options);
}

std::vector<cv::Point2f> SwapOutline(const Landmarks68& landmarks, cv::Size image) {
  const std::vector<cv::Point2f> outline = FaceOutline(landmarks, image);
  cv::Point2f centre(0, 0);
  for (const auto& p : outline) centre += p;
  centre *= 1.0f / static_cast<float>(outline.size());
  const float push = kMorphRing * FaceWidth(landmarks);
  std::vector<cv::Point2f> ring;
  for (const auto& p : outline) {
    const cv::Point2f out = p - centre;
    const float length = std::max(1e-3f, static_cast<float>(cv::norm(out)));
    ring.push_back(p + out * (push / length));
  }
  return ring;
}

std::vector<cv::Point2f> SwapPoints(const Landmarks68& landmarks, cv::Size image) {
  std::vector<cv::Point2f> points(landmarks.begin(), landmarks.end());
  const std::vector<cv::Point2f> forehead = ForeheadPoints(landmarks, image);
  points.insert(points.end(), forehead.begin(), forehead.end());
  return points;
}

std::vector<cv::Vec3i> Triangulate(const std::vector<cv::Point2f>& points) {
  const cv::Rect2f bounds = cv::boundingRect(points);
  cv::Subdiv2D subdiv(cv::Rect(cvFloor(bounds.x) - 1, cvFloor(bounds.y) - 1, cvCeil(bounds.width) + 3,
                               cvCeil(bounds.height) + 3));
  // Subdiv2D merges coincident points; index_of keeps the first index of each location.
  for (std::size_t i = 0; i < points.size(); ++i) subdiv.insert(points[i]);
  std::vector<cv::Vec6f> list;
  subdiv.getTriangleList(list);
  auto index_of = [&points](float x, float y) {
    for (std::size_t i = 0; i < points.size(); ++i) {
      if (std::abs(points[i].x - x) < 1e-3f && std::abs(points[i].y - y) < 1e-3f) return static_cast<int>(i);
    }
    return -1;
  };
  std::vector<cv::Vec3i> triangles;
  for (const cv::Vec6f& t : list) {
    const cv::Vec3i tri(index_of(t[0], t[1]), index_of(t[2], t[3]), index_of(t[4], t[5]));
    if (tri[0] < 0 || tri[1] < 0 || tri[2] < 0) continue;  // touches Subdiv2D's outer frame
    triangles.push_back(tri);
  }
  return triangles;
}

}  // namespace swapline::vision
