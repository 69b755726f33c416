#include "vision/face_swapper.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include "vision/face_aligner.h"

namespace swapline::vision {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Margin around the source face kept for sampling, as a share of its size.
constexpr float kSourceMargin = 0.05f;
// Lab spread ratios are capped so a flat target region cannot blow up the source.
constexpr double kMaxSpreadRatio = 3.0;

// Longest side of the working face frame: the per-face work (warp, masks, colour,
// blending maths) runs at this resolution at most, so a face that fills a 4K frame
// costs what a 512 px face costs; only the final paste-back touches full resolution.
// 512 keeps the detail any source photo's face has in practice.
constexpr int kWorkSide = 512;

// A face's region of interest scaled down to the working resolution.
struct WorkFrame {
  cv::Rect roi;  // frame pixels
  double scale = 1.0;  // work pixels per frame pixel, <= 1
  cv::Size size;

  // Pixel centres map onto pixel centres, as cv::resize does.
  cv::Point2f ToWork(cv::Point2f p) const {
    const auto s = static_cast<float>(scale);
    return {(p.x - static_cast<float>(roi.x) + 0.5f) * s - 0.5f, (p.y - static_cast<float>(roi.y) + 0.5f) * s - 0.5f};
  }
  Face ToWork(Face face) const {
    const cv::Point2f corner = ToWork(face.box.tl());
    face.box = cv::Rect2f(corner.x, corner.y, face.box.width * static_cast<float>(scale),
                          face.box.height * static_cast<float>(scale));
    for (auto& p : face.landmarks68) p = ToWork(p);
    for (auto& p : face.landmarks5) p = ToWork(p);
    return face;
  }
  // 2x3 map from frame pixels to work pixels, for PasteBack().
  cv::Mat FrameToWork() const {
    const cv::Point2f origin = ToWork(cv::Point2f(0, 0));
    return (cv::Mat_<double>(2, 3) << scale, 0, origin.x, 0, scale, origin.y);
  }
};

WorkFrame MakeWorkFrame(const cv::Rect& roi) {
  WorkFrame work;
  work.roi = roi;
  work.scale = std::min(1.0, static_cast<double>(kWorkSide) / std::max(roi.width, roi.height));
  work.size = cv::Size(std::max(1, cvRound(roi.width * work.scale)), std::max(1, cvRound(roi.height * work.scale)));
  return work;
}

double TriangleArea(const cv::Point2f& a, const cv::Point2f& b, const cv::Point2f& c) {
  return std::abs((b.x - a.x) * (c.y - a.y) - (c.x - a.x) * (b.y - a.y)) * 0.5;
}

void TransferColour(cv::Mat& warped, const cv::Mat& target, const cv::Mat& stats_mask) {
  cv::Mat warped_lab, target_lab;
  cv::cvtColor(warped, warped_lab, cv::COLOR_BGR2Lab);
  cv::cvtColor(target, target_lab, cv::COLOR_BGR2Lab);
  cv::Scalar source_mean, source_std, target_mean, target_std;
  cv::meanStdDev(warped_lab, source_mean, source_std, stats_mask);
  cv::meanStdDev(target_lab, target_mean, target_std, stats_mask);
  cv::Mat lab;
  warped_lab.convertTo(lab, CV_32FC3);
  std::vector<cv::Mat> channels;
  cv::split(lab, channels);
  for (int c = 0; c < 3; ++c) {
    const double ratio = std::min(kMaxSpreadRatio, target_std[c] / std::max(source_std[c], 1.0));
    channels[c].convertTo(channels[c], CV_32F, ratio, target_mean[c] - source_mean[c] * ratio);
  }
  cv::merge(channels, lab);
  lab.convertTo(warped_lab, CV_8UC3);
  cv::cvtColor(warped_lab, warped, cv::COLOR_Lab2BGR);
}

class ClassicFaceSwapper final : public FaceSwapper {
 public:
  explicit ClassicFaceSwapper(const ClassicSwapperOptions& options) : options_(options) {}

  Status SetSource(const cv::Mat& image, const Face& face) override {
    if (image.empty() || image.type() != CV_8UC3) return InvalidArgument("source must be an 8-bit BGR image");
    const std::vector<cv::Point2f> points = SwapPoints(face.landmarks68, image.size());
    cv::Rect2f bounds = cv::boundingRect(points);
    const float dx = bounds.width * kSourceMargin, dy = bounds.height * kSourceMargin;
    const cv::Rect roi = cv::Rect(cvFloor(bounds.x - dx), cvFloor(bounds.y - dy), cvCeil(bounds.width + 2 * dx) + 1,
                                  cvCeil(bounds.height + 2 * dy) + 1) &
                         cv::Rect(0, 0, image.cols, image.rows);
    if (roi.width < 8 || roi.height < 8) return NoFace("source face is too small to use");
    source_ = image(roi).clone();
    source_points_.clear();
    for (const auto& p : points) source_points_.emplace_back(p.x - roi.x, p.y - roi.y);
    triangles_ = Triangulate(source_points_);
    if (triangles_.empty()) return NoFace("source face landmarks are degenerate");
    return Status::Ok();
  }

