#include "vision/face_masker.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>

#include <opencv2/imgproc.hpp>

#include "core/recently_used.h"
#include "vision/face_aligner.h"
#include "vision/face_tone.h"

namespace swapline::vision {
namespace {

// Box masks are built in an aligned square of this size, as FaceFusion's swappers do.
constexpr int kBoxCropSize = 256;
// Share of the chin-to-nose-bridge distance the brows are raised by to reach the forehead.
constexpr float kForeheadRaise = 1.0f / 3.0f;
// The upper part of the raised forehead often holds hair, a hat brim or a fringe in
// one of the two faces; the area mask fades out over it, from this share of the
// raise (full weight below) to the top (zero).
constexpr float kForeheadFadeStart = 0.4f;
// Area feather: the mask ramps from 0 at the landmark outline to 1 at this share of
// the face width inside it, times --face-mask-blur (0.3: 9 % of the face width). A
// ramp on the distance to the outline, unlike a Gaussian, never leaks outside it and
// costs the same for any width.
constexpr float kAreaFeatherPerBlur = 0.3f;

// Forehead visibility (CreateForeheadVisibilityMask), in shares of the chin-to-nose-
// bridge distance: the search starts this far above the brow points (the brows' own hair)...
constexpr float kBrowThickness = 0.06f;
// ...and reaches past the raised forehead's top by this factor of the raise;
constexpr float kForeheadSearchReach = 1.2f;
// a run of far-from-skin pixels this long cuts the forehead (a wrinkle is shorter);
constexpr float kCoverRun = 0.03f;
// the cut is evened out over this share of the face width along the brows, taking
// the cut of this rank (0: the lowest) among the neighbours', so that the lighter
// tips of a fringe do not show; and it is feathered with a Gaussian of this share of
// the chin-to-nose-bridge distance.
constexpr float kCoverEvenWidth = 0.2f;
constexpr float kCoverRank = 0.15f;
constexpr float kCoverFeather = 0.02f;

int OddKernel(double sigma) { return std::max(3, 2 * static_cast<int>(std::ceil(3 * sigma)) + 1); }

// The face's "up", chin to nose bridge: the forehead is measured along it, so tilted
// heads get a tilted forehead, and in shares of its length.
cv::Point2f ChinToBridge(const Landmarks68& landmarks) { return landmarks[27] - landmarks[8]; }

// Scales `mask` down over the top of the forehead (see kForeheadFadeStart).
void FadeForehead(const Landmarks68& landmarks, const cv::Rect& roi, cv::Mat& mask) {
  const cv::Point2f up = ChinToBridge(landmarks) * kForeheadRaise;
  const float raise = static_cast<float>(cv::norm(up));
  if (raise < 1.0f) return;
  const cv::Point2f unit = up * (1.0f / raise);
  cv::Point2f brows(0, 0);
  for (int i = 17; i <= 26; ++i) brows += landmarks[i];
  brows *= 0.1f;
  // t(x, y) = ((x, y) + roi offset - brows) . unit / raise, linear in x and y.
  const float base = ((static_cast<float>(roi.x) - brows.x) * unit.x + (static_cast<float>(roi.y) - brows.y) * unit.y) / raise;
  const float dx = unit.x / raise, dy = unit.y / raise;
  const float span = 1.0f - kForeheadFadeStart;
  for (int y = 0; y < mask.rows; ++y) {
    float* m = mask.ptr<float>(y);
    for (int x = 0; x < mask.cols; ++x) {
      const float t = base + dx * static_cast<float>(x) + dy * static_cast<float>(y);
      if (t > kForeheadFadeStart) m[x] *= std::max(0.0f, 1.0f - (t - kForeheadFadeStart) / span);
    }
  }
}

// CreateCropBoxMask(kBoxCropSize, blur, padding), made once per (blur, padding): its
// blur is most of a box mask's cost, and a process sees few distinct settings. The
// few most recently used are kept; the matrices are shared read-only.
cv::Mat CachedCropBoxMask(float blur, const std::array<float, 4>& padding) {
  struct Entry {
    float blur;
    std::array<float, 4> padding;
    cv::Mat mask;
  };
  constexpr std::size_t kKept = 8;
  static std::mutex mutex;
  static std::vector<Entry> kept;
  std::lock_guard lock(mutex);
  return RecentlyUsed(
             kept, kKept, [&](const Entry& entry) { return entry.blur == blur && entry.padding == padding; },
             [&] { return Entry{blur, padding, CreateCropBoxMask(kBoxCropSize, blur, padding)}; })
      .mask;
}

}  // namespace

Result<MaskType> ParseMaskType(std::string_view name) {
  if (name == "box") return MaskType::kBox;
  if (name == "area") return MaskType::kArea;
  if (name == "occlusion") return MaskType::kOcclusion;
  if (name == "region") return MaskType::kRegion;
  return InvalidArgument("unknown --face-mask-types '" + std::string(name) + "' (box, area, occlusion, region)");
}

std::vector<int> FaceMaskOptions::AllFaceRegions() {
  std::vector<int> ids;
  for (const FaceRegion& region : kFaceRegions) ids.push_back(region.class_id);
  return ids;
}

bool FaceMaskOptions::Uses(MaskType type) const { return std::find(types.begin(), types.end(), type) != types.end(); }

Status FaceMaskOptions::CheckSegmenters() const {
  if (Uses(MaskType::kOcclusion) && !occluder) {
    return FailedPrecondition("--face-mask-types occlusion: no occluder model is loaded");
  }
  if (Uses(MaskType::kRegion) && !parser) {
    return FailedPrecondition("--face-mask-types region: no face parser model is loaded");
  }
  return Status::Ok();
}

Status ValidateFaceMaskOptions(const FaceMaskOptions& options) {
  if (options.types.empty()) return InvalidArgument("--face-mask-types needs at least one type");
  if (!(options.blur >= 0.0f && options.blur <= 1.0f)) {
    return InvalidArgument("--face-mask-blur must be between 0 and 1");
  }
  for (float p : options.padding) {
    if (!(p >= 0.0f && p <= 100.0f)) return InvalidArgument("--face-mask-padding values must be 0..100");
  }
  return Status::Ok();
}

float FaceWidth(const Landmarks68& landmarks) {
  return static_cast<float>(cv::norm(landmarks[16] - landmarks[0]));
}

std::vector<cv::Point2f> ForeheadPoints(const Landmarks68& landmarks, cv::Size image) {
  const cv::Point2f raise = ChinToBridge(landmarks) * kForeheadRaise;
  const float max_x = static_cast<float>(image.width - 1), max_y = static_cast<float>(image.height - 1);
  std::vector<cv::Point2f> points;
  for (int i = 26; i >= 17; --i) {
    const cv::Point2f p = landmarks[i] + raise;
    points.emplace_back(std::clamp(p.x, 0.0f, max_x), std::clamp(p.y, 0.0f, max_y));
  }
  return points;
}

std::vector<cv::Point2f> FaceOutline(const Landmarks68& landmarks, cv::Size image) {
  std::vector<cv::Point2f> outline(landmarks.begin(), landmarks.begin() + 17);
  const std::vector<cv::Point2f> forehead = ForeheadPoints(landmarks, image);
  outline.insert(outline.end(), forehead.begin(), forehead.end());
  return outline;
}

cv::Rect FaceRegionOfInterest(const Landmarks68& landmarks, cv::Size image, float margin) {
  const cv::Rect2f bounds = cv::boundingRect(FaceOutline(landmarks, image));
  const float dx = bounds.width * margin, dy = bounds.height * margin;
  const cv::Rect grown(cvFloor(bounds.x - dx), cvFloor(bounds.y - dy), cvCeil(bounds.width + 2 * dx) + 1,
                       cvCeil(bounds.height + 2 * dy) + 1);
  return grown & cv::Rect(0, 0, image.width, image.height);
}

float MouthOpening(const Landmarks68& landmarks) {
  const float gap = static_cast<float>(cv::norm(landmarks[61] - landmarks[67]) +
                                       cv::norm(landmarks[62] - landmarks[66]) +
                                       cv::norm(landmarks[63] - landmarks[65])) / 3.0f;
  return gap / std::max(FaceWidth(landmarks), 1.0f);
}

cv::Mat CreateAreaMask(const Face& face, cv::Size image, const cv::Rect& roi, float blur) {
  cv::Mat mask = cv::Mat::zeros(roi.size(), CV_32F);
  std::vector<cv::Point2f> hull;
  cv::convexHull(FaceOutline(face.landmarks68, image), hull);
  if (hull.size() < 3) return mask;
  cv::Point2f centre(0, 0);
  for (const auto& p : hull) centre += p;
  centre *= 1.0f / static_cast<float>(hull.size());
  // Inside a convex polygon, a point's distance to the outline is its least distance
  // to the edges' lines, each linear in x and y: exact to a fraction of a pixel, where
  // a filled and rounded outline would step by whole pixels as the face moves (and
  // move the outline a landmarker reads on the output from frame to frame).
  struct Edge {
    float nx, ny, at_origin;  // inward unit normal; signed distance of the roi's pixel (0, 0)
  };
  std::vector<Edge> edges;
  for (std::size_t i = 0; i < hull.size(); ++i) {
    const cv::Point2f a = hull[i], b = hull[(i + 1) % hull.size()];
    const float length = static_cast<float>(cv::norm(b - a));
    if (length < 1e-4f) continue;
    cv::Point2f normal((a.y - b.y) / length, (b.x - a.x) / length);
    if (normal.dot(centre - a) < 0) normal = -normal;
    const cv::Point2f origin(static_cast<float>(roi.x), static_cast<float>(roi.y));
    edges.push_back({normal.x, normal.y, normal.dot(origin - a)});
  }
  if (edges.empty()) return mask;
  // The feather ramps from 0 on the outline itself. Below a pixel of ramp the edge is
  // antialiased instead: the pixel's covered share, roughly.
  const auto ramp = static_cast<float>(blur * kAreaFeatherPerBlur * FaceWidth(face.landmarks68));
  const bool feathered = ramp >= 1.0f;
  std::vector<float> distance(static_cast<std::size_t>(roi.width));
  for (int y = 0; y < mask.rows; ++y) {
    std::fill(distance.begin(), distance.end(), std::numeric_limits<float>::max());
    for (const Edge& e : edges) {
      const float start = e.at_origin + e.ny * static_cast<float>(y);
      for (int x = 0; x < mask.cols; ++x) {
        distance[static_cast<std::size_t>(x)] =
            std::min(distance[static_cast<std::size_t>(x)], start + e.nx * static_cast<float>(x));
      }
    }
    float* m = mask.ptr<float>(y);
    for (int x = 0; x < mask.cols; ++x) {
      const float d = distance[static_cast<std::size_t>(x)];
      if (feathered) {
        // smoothstep(distance / ramp): soft at both ends of the ramp.
        const float t = std::clamp(d / ramp, 0.0f, 1.0f);
        m[x] = t * t * (3.0f - 2.0f * t);
      } else {
        m[x] = std::clamp(d + 0.5f, 0.0f, 1.0f);  // a pixel centred on the outline is half inside
      }
    }
  }
  FadeForehead(face.landmarks68, roi, mask);
  return mask;
}

cv::Mat CreateCropBoxMask(int size, float blur, const std::array<float, 4>& padding) {
  const int blur_amount = static_cast<int>(size * 0.5 * blur);
  const int blur_area = std::max(blur_amount / 2, 1);
  cv::Mat crop_mask = cv::Mat::ones(size, size, CV_32F);
  auto band = [&](float percent) { return std::max(blur_area, static_cast<int>(size * percent / 100.0f)); };
  const int top = band(padding[0]), right = band(padding[1]);
  const int bottom = band(padding[2]), left = band(padding[3]);
  crop_mask.rowRange(0, std::min(top, size)).setTo(0);
  crop_mask.rowRange(std::max(size - bottom, 0), size).setTo(0);
  crop_mask.colRange(0, std::min(left, size)).setTo(0);
  crop_mask.colRange(std::max(size - right, 0), size).setTo(0);
  if (blur_amount > 0) {
    const double sigma = blur_amount * 0.25;
    cv::GaussianBlur(crop_mask, crop_mask, cv::Size(0, 0), sigma);
  }
  return crop_mask;
}

cv::Mat CreateBoxMask(const Face& face, const cv::Rect& roi, const FaceMaskOptions& options,
                      WarpTemplate box_template) {
  const cv::Mat crop_mask = CachedCropBoxMask(options.blur, options.padding);
  auto alignment = EstimateAlignment(face.landmarks5, box_template, cv::Size(kBoxCropSize, kBoxCropSize));
  if (!alignment.ok()) return cv::Mat::zeros(roi.size(), CV_32F);
  cv::Mat to_roi = InvertAlignment(*alignment);
  to_roi.at<double>(0, 2) -= roi.x;
  to_roi.at<double>(1, 2) -= roi.y;
  cv::Mat mask;
  cv::warpAffine(crop_mask, mask, to_roi, roi.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
  return mask;
}

cv::Mat CreateFaceMask(const Face& face, cv::Size image, const cv::Rect& roi, const FaceMaskOptions& options,
                       WarpTemplate box_template) {
  cv::Mat combined;
  for (MaskType type : options.types) {
    if (type == MaskType::kOcclusion || type == MaskType::kRegion) continue;
    cv::Mat mask = type == MaskType::kBox ? CreateBoxMask(face, roi, options, box_template)
                                          : CreateAreaMask(face, image, roi, options.blur);
    if (combined.empty()) {
      combined = mask;
    } else {
      cv::min(combined, mask, combined);
    }
  }
  // Learned masks only: they narrow a full mask.
  return combined.empty() ? cv::Mat(roi.size(), CV_32F, cv::Scalar(1.0)) : combined;
}

void KeepOccluders(const cv::Mat& visible, cv::Mat& mask, cv::Mat& shift) {
  cv::Mat narrowed;
  cv::min(mask, visible, narrowed);
  mask = narrowed;
  if (shift.empty()) return;
  cv::Mat weights, stopped;
  const cv::Mat planes[] = {visible, visible};
  cv::merge(planes, 2, weights);
  cv::multiply(shift, weights, stopped);
  shift = stopped;
}

Status ApplySegmentationMasks(const Face& face, WarpTemplate warp_template, const cv::Mat& target,
                              const cv::Mat& swapped, const FaceMaskOptions& options, cv::Mat& mask,
                              cv::Mat& shift) {
  // One segmentation: `image` cropped for `segmenter`, segmented and mapped back.
  auto segment = [&](const FaceSegmenter& segmenter, const cv::Mat& image) -> Result<cv::Mat> {
    const cv::Size crop_size(segmenter.side(), segmenter.side());
    SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat alignment, EstimateAlignment(face.landmarks5, warp_template, crop_size));
    SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat crop_mask,
                              segmenter.Segment(WarpFace(image, alignment, crop_size), options.regions));
    // The mask covers the crop's square at its own size.
    const cv::Mat to_mask = alignment * (static_cast<double>(crop_mask.cols) / segmenter.side());
    cv::Mat learned;
    cv::warpAffine(crop_mask, learned, InvertAlignment(to_mask), target.size(), cv::INTER_LINEAR,
                   cv::BORDER_CONSTANT, 0);
    return learned;
  };
  SWAPLINE_RETURN_IF_ERROR(options.CheckSegmenters());
  if (options.Uses(MaskType::kOcclusion)) {
    SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat visible, segment(*options.occluder, target));
    KeepOccluders(visible, mask, shift);
  }
  if (options.Uses(MaskType::kRegion)) {
    // The output as it will look: the swapped face over the target.
    cv::Mat composite;
    cv::blendLinear(swapped, target, mask, 1.0 - mask, composite);
    SWAPLINE_ASSIGN_OR_RETURN(const cv::Mat regions, segment(*options.parser, composite));
    cv::Mat narrowed;
    cv::min(mask, regions, narrowed);
    mask = narrowed;
  }
  return Status::Ok();
}

