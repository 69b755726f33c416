#include "vision/face_tone.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "vision/face_masker.h"
#include "vision/image_reduce.h"

namespace swapline::vision {
namespace {

// Trimmed second pass: pixels farther than this many spreads from the skin's mean
// lightness are not skin (frames of glasses, stubble, shadows of hair).
constexpr double kSkinTrim = 2.5;
// Detail spread ratios are kept in this range (see the header): never more contrast
// than the face's own (it would blow out teeth and glasses), at least half of it.
constexpr double kMinDetailRatio = 0.5, kMaxDetailRatio = 1.0;
// A ratio below 1 narrows the source's detail only within this many of its skin
// spreads of its skin mean: skin texture takes the target's, while eyes, brows and
// nostrils beyond it keep their own contrast past that point. Narrowed whole, a
// contrasty black-and-white source (deep-set eyes under dark brows) came out with a
// flat band where its eyes were; the 466 pairs' mean distance to the source 0.417 ->
// 0.412, the Lincoln photo's as a source 0.428 -> 0.400 (0.403 at half a spread, 0.409
// at 1.5).
constexpr float kDetailKnee = 1.0f;
// A source whose skin's colour means and spreads are all within this (8-bit a and b)
// is a black-and-white photo: its pixels have no colour of their own, so each would
// take the target's skin colour alike, brows, pupils and the whites of the eyes too
// (a brown band across Lincoln's eyes on a colour target). Its colour fades to grey
// from kGreyFadeFrom to kGreyFadeFrom + kGreyFadeSpan of its skin's detail spreads
// from the skin's lightness: skin is coloured, hair and eyes stay grey. Lincoln's
// photo as the source 0.400 -> 0.391 from itself, the other sources unchanged.
constexpr double kGreyChroma = 2.0;
constexpr float kGreyFadeFrom = 1.0f, kGreyFadeSpan = 2.0f;
// Colour spread ratios are capped so a flat source region cannot blow up.
constexpr double kMaxColourRatio = 3.0;
// A spread ratio above 1 widens the source's colour only within this many of its skin
// spreads of its skin mean: skin takes the target's variation, while brows, lips and
// eyes, far beyond it, keep their own colour distance past that point. Widened
// whole, a smooth-skinned source on a ruddy target came out with blue brows and
// violet lips.
constexpr float kColourKnee = 2.0f;
// Skin statistics and shading come from copies at most this many pixels on their
// longest side: a few thousand skin pixels give the same means, spreads and surface
// as the full working frame, at a fraction of its Lab conversion. (At 128 the tone
// shifted enough to move a re-detected chin: Hopper -> Collins scale 2.1 % -> 3.2 %.)
constexpr int kStatisticsSide = 192;

std::vector<cv::Point2f> Range(const Landmarks68& p, int first, int last) {
  return {p.begin() + first, p.begin() + last + 1};
}

// A quadratic surface a + bx + cy + dx² + exy + fy² in normalised coordinates.
struct Shading {
  cv::Matx61d coefficients = cv::Matx61d::zeros();
  cv::Point2f centre;
  float scale = 1;
  cv::Rect bounds;          // of the fitted pixels; outside, the surface continues flat
  float low = 0, high = 0;  // the surface's range over the fitted pixels

