// Images to and from the tensors face networks read and write: 8-bit BGR crops in,
// 1×3×S×S RGB float tensors, normalised per channel, out and back.
#pragma once

#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

namespace swapline::vision {

// A network's input normalisation: an 8-bit value p becomes (p / 255 − mean) / std,
// per RGB channel.
struct Normalisation {
  cv::Scalar mean;  // R, G, B
  cv::Scalar std;
};
inline const Normalisation kUnitRange{cv::Scalar::all(0.0), cv::Scalar::all(1.0)};   // 0..1
inline const Normalisation kSignedRange{cv::Scalar::all(0.5), cv::Scalar::all(0.5)};  // −1..1
inline const Normalisation kImageNet{cv::Scalar(0.485, 0.456, 0.406), cv::Scalar(0.229, 0.224, 0.225)};

// The 1×3×H×W RGB blob of an 8-bit BGR image.
inline cv::Mat RgbBlob(const cv::Mat& bgr, const Normalisation& normalisation) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  rgb.convertTo(rgb, CV_32FC3, 1.0 / 255);
  cv::subtract(rgb, normalisation.mean, rgb);
  cv::divide(rgb, normalisation.std, rgb);
  return cv::dnn::blobFromImage(rgb);
}

// A network's 1×3×S×S RGB output as 8-bit BGR: value × scale + offset, saturated
// (so clipped to 0..255).
inline cv::Mat RgbTensorToBgr(const cv::Mat& tensor, double scale, double offset) {
  const int side = tensor.size[2];
  auto* data = const_cast<float*>(tensor.ptr<float>());
  const std::vector<cv::Mat> bgr = {cv::Mat(side, side, CV_32F, data + 2 * side * side),
                                    cv::Mat(side, side, CV_32F, data + side * side), cv::Mat(side, side, CV_32F, data)};
  cv::Mat merged, out;
  cv::merge(bgr, merged);
  merged.convertTo(out, CV_8UC3, scale, offset);
  return out;
}

}  // namespace swapline::vision