cv::Mat CreateInnerMouthMask(const Landmarks68& landmarks, const cv::Rect& roi, float feather) {
  cv::Mat mask = cv::Mat::zeros(roi.size(), CV_32F);
  const std::vector<cv::Point2f> inner(landmarks.begin() + 60, landmarks.begin() + 68);
  std::vector<cv::Point2f> hull;
  cv::convexHull(inner, hull);
  const std::vector<cv::Point> polygon =
      RoundedPoints(hull, cv::Point2f(static_cast<float>(roi.x), static_cast<float>(roi.y)));
  cv::fillConvexPoly(mask, polygon, cv::Scalar(1.0), cv::LINE_AA);
  const double sigma = feather * FaceWidth(landmarks);
  const int grow = std::max(1, static_cast<int>(std::lround(2 * sigma)));
  const int blur = sigma >= 0.5 ? OddKernel(sigma) : 0;
  // Grown and blurred only where the mouth can reach (the antialiased edge's pixel, the
  // growth, the blur's radius): the rest of `roi` stays 0 either way, and the filters
  // read the zeros around that part as they would in the whole mask.
  const int reach = 1 + grow + blur / 2;
  const cv::Rect near = (cv::boundingRect(polygon) + cv::Point(-reach, -reach) + cv::Size(2 * reach, 2 * reach)) &
                        cv::Rect(cv::Point(0, 0), roi.size());
  if (near.empty()) return mask;
  cv::Mat part = mask(near);
  cv::dilate(part, part, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * grow + 1, 2 * grow + 1)));
  if (blur > 0) cv::GaussianBlur(part, part, cv::Size(blur, blur), sigma);
  return mask;
}

