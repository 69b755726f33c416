#include "vision/face_morph.h"

#include <cmath>
#include <vector>

namespace swapline::vision {
namespace {

cv::Point2f Mean(const Landmarks68& points, int first, int last) {
  cv::Point2f sum(0, 0);
  for (int i = first; i <= last; ++i) sum += points[static_cast<std::size_t>(i)];
  return sum * (1.0f / static_cast<float>(last - first + 1));
}

}  // namespace

cv::Mat FitSimilarity(const Landmarks68& from, const Landmarks68& to) {
  // Umeyama's closed form in 2-D: with centred points, a = Σ(f·t)/Σ|f|², b = Σ(f×t)/Σ|f|².
  const cv::Point2f from_mean = Mean(from, 0, 67), to_mean = Mean(to, 0, 67);
  double dot = 0, cross = 0, norm = 0;
  for (std::size_t i = 0; i < from.size(); ++i) {
    const cv::Point2f f = from[i] - from_mean, t = to[i] - to_mean;
    dot += f.x * t.x + f.y * t.y;
    cross += f.x * t.y - f.y * t.x;
    norm += f.x * f.x + f.y * f.y;
  }
  const double a = norm > 0 ? dot / norm : 1.0, b = norm > 0 ? cross / norm : 0.0;
  return (cv::Mat_<double>(2, 3) << a, -b, to_mean.x - (a * from_mean.x - b * from_mean.y), b, a,
          to_mean.y - (b * from_mean.x + a * from_mean.y));
}

Landmarks68 MorphTowardSource(const Landmarks68& target, const Landmarks68& source, float strength) {
  const cv::Mat fit = FitSimilarity(source, target);
  std::vector<cv::Point2f> fitted_points;
  cv::transform(std::vector<cv::Point2f>(source.begin(), source.end()), fitted_points, fit);
  Landmarks68 aligned;
  std::copy(fitted_points.begin(), fitted_points.end(), aligned.begin());

  Landmarks68 out = target;
  for (int i = 0; i <= 35; ++i) {
    const auto k = static_cast<std::size_t>(i);
    out[k] = target[k] + (aligned[k] - target[k]) * strength;
  }
  for (const auto& [first, last] : {std::pair{36, 41}, std::pair{42, 47}}) {
    const cv::Point2f shift = (Mean(aligned, first, last) - Mean(target, first, last)) * strength;
    for (int i = first; i <= last; ++i) out[static_cast<std::size_t>(i)] += shift;
  }
  // Mouth: centre and width toward the source, opening kept.
  const cv::Point2f centre = Mean(target, 48, 67);
  const cv::Point2f shift = (Mean(aligned, 48, 67) - centre) * strength;
  const cv::Point2f axis_vector = target[54] - target[48];
  const float width = static_cast<float>(cv::norm(axis_vector));
  const float source_width = static_cast<float>(cv::norm(aligned[54] - aligned[48]));
  const float widen = width > 1e-3f ? 1.0f + (source_width / width - 1.0f) * strength : 1.0f;
  const cv::Point2f axis = width > 1e-3f ? axis_vector * (1.0f / width) : cv::Point2f(1, 0);
  for (int i = 48; i <= 67; ++i) {
    const cv::Point2f offset = target[static_cast<std::size_t>(i)] - centre;
    const float along = offset.dot(axis);
    out[static_cast<std::size_t>(i)] = centre + shift + offset + axis * (along * (widen - 1.0f));
  }
  return out;
}

}  // namespace swapline::vision
