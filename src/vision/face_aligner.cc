#include "vision/face_aligner.h"

#include <cmath>
#include <string>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

namespace swapline::vision {
namespace {

using Points5 = std::array<cv::Point2f, 5>;

// Coordinates from FaceFusion's face_helper.WARP_TEMPLATE_SET.
const Points5 kArcface112V1 = {{{0.35473214f, 0.45658929f}, {0.64526786f, 0.45658929f},
                                {0.50000000f, 0.61154464f}, {0.37913393f, 0.77687500f},
                                {0.62086607f, 0.77687500f}}};
const Points5 kArcface112V2 = {{{0.34191607f, 0.46157411f}, {0.65653393f, 0.45983393f},
                                {0.50022500f, 0.64050536f}, {0.37097589f, 0.82469196f},
                                {0.63151696f, 0.82325089f}}};
const Points5 kArcface128 = {{{0.36167656f, 0.40387734f}, {0.63696719f, 0.40235469f},
                              {0.50019687f, 0.56044219f}, {0.38710391f, 0.72160547f},
                              {0.61507734f, 0.72034453f}}};
const Points5 kDflWholeFace = {{{0.35342266f, 0.39285716f}, {0.62797622f, 0.39285716f},
                                {0.48660713f, 0.54017860f}, {0.38839287f, 0.68750011f},
                                {0.59821427f, 0.68750011f}}};
const Points5 kFfhq512 = {{{0.37691676f, 0.46864664f}, {0.62285697f, 0.46912813f},
                           {0.50123859f, 0.61331904f}, {0.39308822f, 0.72541100f},
                           {0.61150205f, 0.72490465f}}};
const Points5 kMtcnn512 = {{{0.36562865f, 0.46733799f}, {0.63305391f, 0.46585885f},
                            {0.50019127f, 0.61942959f}, {0.39032951f, 0.77598822f},
                            {0.61178945f, 0.77476328f}}};
const Points5 kStyleganex384 = {{{0.42353745f, 0.52289879f}, {0.57725008f, 0.52319972f},
                                 {0.50123859f, 0.61331904f}, {0.43364461f, 0.68337652f},
                                 {0.57015325f, 0.68306005f}}};

}  // namespace

Result<WarpTemplate> ParseWarpTemplate(std::string_view name) {
  if (name == "arcface_112_v1") return WarpTemplate::kArcface112V1;
  if (name == "arcface_112_v2") return WarpTemplate::kArcface112V2;
  if (name == "arcface_128") return WarpTemplate::kArcface128;
  if (name == "dfl_whole_face") return WarpTemplate::kDflWholeFace;
  if (name == "ffhq_512") return WarpTemplate::kFfhq512;
  if (name == "mtcnn_512") return WarpTemplate::kMtcnn512;
  if (name == "styleganex_384") return WarpTemplate::kStyleganex384;
  return InvalidArgument("unknown warp template '" + std::string(name) + "'");
}

const std::array<cv::Point2f, 5>& TemplatePoints(WarpTemplate warp_template) {
  switch (warp_template) {
    case WarpTemplate::kArcface112V1: return kArcface112V1;
    case WarpTemplate::kArcface112V2: return kArcface112V2;
    case WarpTemplate::kArcface128: return kArcface128;
    case WarpTemplate::kDflWholeFace: return kDflWholeFace;
    case WarpTemplate::kFfhq512: return kFfhq512;
    case WarpTemplate::kMtcnn512: return kMtcnn512;
    case WarpTemplate::kStyleganex384: return kStyleganex384;
  }
  return kArcface128;
}

Result<cv::Mat> EstimateAlignment(const Landmarks5& landmarks, WarpTemplate warp_template,
                                  cv::Size crop_size) {
  std::vector<cv::Point2f> source(landmarks.begin(), landmarks.end());
  std::vector<cv::Point2f> target;
  for (const cv::Point2f& p : TemplatePoints(warp_template)) {
    target.emplace_back(p.x * static_cast<float>(crop_size.width), p.y * static_cast<float>(crop_size.height));
  }
  cv::Mat alignment = cv::estimateAffinePartial2D(source, target, cv::noArray(), cv::RANSAC, 100.0);
  if (alignment.empty()) return InvalidArgument("face landmarks are degenerate; cannot align the face");
  return alignment;
}

cv::Mat WarpFace(const cv::Mat& frame, const cv::Mat& alignment, cv::Size crop_size) {
  cv::Mat crop;
  cv::warpAffine(frame, crop, alignment, crop_size, cv::INTER_AREA, cv::BORDER_REPLICATE);
  return crop;
}

cv::Mat InvertAlignment(const cv::Mat& alignment) {
  cv::Mat inverse;
  cv::invertAffineTransform(alignment, inverse);
  return inverse;
}

std::vector<cv::Point2f> TransformPoints(const std::vector<cv::Point2f>& points, const cv::Mat& transform) {
  std::vector<cv::Point2f> out;
  cv::transform(points, out, transform);
  return out;
}

void PasteBack(cv::Mat& frame, const cv::Mat& crop, const cv::Mat& mask, const cv::Mat& alignment) {
  const cv::Mat inverse = InvertAlignment(alignment);
  const float w = static_cast<float>(crop.cols), h = static_cast<float>(crop.rows);
  const std::vector<cv::Point2f> corners =
      TransformPoints({{0, 0}, {w, 0}, {0, h}, {w, h}}, inverse);
  cv::Rect2f bounds = cv::boundingRect(corners);
  const cv::Rect roi = cv::Rect(static_cast<int>(std::floor(bounds.x)), static_cast<int>(std::floor(bounds.y)),
                                static_cast<int>(std::ceil(bounds.width)) + 2,
                                static_cast<int>(std::ceil(bounds.height)) + 2) &
                       cv::Rect(0, 0, frame.cols, frame.rows);
  if (roi.empty()) return;
  // Offset the inverse so it maps the crop straight into the footprint.
  cv::Mat shifted = inverse.clone();
  shifted.at<double>(0, 2) -= roi.x;
  shifted.at<double>(1, 2) -= roi.y;
  cv::Mat pasted_crop, pasted_mask;
  cv::warpAffine(crop, pasted_crop, shifted, roi.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::warpAffine(mask, pasted_mask, shifted, roi.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
  cv::Mat region = frame(roi);
  for (int y = 0; y < roi.height; ++y) {
    const float* m = pasted_mask.ptr<float>(y);
    const cv::Vec3b* c = pasted_crop.ptr<cv::Vec3b>(y);
    cv::Vec3b* f = region.ptr<cv::Vec3b>(y);
    for (int x = 0; x < roi.width; ++x) {
      const float a = std::clamp(m[x], 0.0f, 1.0f);
      if (a <= 0.0f) continue;
      for (int k = 0; k < 3; ++k) {
        f[x][k] = cv::saturate_cast<uchar>(f[x][k] * (1.0f - a) + c[x][k] * a);
      }
    }
  }
}

cv::Rect AlignedCropRegion(const Landmarks5& landmarks, WarpTemplate warp_template, cv::Size image) {
  constexpr int kSide = 128;  // any size: the region does not depend on it
  auto alignment = EstimateAlignment(landmarks, warp_template, cv::Size(kSide, kSide));
  if (!alignment.ok()) return {};
  const std::vector<cv::Point2f> corners =
      TransformPoints({{0, 0}, {kSide, 0}, {kSide, kSide}, {0, kSide}}, InvertAlignment(*alignment));
  const cv::Rect2f bounds = cv::boundingRect(corners);
  return cv::Rect(cvFloor(bounds.x) - 2, cvFloor(bounds.y) - 2, cvCeil(bounds.width) + 5, cvCeil(bounds.height) + 5) &
         cv::Rect(0, 0, image.width, image.height);
}

}  // namespace swapline::vision