namespace {

// CreateForeheadVisibilityMask on `bgr`, a region holding the face and the search
// above it, into `visible` (255 on entry, of bgr's size).
void MarkForeheadCover(const cv::Mat& bgr, const Landmarks68& landmarks, cv::Mat visible) {
  const cv::Point2f up_full = ChinToBridge(landmarks);
  const float height = static_cast<float>(cv::norm(up_full));
  const cv::Mat skin = CreateSkinMask(landmarks, bgr.size());
  if (height < 8 || cv::countNonZero(skin) < 16) return;
  const cv::Point2f up = up_full * (1.0f / height);

  cv::Mat lab;
  cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
  const cv::Mat far = MarkFarFromSkin(lab, skin);
  const auto far_from_skin = [&far](cv::Point point) { return far.at<std::uint8_t>(point) != 0; };

  // Brow line sampled about once per pixel, and how far above each sample the forehead
  // stays visible (`reach`: all of it).
  std::vector<cv::Point2f> brow;
  for (int i = 17; i < 26; ++i) {
    const cv::Point2f from = landmarks[i], to = landmarks[i + 1];
    const int steps = std::max(1, cvCeil(cv::norm(to - from)));
    for (int k = 0; k < steps; ++k) brow.push_back(from + (to - from) * (static_cast<float>(k) / static_cast<float>(steps)));
  }
  brow.push_back(landmarks[26]);
  const float start = kBrowThickness * height, reach = kForeheadSearchReach * kForeheadRaise * height;
  const int run = std::max(2, cvRound(kCoverRun * height));
  const cv::Rect inside(0, 0, bgr.cols, bgr.rows);
  std::vector<float> cut(brow.size(), reach);
  bool covered = false;
  for (std::size_t s = 0; s < brow.size(); ++s) {
    int far = 0;
    for (float t = start; t < reach; t += 1.0f) {
      const cv::Point2f p = brow[s] + up * t;
      const cv::Point pixel(cvRound(p.x), cvRound(p.y));
      // Beyond the image the source has no forehead to give.
      const bool beyond_image = !inside.contains(pixel);
      if (beyond_image || far_from_skin(pixel)) {
        if (++far >= run || beyond_image) {
          cut[s] = t - static_cast<float>(far - 1);
          covered = true;
          break;
        }
      } else {
        far = 0;
      }
    }
  }
  if (!covered) return;
  const float feather = kCoverFeather * height;  // the Gaussian's sigma
  // A running low percentile evens out the cut: one stray column neither cuts nor spares.
  const int half = std::max(1, cvRound(kCoverEvenWidth * FaceWidth(landmarks) / 2));
  std::vector<float> even(cut.size());
  for (std::size_t s = 0; s < cut.size(); ++s) {
    const std::size_t first = s >= static_cast<std::size_t>(half) ? s - static_cast<std::size_t>(half) : 0;
    const std::size_t last = std::min(cut.size(), s + static_cast<std::size_t>(half) + 1);
    std::vector<float> window(cut.begin() + static_cast<std::ptrdiff_t>(first), cut.begin() + static_cast<std::ptrdiff_t>(last));
    const auto rank = window.begin() + static_cast<std::ptrdiff_t>(kCoverRank * static_cast<float>(window.size() - 1));
    std::nth_element(window.begin(), rank, window.end());
    // The feather ends at the cut: what covers the forehead gets no weight at all.
    even[s] = std::max(0.0f, *rank - 2 * feather);
  }
  // The covered part: above the cut line, which runs on past the brows' ends to the
  // temples, up to well beyond the forehead.
  const cv::Point2f along = (landmarks[26] - landmarks[17]) * (1.0f / std::max(1.0f, static_cast<float>(cv::norm(landmarks[26] - landmarks[17]))));
  const float temple = 0.25f * FaceWidth(landmarks), beyond = 4 * reach;
  std::vector<cv::Point2f> line;
  line.push_back(brow.front() - along * temple + up * even.front());
  for (std::size_t s = 0; s < brow.size(); ++s) line.push_back(brow[s] + up * even[s]);
  line.push_back(brow.back() + along * temple + up * even.back());
  std::vector<cv::Point2f> polygon = line;
  for (auto it = line.rbegin(); it != line.rend(); ++it) polygon.push_back(*it + up * beyond);
  constexpr int kShift = 4;
  std::vector<cv::Point> vertices;
  for (const auto& p : polygon) vertices.emplace_back(cvRound(p.x * (1 << kShift)), cvRound(p.y * (1 << kShift)));
  cv::fillPoly(visible, std::vector<std::vector<cv::Point>>{vertices}, cv::Scalar(0), cv::LINE_AA, kShift);
  if (feather >= 0.5f) cv::GaussianBlur(visible, visible, cv::Size(OddKernel(feather), OddKernel(feather)), feather);
}

}  // namespace

