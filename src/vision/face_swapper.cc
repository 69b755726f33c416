#include "vision/face_swapper.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include "vision/face_morph.h"
#include "vision/face_tone.h"

namespace swapline::vision {

struct SwapSource {
  cv::Mat image;                    // the face crop (or the average of several)
  Landmarks68 landmarks;            // in `image`
  std::vector<cv::Point2f> points;  // SwapPoints(landmarks)
  std::vector<cv::Vec3i> triangles;
};

namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Longest side of the working face frame: the per-face work (warps, masks, tone,
// blending maths) runs at this resolution at most, so a face that fills a 4K frame
// costs what a 512 px face costs; only the final paste-back touches full resolution.
// 512 keeps the detail any source photo's face has in practice.
constexpr int kWorkSide = 512;
// Margin around the source face kept for sampling, as a share of its size.
constexpr float kSourceMargin = 0.05f;
// The morph moves the target's pixels up to a ring this share of the face width
// outside the face outline; beyond it nothing moves.
constexpr float kMorphRing = 0.10f;
// A morphed point moves at most this share of the face width, half the ring: the
// ring's triangles can never fold over.
constexpr float kMaxMorphShift = 0.05f;
// Source faces smaller than the target face by more than this are sharpened.
constexpr float kSharpenAbove = 1.25f;

// A face's region of interest scaled down to the working resolution.
struct WorkFrame {
  cv::Rect roi;        // frame pixels
  double scale = 1.0;  // work pixels per frame pixel, <= 1
  cv::Size size;

  // Pixel centres map onto pixel centres, as cv::resize does.
  cv::Point2f ToWork(cv::Point2f p) const {
    const auto s = static_cast<float>(scale);
    return {(p.x - static_cast<float>(roi.x) + 0.5f) * s - 0.5f, (p.y - static_cast<float>(roi.y) + 0.5f) * s - 0.5f};
  }
  Landmarks68 ToWork(const Landmarks68& points) const {
    Landmarks68 out;
    std::transform(points.begin(), points.end(), out.begin(), [this](cv::Point2f p) { return ToWork(p); });
    return out;
  }
};

WorkFrame MakeWorkFrame(const Landmarks68& landmarks, cv::Size image) {
  std::vector<cv::Point2f> points = FaceOutline(landmarks, image);
  const std::vector<cv::Point2f> ring = SwapOutline(landmarks, image);
  points.insert(points.end(), ring.begin(), ring.end());
  const cv::Rect2f bounds = cv::boundingRect(points);
  WorkFrame work;
  work.roi = cv::Rect(cvFloor(bounds.x) - 2, cvFloor(bounds.y) - 2, cvCeil(bounds.width) + 5,
                      cvCeil(bounds.height) + 5) &
             cv::Rect(0, 0, image.width, image.height);
  work.scale = std::min(1.0, static_cast<double>(kWorkSide) / std::max(work.roi.width, work.roi.height));
  work.size = cv::Size(std::max(1, cvRound(work.roi.width * work.scale)),
                       std::max(1, cvRound(work.roi.height * work.scale)));
  return work;
}

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
  for (std::size_t t = 0; t < triangles.size(); ++t) {
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

// `image` warped piecewise-affinely from `src` points onto `dst` points.
cv::Mat WarpTriangles(const cv::Mat& image, const std::vector<cv::Point2f>& src, const std::vector<cv::Point2f>& dst,
                      const std::vector<cv::Vec3i>& triangles, cv::Size size, cv::Mat& coverage) {
  cv::Mat map_x, map_y, warped;
  TriangleMaps(src, dst, triangles, size, map_x, map_y, coverage);
  cv::remap(image, warped, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return warped;
}

// The morph's motion field (CV_32FC2, work pixels): for each work pixel, where its
// new content comes from, relative to itself; zero outside the ring.
cv::Mat MorphShift(const std::vector<cv::Point2f>& from, const std::vector<cv::Point2f>& to, cv::Size size) {
  cv::Mat map_x, map_y, coverage;
  TriangleMaps(from, to, Triangulate(from), size, map_x, map_y, coverage);
  // No motion on the ring's last two pixels: scaled up to full resolution, the field
  // must be zero at the ring already, not a pixel or two beyond it.
  cv::erode(coverage, coverage, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)));
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

// Absolute sampling positions for cv::remap from a motion field (`shift`, CV_32FC2,
// relative, in working pixels) on an image `per_shift_pixel` times finer.
cv::Mat MotionMap(const cv::Mat& shift, float per_shift_pixel) {
  cv::Mat map(shift.size(), CV_32FC2);
  for (int y = 0; y < map.rows; ++y) {
    const cv::Vec2f* s = shift.ptr<cv::Vec2f>(y);
    cv::Vec2f* m = map.ptr<cv::Vec2f>(y);
    const auto fy = static_cast<float>(y);
    for (int x = 0; x < map.cols; ++x) {
      m[x] = cv::Vec2f(static_cast<float>(x) + s[x][0] * per_shift_pixel, fy + s[x][1] * per_shift_pixel);
    }
  }
  return map;
}

// The paste-back, the only full-resolution step: over the face's region, the
// target's own pixels moved by `shift` (work pixels; may be empty) and, under
// `mask`, `face`, both scaled up from the working frame. Both steps are OpenCV's
// vectorised remap and blend; where the mask is 0 and nothing moves, the remap reads
// each pixel at its own integer position and the blend weighs it 1, so pixels
// outside the swap ring come out unchanged.
void PasteBack(cv::Mat& frame, const WorkFrame& work, const cv::Mat& face, const cv::Mat& mask, const cv::Mat& shift) {
  cv::Mat region = frame(work.roi);
  cv::Mat up_face = face, up_mask = mask, up_shift = shift;
  if (work.scale < 1.0) {
    cv::resize(face, up_face, work.roi.size(), 0, 0, cv::INTER_LINEAR);
    cv::resize(mask, up_mask, work.roi.size(), 0, 0, cv::INTER_LINEAR);
    if (!shift.empty()) cv::resize(shift, up_shift, work.roi.size(), 0, 0, cv::INTER_LINEAR);
  }
  cv::Mat base = region;
  if (!shift.empty()) {
    // Into a matrix of its own: the remap reads `region` while it writes.
    base = cv::Mat();
    cv::remap(region, base, MotionMap(up_shift, static_cast<float>(1.0 / work.scale)), cv::noArray(),
              cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  }
  // The mask is within 0..1 (CreateFaceMask), and so is its bilinear enlargement.
  cv::blendLinear(base, up_face, 1.0 - up_mask, up_mask, region);
}

// Unsharp mask of `face`, as strong as the source was enlarged (`enlargement` = target
// face width / source face width, both in full-resolution pixels).
void Sharpen(cv::Mat& face, float enlargement, float work_enlargement) {
  if (enlargement <= kSharpenAbove) return;
  const double amount = std::min(1.0, 0.5 * std::log2(enlargement));
  const double sigma = 0.6 * std::max(1.0f, work_enlargement);
  cv::Mat blurred;
  cv::GaussianBlur(face, blurred, cv::Size(0, 0), sigma);
  cv::addWeighted(face, 1.0 + amount, blurred, -amount, 0, face);
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
  const cv::Point2f offset(static_cast<float>(roi.x), static_cast<float>(roi.y));
  for (std::size_t i = 0; i < out.landmarks.size(); ++i) out.landmarks[i] = source.face.landmarks68[i] - offset;
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
  cv::Mat source_skin;     // skin of the warped source under the core mask (tone)
  cv::Mat target_skin;     // skin of the target (tone)
};

// A face's geometry is reused while none of its landmarks moved by more than this
// (working pixels) against the frame the geometry was made for: a quarter pixel
// of mask or texture offset is below what the feathered edge and bilinear
// resampling show.
constexpr float kReuseMaxShift = 0.25f;
// Geometries kept per swapper: a few faces per frame.
constexpr std::size_t kKeptGeometries = 4;

bool SameGeometry(const FaceGeometry& geometry, const WorkFrame& work, const Landmarks68& landmarks) {
  if (geometry.size != work.size || std::abs(geometry.scale - work.scale) > 1e-9) return false;
  for (std::size_t i = 0; i < landmarks.size(); ++i) {
    const cv::Point2f d = landmarks[i] - geometry.landmarks[i];
    if (d.x * d.x + d.y * d.y > kReuseMaxShift * kReuseMaxShift) return false;
  }
  return true;
}

class ClassicFaceSwapper final : public FaceSwapper {
 public:
  explicit ClassicFaceSwapper(const ClassicSwapperOptions& options) : options_(options) {}

  void SetSource(std::shared_ptr<const SwapSource> source) override {
    source_ = std::move(source);
    kept_.clear();
  }

  Status Swap(cv::Mat& frame, const Face& target, SwapTimings* timings) override {
    if (!source_) return Internal("Swap() called before SetSource()");
    const auto warp_start = Clock::now();
    const WorkFrame work = MakeWorkFrame(target.landmarks68, frame.size());
    if (work.roi.width < 4 || work.roi.height < 4) return Status::Ok();  // face outside the frame
    cv::Mat region;  // the target's face region at the working resolution
    if (work.scale < 1.0) {
      // Feathered blending reads it only for tone statistics, which a bilinear
      // reduction serves as well as an area average at a fraction of the cost; the
      // Poisson solve blends into it, so it gets the area average.
      cv::resize(frame(work.roi), region, work.size, 0, 0,
                 options_.blend == BlendMode::kPoisson ? cv::INTER_AREA : cv::INTER_LINEAR);
    } else {
      region = frame(work.roi).clone();
    }
    const FaceGeometry& geometry = Geometry(target, frame.size(), work, timings);
    if (timings) timings->warp_ms += MsSince(warp_start);

    const auto colour_start = Clock::now();
    if (cv::countNonZero(geometry.core_mask) < 16) return Status::Ok();  // nothing visible to swap
    cv::Mat warped = geometry.warped.clone();
    if (options_.color_transfer) TransferTone(warped, geometry.source_skin, region, geometry.target_skin);
    const float face_width = FaceWidth(geometry.landmarks);
    const float source_width = FaceWidth(source_->landmarks);
    Sharpen(warped, face_width / static_cast<float>(work.scale) / source_width, face_width / source_width);
    if (timings) timings->colour_ms += MsSince(colour_start);

    const auto blend_start = Clock::now();
    cv::Mat mask = geometry.mask;
    if (options_.blend == BlendMode::kPoisson) {
      // The solve replaces everything under the core mask; paste that back hard-edged.
      if (!geometry.shift.empty()) {
        cv::remap(region.clone(), region, MotionMap(geometry.shift, 1.0f), cv::noArray(), cv::INTER_LINEAR,
                  cv::BORDER_REPLICATE);
      }
      SWAPLINE_RETURN_IF_ERROR(PoissonBlend(region, warped, geometry.core_mask));
      warped = region;
      // A new matrix: `mask` still shares the kept geometry's pixels.
      mask = cv::Mat();
      geometry.core_mask.convertTo(mask, CV_32F, 1.0 / 255);
    }
    PasteBack(frame, work, warped, mask, geometry.shift);
    if (timings) timings->blend_ms += MsSince(blend_start);
    return Status::Ok();
  }

 private:
  // The geometry of `target` in `work`: a kept one when the face held still, else
  // made anew (and kept, replacing the least recently used).
  const FaceGeometry& Geometry(const Face& target, cv::Size image, const WorkFrame& work, SwapTimings* timings) {
    const Landmarks68 landmarks = work.ToWork(target.landmarks68);
    if (timings) ++timings->faces;
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if (!SameGeometry(*it, work, landmarks)) continue;
      if (timings) ++timings->reused_geometries;
      std::rotate(kept_.begin(), it, it + 1);  // most recent first
      return kept_.front();
    }
    if (kept_.size() == kKeptGeometries) kept_.pop_back();
    kept_.insert(kept_.begin(), MakeGeometry(target, image, work, landmarks));
    return kept_.front();
  }

  FaceGeometry MakeGeometry(const Face& target, cv::Size image, const WorkFrame& work, const Landmarks68& landmarks) const {
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
    g.warped = WarpTriangles(source_->image, source_->points, morphed_points, source_->triangles, work.size, coverage);
    const cv::Rect whole(0, 0, work.size.width, work.size.height);
    g.mask = CreateFaceMask(morphed, work.size, whole, options_.mask);
    cv::min(g.mask, coverage, g.mask);
    if (IsMouthOpen(g.morphed)) {
      cv::Mat keep = 1.0 - CreateInnerMouthMask(g.morphed, whole);
      cv::min(g.mask, keep, g.mask);
    }
    g.core_mask = g.mask > 0.5f;
    if (options_.color_transfer) {
      g.source_skin = CreateSkinMask(g.morphed, work.size) & g.core_mask;
      g.target_skin = CreateSkinMask(landmarks, work.size);
    }
    return g;
  }

  ClassicSwapperOptions options_;
  std::shared_ptr<const SwapSource> source_;
  std::vector<FaceGeometry> kept_;  // most recently used first
};

}  // namespace

Result<BlendMode> ParseBlendMode(std::string_view name) {
  if (name == "feather") return BlendMode::kFeather;
  if (name == "poisson") return BlendMode::kPoisson;
  return InvalidArgument("unknown --face-swapper-blend '" + std::string(name) + "' (feather, poisson)");
}

Status ValidateSwapperOptions(const ClassicSwapperOptions& options) {
  if (!(options.morph >= 0.0f && options.morph <= 1.0f)) {
    return InvalidArgument("--face-swapper-morph must be between 0 and 1");
  }
  return ValidateFaceMaskOptions(options.mask);
}

Result<std::shared_ptr<const SwapSource>> PrepareSource(const std::vector<SourceImage>& sources) {
  if (sources.empty()) return InvalidArgument("no source face to prepare");
  SWAPLINE_ASSIGN_OR_RETURN(SwapSource lead, CropSource(sources.front()));
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
  average.landmarks = mean;
  average.points = SwapPoints(mean, lead.image.size());
  average.triangles = Triangulate(average.points);
  if (average.triangles.empty()) return NoFace("source face landmarks are degenerate");

  // Each texture warped onto the mean shape and toned like the lead, then averaged.
  // Outside every warp (the crop's margin) the lead's own pixels stay, at a tiny weight.
  constexpr double kFallbackWeight = 1e-3;
  const cv::Mat skin = CreateSkinMask(mean, lead.image.size());
  cv::Mat sum, weight(lead.image.size(), CV_32F, cv::Scalar(kFallbackWeight));
  lead.image.convertTo(sum, CV_32FC3, kFallbackWeight);
  cv::Mat lead_warped;
  for (const SourceImage& source : sources) {
    if (source.image.empty() || source.image.type() != CV_8UC3) {
      return InvalidArgument("source must be an 8-bit BGR image");
    }
    cv::Mat coverage;
    cv::Mat warped = WarpTriangles(source.image, SwapPoints(source.face.landmarks68, source.image.size()),
                                   average.points, average.triangles, lead.image.size(), coverage);
    if (lead_warped.empty()) {
      lead_warped = warped;
    } else {
      TransferTone(warped, skin, lead_warped, skin);
    }
    cv::Mat as_float, coverage3;
    warped.convertTo(as_float, CV_32FC3);
    cv::merge(std::vector<cv::Mat>{coverage, coverage, coverage}, coverage3);
    sum += as_float.mul(coverage3);
    weight += coverage;
  }
  cv::Mat weight3;
  cv::merge(std::vector<cv::Mat>{weight, weight, weight}, weight3);
  cv::Mat mean_texture = sum / weight3;
  mean_texture.convertTo(average.image, CV_8UC3);
  return std::make_shared<const SwapSource>(std::move(average));
}

std::unique_ptr<FaceSwapper> NewClassicFaceSwapper(const ClassicSwapperOptions& options) {
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