  Status Swap(cv::Mat& frame, const Face& target, SwapTimings* timings) override {
    if (source_.empty()) return Internal("Swap() called before SetSource()");
    const auto warp_start = Clock::now();
    const cv::Rect roi = FaceRegionOfInterest(target.landmarks68, frame.size(), 0.02f);
    if (roi.width < 4 || roi.height < 4) return Status::Ok();  // face outside the frame
    const WorkFrame work = MakeWorkFrame(roi);
    cv::Mat region;  // the target's face region at the working resolution
    if (work.scale < 1.0) {
      cv::resize(frame(roi), region, work.size, 0, 0, cv::INTER_AREA);
    } else {
      region = frame(roi).clone();
    }
    const Face face = work.ToWork(target);
    const cv::Rect whole(0, 0, work.size.width, work.size.height);

    cv::Mat warped, coverage;
    WarpSource(SwapPoints(face.landmarks68, work.size), work.size, warped, coverage);

    cv::Mat mask = CreateFaceMask(face, work.size, whole, options_.mask);
    cv::min(mask, coverage, mask);
    if (IsMouthOpen(face.landmarks68)) {
      cv::Mat mouth = CreateInnerMouthMask(face.landmarks68, whole);
      cv::Mat keep = 1.0 - mouth;
      cv::min(mask, keep, mask);
    }
    if (timings) timings->warp_ms += MsSince(warp_start);

    const auto colour_start = Clock::now();
    cv::Mat core_mask = mask > 0.5f;
    if (cv::countNonZero(core_mask) < 16) return Status::Ok();  // nothing visible to swap
    if (options_.color_transfer) TransferColour(warped, region, core_mask);
    if (timings) timings->colour_ms += MsSince(colour_start);

    const auto blend_start = Clock::now();
    if (options_.blend == BlendMode::kPoisson) {
      // The solve replaces everything under the core mask; paste that back hard-edged.
      SWAPLINE_RETURN_IF_ERROR(PoissonBlend(region, warped, core_mask));
      warped = region;
      core_mask.convertTo(mask, CV_32F, 1.0 / 255);
    }
    PasteBack(frame, warped, mask, work.FrameToWork());
    if (timings) timings->blend_ms += MsSince(blend_start);
    return Status::Ok();
  }

 private:
  // Piecewise-affine warp of the source onto `points` (ROI coordinates): every ROI
  // pixel inside a target triangle samples the source through that triangle's affine
  // map, all in one remap. `coverage` is 1 where a triangle covers the pixel.
  void WarpSource(const std::vector<cv::Point2f>& points, cv::Size size, cv::Mat& warped, cv::Mat& coverage) const {
    cv::Mat labels(size, CV_16S, cv::Scalar(-1));
    std::vector<cv::Matx23f> affines(triangles_.size());
    constexpr int kShift = 4;  // sub-pixel vertices for fillConvexPoly
    for (std::size_t t = 0; t < triangles_.size(); ++t) {
      const cv::Vec3i& tri = triangles_[t];
      const cv::Point2f dst[3] = {points[tri[0]], points[tri[1]], points[tri[2]]};
      const cv::Point2f src[3] = {source_points_[tri[0]], source_points_[tri[1]], source_points_[tri[2]]};
      if (TriangleArea(dst[0], dst[1], dst[2]) < 1e-2) continue;
      cv::Mat affine = cv::getAffineTransform(dst, src);
      affine.convertTo(affine, CV_32F);
      affines[t] = cv::Matx23f(affine.ptr<float>());
      cv::Point vertices[3];
      for (int k = 0; k < 3; ++k) {
        vertices[k] = cv::Point(cvRound(dst[k].x * (1 << kShift)), cvRound(dst[k].y * (1 << kShift)));
      }
      cv::fillConvexPoly(labels, vertices, 3, cv::Scalar(static_cast<double>(t)), cv::LINE_8, kShift);
    }
    cv::Mat map_x(size, CV_32F), map_y(size, CV_32F);
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
    cv::remap(source_, warped, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  }

  // Poisson-blends `warped` into `region` (same size) under `core_mask`, in place.
  static Status PoissonBlend(cv::Mat& region, const cv::Mat& warped, const cv::Mat& core_mask) {
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

  ClassicSwapperOptions options_;
  cv::Mat source_;
  std::vector<cv::Point2f> source_points_;
  std::vector<cv::Vec3i> triangles_;
};

}  // namespace

Result<BlendMode> ParseBlendMode(std::string_view name) {
  if (name == "feather") return BlendMode::kFeather;
  if (name == "poisson") return BlendMode::kPoisson;
  return InvalidArgument("unknown --face-swapper-blend '" + std::string(name) + "' (feather, poisson)");
}

std::unique_ptr<FaceSwapper> NewClassicFaceSwapper(const ClassicSwapperOptions& options) {
  return std::make_unique<ClassicFaceSwapper>(options);
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