  static cv::Matx16d Basis(float x, float y) { return {1.0, x, y, double(x) * x, double(x) * y, double(y) * y}; }
};

Shading FitShading(const cv::Mat& lightness, const cv::Mat& skin) {
  Shading shading;
  const cv::Rect bounds = cv::boundingRect(skin);
  if (bounds.empty()) return shading;
  shading.bounds = bounds;
  shading.centre = cv::Point2f(bounds.x + bounds.width * 0.5f, bounds.y + bounds.height * 0.5f);
  shading.scale = std::max(1.0f, std::max(bounds.width, bounds.height) * 0.5f);
  cv::Matx66d normal = cv::Matx66d::zeros();
  cv::Matx61d rhs = cv::Matx61d::zeros();
  const int step = std::max(1, std::max(bounds.width, bounds.height) / 96);  // ~100² samples suffice
  for (int y = bounds.y; y < bounds.y + bounds.height; y += step) {
    const uchar* s = skin.ptr<uchar>(y);
    const float* l = lightness.ptr<float>(y);
    for (int x = bounds.x; x < bounds.x + bounds.width; x += step) {
      if (!s[x]) continue;
      const cv::Matx16d b = Shading::Basis((static_cast<float>(x) - shading.centre.x) / shading.scale,
                                           (static_cast<float>(y) - shading.centre.y) / shading.scale);
      normal += b.t() * b;
      rhs += b.t() * static_cast<double>(l[x]);
    }
  }
  // A little ridge keeps the fit stable on a thin or small skin area.
  for (int i = 1; i < 6; ++i) normal(i, i) += 1e-3 * normal(0, 0);
  if (!cv::solve(normal, rhs, shading.coefficients, cv::DECOMP_CHOLESKY)) shading.coefficients = {};
  shading.low = std::numeric_limits<float>::max();
  shading.high = std::numeric_limits<float>::lowest();
  for (int y = bounds.y; y < bounds.y + bounds.height; y += step) {
    const uchar* s = skin.ptr<uchar>(y);
    for (int x = bounds.x; x < bounds.x + bounds.width; x += step) {
      if (!s[x]) continue;
      const float x0 = (static_cast<float>(x) - shading.centre.x) / shading.scale;
      const float y0 = (static_cast<float>(y) - shading.centre.y) / shading.scale;
      const auto v = static_cast<float>((Shading::Basis(x0, y0) * shading.coefficients)(0, 0));
      shading.low = std::min(shading.low, v);
      shading.high = std::max(shading.high, v);
    }
  }
  return shading;
}

// `shading` over an image whose pixel (x, y) is (x, y) * `to_fit` + offset in the
// pixels the shading was fitted on: per row, a quadratic in x between the fitted
// bounds (flat beyond them). Surface's loop over it is one the compiler vectorises;
// TransferTone's, with its 8-bit rounding, is not, and still costs less than the
// float planes it replaced.
class ShadingSampler {
 public:
  // The quadratic a + b u + d u² of one row.
  struct Row {
    float a, b, d;
  };

  ShadingSampler(const Shading& shading, float to_fit_x, float to_fit_y)
      : shading_(shading),
        to_fit_y_(to_fit_y),
        du_(to_fit_x / shading.scale),
        u0_((0.5f * to_fit_x - 0.5f - shading.centre.x) / shading.scale),
        u_low_((static_cast<float>(shading.bounds.x) - shading.centre.x) / shading.scale),
        u_high_((static_cast<float>(shading.bounds.x + shading.bounds.width - 1) - shading.centre.x) / shading.scale),
        v_low_((shading.bounds.y - shading.centre.y) / shading.scale),
        v_high_((shading.bounds.y + shading.bounds.height - 1 - shading.centre.y) / shading.scale) {}

  Row RowAt(int y) const {
    const cv::Matx61d& c = shading_.coefficients;
    const double v = std::clamp(((y + 0.5) * to_fit_y_ - 0.5 - shading_.centre.y) / shading_.scale, v_low_, v_high_);
    return {static_cast<float>(c(0) + c(2) * v + c(5) * v * v), static_cast<float>(c(1) + c(4) * v),
            static_cast<float>(c(3))};
  }

  float At(const Row& row, int x) const {
    const float u = std::clamp(static_cast<float>(x) * du_ + u0_, u_low_, u_high_);
    return std::clamp(row.a + u * (row.b + u * row.d), shading_.low, shading_.high);
  }