cv::Mat CreateForeheadVisibilityMask(const cv::Mat& bgr, const Landmarks68& landmarks) {
  cv::Mat visible(bgr.size(), CV_8U, cv::Scalar(255));
  // Only the face, the search above it and the cut's run past the brows to the temples
  // are read and drawn: a large photo costs what its face costs.
  const cv::Point2f reach = ChinToBridge(landmarks) * (kForeheadSearchReach * kForeheadRaise);
  std::vector<cv::Point2f> points(landmarks.begin(), landmarks.end());
  for (int i = 17; i <= 26; ++i) points.push_back(landmarks[i] + reach);
  const cv::Rect2f bounds = cv::boundingRect(points);
  const float margin = 0.4f * FaceWidth(landmarks) + 2.0f;
  const cv::Rect area = cv::Rect(cvFloor(bounds.x - margin), cvFloor(bounds.y - margin),
                                 cvCeil(bounds.width + 2 * margin), cvCeil(bounds.height + 2 * margin)) &
                        cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (area.width < 2 || area.height < 2) return visible;
  const cv::Point2f origin(static_cast<float>(area.x), static_cast<float>(area.y));
  Landmarks68 local;
  for (std::size_t i = 0; i < local.size(); ++i) local[i] = landmarks[i] - origin;
  MarkForeheadCover(bgr(area), local, visible(area));
  return visible;
}

}  // namespace swapline::vision
