#include "vision/fan_landmarker.h"

#include <algorithm>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "infer/session.h"
#include "vision/network_landmarker.h"

namespace swapline::vision {
namespace {

constexpr int kInputSide = 256;
constexpr int kHeatmapSide = 64;
constexpr float kBoxSideInCrop = 195;
// FaceFusion's conditional contrast: CLAHE (clip limit 2) on L when mean L < 30.
constexpr double kDarkLightness = 30;

infer::ModelSignature Fan68Signature() {
  return {{{"input", {1, 3, kInputSide, kInputSide}}},
          {{"", {1, 68, 3}}, {"", {1, 68, kHeatmapSide, kHeatmapSide}}}};
}

void BrightenIfDark(cv::Mat& bgr) {
  cv::Mat lab;
  cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
  cv::Mat lightness;
  cv::extractChannel(lab, lightness, 0);
  if (cv::mean(lightness)[0] >= kDarkLightness) return;
  cv::createCLAHE(2.0)->apply(lightness, lightness);
  cv::insertChannel(lightness, lab, 0);
  cv::cvtColor(lab, bgr, cv::COLOR_Lab2BGR);
}

class Fan68Landmarker final : public NetworkLandmarker<Fan68Landmarker> {
 public:
  using NetworkLandmarker::NetworkLandmarker;

  Result<Landmarks68> MarkChecked(const cv::Mat& image, const cv::Rect2f& box) {
    // Image → crop: scale the box's longer side to 195 px, its centre to the crop's.
    const double scale = kBoxSideInCrop / std::max(1.0f, std::max(box.width, box.height));
    const cv::Point2d centre(box.x + box.width / 2.0, box.y + box.height / 2.0);
    const cv::Matx23d to_crop(scale, 0, kInputSide / 2.0 - centre.x * scale,  //
                              0, scale, kInputSide / 2.0 - centre.y * scale);
    cv::Mat crop;
    cv::warpAffine(image, crop, to_crop, cv::Size(kInputSide, kInputSide));
    if (crop.channels() == 1) cv::cvtColor(crop, crop, cv::COLOR_GRAY2BGR);  // a video's luma plane
    BrightenIfDark(crop);
    const cv::Mat blob = cv::dnn::blobFromImage(crop, 1.0 / 255.0, {}, {}, /*swapRB=*/false);
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> outputs, session().Run(blob));
    const float* xyc = outputs[0].ptr<float>();
    constexpr double kGridToCrop = static_cast<double>(kInputSide) / kHeatmapSide;
    Landmarks68 points;
    for (std::size_t i = 0; i < points.size(); ++i) {
      const double x = xyc[3 * i] * kGridToCrop, y = xyc[3 * i + 1] * kGridToCrop;
      points[i] = cv::Point2f(static_cast<float>((x - to_crop(0, 2)) / scale),
                              static_cast<float>((y - to_crop(1, 2)) / scale));
    }
    return points;
  }
};

}  // namespace

Result<std::unique_ptr<FaceLandmarker>> LoadFan68Landmarker(const std::filesystem::path& onnx) {
  return Fan68Landmarker::Load(onnx, Fan68Signature(), "2DFAN4 landmarker");
}

}  // namespace swapline::vision