 private:
  const Shading& shading_;
  float to_fit_y_, du_, u0_, u_low_, u_high_;
  double v_low_, v_high_;
};

cv::Mat Surface(const Shading& shading, cv::Size size, float to_fit_x, float to_fit_y) {
  const ShadingSampler sampler(shading, to_fit_x, to_fit_y);
  cv::Mat surface(size, CV_32F);
  for (int y = 0; y < size.height; ++y) {
    const ShadingSampler::Row row = sampler.RowAt(y);
    float* out = surface.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) out[x] = sampler.At(row, x);
  }
  return surface;
}

// OpenCV 4.6 builds some state on first use without a lock: its Lab conversion tables
// (concurrent first users each build them: a race, and all copies but one leak) and
// the singleton behind Mat::zeros/ones/eye (double-checked locking on a plain
// pointer, seen by ThreadSanitizer when two job slots made their first mask at once).
// Frame and slot workers would be those first users, so both are built during static
// initialisation, before any thread starts. This file is linked wherever faces are
// swapped.
[[maybe_unused]] const bool kOpenCvLazyStateBuilt = [] {
  cv::Mat bgr(1, 1, CV_8UC3, cv::Scalar(128, 128, 128)), lab;
  cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
  cv::cvtColor(lab, bgr, cv::COLOR_Lab2BGR);
  const cv::Mat zeros = cv::Mat::zeros(1, 1, CV_8U);
  return !zeros.empty();
}();

// OpenCV's 8-bit Lab: L scaled to 0..255, a and b offset by 128. Its table-driven
// conversions cost an eighth of the float ones, and the values they quantise (L in
// steps of 0.4, a and b in steps of 1) are below what a face's noise shows.
constexpr double kLightnessTo8Bit = 255.0 / 100.0;
constexpr double kColourOffset = 128.0;

// Float Lab planes (L 0..100, a, b) of an 8-bit BGR image.
std::vector<cv::Mat> ToLab(const cv::Mat& bgr) {
  cv::Mat lab;
  cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
  std::vector<cv::Mat> planes;
  cv::split(lab, planes);
  planes[0].convertTo(planes[0], CV_32F, 1.0 / kLightnessTo8Bit);
  for (int c = 1; c < 3; ++c) planes[c].convertTo(planes[c], CV_32F, 1.0, -kColourOffset);
  return planes;
}

// `skin` without the pixels whose lightness is far from the skin's (trimmed pass).
cv::Mat TrimSkin(const cv::Mat& lightness, const cv::Mat& skin) {
  cv::Scalar mean, spread;
  cv::meanStdDev(lightness, mean, spread, skin);
  cv::Mat near;
  cv::inRange(lightness, mean[0] - kSkinTrim * spread[0], mean[0] + kSkinTrim * spread[0], near);
  return near & skin;
}

// The statistics of one side: its skin's lightness and colour, at the reduced size.
struct SkinStatistics {
  Shading shading;
  cv::Scalar detail_mean, detail_spread;
  cv::Scalar colour_mean[3], colour_spread[3];  // a and b at 1, 2
};

// Statistics of `bgr` over `skin` from a copy at most kStatisticsSide pixels on its
// longest side, averaged over whole blocks (OpenCV's fast path; up to `whole - 1`
// last columns and rows are left out); `to_small` receives the scale to that copy.
// Both sides are measured at the same scale, so their detail spreads compare.
std::optional<SkinStatistics> MeasureSkin(const cv::Mat& bgr, const cv::Mat& skin, cv::Point2f& to_small) {
  const int whole = (std::max(bgr.cols, bgr.rows) + kStatisticsSide - 1) / kStatisticsSide;
  cv::Mat small = bgr, small_skin = skin;
  to_small = {1.0f, 1.0f};
  if (whole > 1) {
    const AreaReduction reduced = ReduceByBlocks(bgr, whole);
    small = reduced.image;
    to_small = reduced.scale;
    cv::resize(skin(cv::Rect(cv::Point(0, 0), reduced.covered)), small_skin, small.size(), 0, 0, cv::INTER_NEAREST);
  }
  const std::vector<cv::Mat> lab = ToLab(small);
  const cv::Mat trimmed = TrimSkin(lab[0], small_skin);
  if (cv::countNonZero(trimmed) < 16) return std::nullopt;
  SkinStatistics stats;
  stats.shading = FitShading(lab[0], trimmed);
  const cv::Mat detail = lab[0] - Surface(stats.shading, lab[0].size(), 1.0f, 1.0f);
  cv::meanStdDev(detail, stats.detail_mean, stats.detail_spread, trimmed);
  for (int c = 1; c < 3; ++c) cv::meanStdDev(lab[c], stats.colour_mean[c], stats.colour_spread[c], trimmed);
  return stats;
}

}  // namespace

cv::Mat CreateSkinMask(const Landmarks68& p, cv::Size size) {
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  const float width = FaceWidth(p);
  if (width < 4) return mask;
  // Cheeks and nose, from the eyes down to the nose's base: no forehead (fringes, hat
  // brims), no mouth or chin (teeth, beards).
  const std::vector<cv::Point2f> outline = {p[1], p[2], p[31], p[33], p[35], p[14], p[15], p[45], p[42], p[27], p[39], p[36]};
  std::vector<cv::Point2f> hull;
  cv::convexHull(outline, hull);
  cv::fillConvexPoly(mask, RoundedPoints(hull), cv::Scalar(255));
  const int thickness = std::max(1, cvRound(0.05f * width));
  for (const auto& [first, last] : {std::pair{36, 41}, std::pair{42, 47}}) {
    std::vector<cv::Point2f> eye;
    cv::convexHull(Range(p, first, last), eye);
    cv::fillConvexPoly(mask, RoundedPoints(eye), cv::Scalar(0));
    cv::polylines(mask, RoundedPoints(eye), true, cv::Scalar(0), 2 * thickness);
  }
  for (const auto& [first, last] : {std::pair{17, 21}, std::pair{22, 26}}) {
    cv::polylines(mask, RoundedPoints(Range(p, first, last)), false, cv::Scalar(0), 2 * thickness);
  }
  // Nostrils sit just above the nose's lower outline.
  cv::polylines(mask, RoundedPoints(Range(p, 31, 35)), false, cv::Scalar(0), 2 * thickness);
  return mask;
}

cv::Mat MarkFarFromSkin(const cv::Mat& lab, const cv::Mat& skin) {
  constexpr float kMaxSkinDistance = 4.0f;
  constexpr float kSpreadFloor[3] = {12.0f, 4.0f, 4.0f};
  cv::Scalar mean, spread;
  cv::meanStdDev(lab, mean, spread, skin);
  float inverse_spread[3];
  for (int c = 0; c < 3; ++c) inverse_spread[c] = 1.0f / std::max(static_cast<float>(spread[c]), kSpreadFloor[c]);
  cv::Mat far(lab.size(), CV_8U);
  for (int y = 0; y < lab.rows; ++y) {
    const auto* v = lab.ptr<cv::Vec3b>(y);
    auto* out = far.ptr<std::uint8_t>(y);
    for (int x = 0; x < lab.cols; ++x) {
      float d2 = 0;
      for (int c = 0; c < 3; ++c) {
        const float d = (static_cast<float>(v[x][c]) - static_cast<float>(mean[c])) * inverse_spread[c];
        d2 += d * d;
      }
      out[x] = d2 > kMaxSkinDistance * kMaxSkinDistance ? 255 : 0;
    }
  }
  return far;
}

void TransferTone(cv::Mat& face, const cv::Mat& face_skin, const cv::Mat& target, const cv::Mat& target_skin,
                  const std::optional<cv::Rect>& within) {
  if (cv::countNonZero(face_skin) < 16 || cv::countNonZero(target_skin) < 16) return;
  cv::Point2f face_to_small, target_to_small;
  const std::optional<SkinStatistics> from = MeasureSkin(face, face_skin, face_to_small);
  const std::optional<SkinStatistics> to = MeasureSkin(target, target_skin, target_to_small);
  if (!from || !to) return;

  // Per pixel, in 8-bit Lab, in one pass. Light: own detail, target's shading.
  // Colour: the skin's mean and spread.
  const auto detail_ratio = static_cast<float>(std::clamp(
      to->detail_spread[0] / std::max(from->detail_spread[0], 1e-3), kMinDetailRatio, kMaxDetailRatio));
  const auto detail_offset = static_cast<float>(to->detail_mean[0] - from->detail_mean[0] * detail_ratio);
  const auto detail_mean = static_cast<float>(from->detail_mean[0]);
  const float detail_knee = kDetailKnee * static_cast<float>(from->detail_spread[0]);
  const ShadingSampler face_shading(from->shading, face_to_small.x, face_to_small.y);
  const ShadingSampler target_shading(to->shading, target_to_small.x, target_to_small.y);
  // Per channel: the source's 8-bit mean, the target's, the ratio, and the knee
  // beyond which a widening ratio adds no more.
  float from_mean[3] = {}, to_mean[3] = {}, colour_ratio[3] = {}, knee[3] = {};
  bool grey = true;  // a black-and-white source
  for (int c = 1; c < 3; ++c) {
    grey &= std::abs(from->colour_mean[c][0]) < kGreyChroma && from->colour_spread[c][0] < kGreyChroma;
    const double spread = std::max(from->colour_spread[c][0], 0.5);
    colour_ratio[c] = static_cast<float>(std::min(kMaxColourRatio, to->colour_spread[c][0] / spread));
    from_mean[c] = static_cast<float>(from->colour_mean[c][0] + kColourOffset);
    to_mean[c] = static_cast<float>(to->colour_mean[c][0] + kColourOffset);
    knee[c] = kColourKnee * static_cast<float>(spread);
  }
  const float grey_from = kGreyFadeFrom * static_cast<float>(from->detail_spread[0]);
  const float grey_span = std::max(kGreyFadeSpan * static_cast<float>(from->detail_spread[0]), 1e-3f);
  const auto to_lightness = static_cast<float>(1.0 / kLightnessTo8Bit);
  const auto to_8bit = static_cast<float>(kLightnessTo8Bit);
  const auto no_colour = static_cast<float>(kColourOffset);
  const cv::Rect part = within.value_or(cv::Rect(0, 0, face.cols, face.rows)) & cv::Rect(0, 0, face.cols, face.rows);
  cv::Mat recoloured = face(part);
  cv::Mat lab;
  cv::cvtColor(recoloured, lab, cv::COLOR_BGR2Lab);
  for (int y = 0; y < lab.rows; ++y) {
    const ShadingSampler::Row face_row = face_shading.RowAt(part.y + y), target_row = target_shading.RowAt(part.y + y);
    auto* p = lab.ptr<cv::Vec3b>(y);
    for (int x = 0; x < lab.cols; ++x) {
      const float lightness = static_cast<float>(p[x][0]) * to_lightness;
      const float detail = lightness - face_shading.At(face_row, part.x + x);
      const float from_skin = detail - detail_mean;
      const float kept = std::max(std::abs(from_skin) - detail_knee, 0.0f) * (1.0f - detail_ratio);
      const float toned = detail * detail_ratio + detail_offset + std::copysign(kept, from_skin) +
                          target_shading.At(target_row, part.x + x);
      p[x][0] = cv::saturate_cast<std::uint8_t>(toned * to_8bit);
      const float coloured = grey ? std::clamp(1.0f - (std::abs(from_skin) - grey_from) / grey_span, 0.0f, 1.0f) : 1.0f;
      for (int c = 1; c < 3; ++c) {
        const float d = static_cast<float>(p[x][c]) - from_mean[c];
        const float beyond = std::max(std::abs(d) - knee[c], 0.0f) * std::max(colour_ratio[c] - 1.0f, 0.0f);
        const float colour = to_mean[c] + d * colour_ratio[c] - std::copysign(beyond, d);
        p[x][c] = cv::saturate_cast<std::uint8_t>(no_colour + (colour - no_colour) * coloured);
      }
    }
  }
  cv::cvtColor(lab, recoloured, cv::COLOR_Lab2BGR);
}

}  // namespace swapline::vision
