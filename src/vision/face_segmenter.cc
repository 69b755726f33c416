#include "vision/face_segmenter.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "vision/image_tensor.h"

namespace swapline::vision {
namespace {

constexpr int kParserClasses = 19;
// FaceFusion feathers at σ 5 on a 256 px crop; both masks are finished at that size.
constexpr int kMaskSide = 256;
constexpr double kFeatherSigma = 5.0;

infer::ModelSignature OccluderSignature() { return {{{"", {1, 256, 256, 3}}}, {{"", {1, 256, 256, 1}}}}; }

infer::ModelSignature ParserSignature() {
  return {{{"input", {1, 3, 512, 512}}}, {{"", {1, kParserClasses, 512, 512}}}};
}

// FaceFusion's mask finish: feathered, then only confident pixels kept.
cv::Mat Feather(cv::Mat mask) {
  if (mask.cols != kMaskSide) cv::resize(mask, mask, cv::Size(kMaskSide, kMaskSide), 0, 0, cv::INTER_AREA);
  cv::GaussianBlur(mask, mask, cv::Size(0, 0), kFeatherSigma);
  cv::Mat out = cv::max(cv::min(mask, 1.0), 0.5);
  out = (out - 0.5) * 2.0;
  return out;
}

}  // namespace

Result<std::vector<int>> ParseFaceRegions(const std::vector<std::string>& names) {
  if (names.empty()) return InvalidArgument("--face-mask-regions needs at least one region");
  std::vector<int> ids;
  for (const std::string& name : names) {
    const auto* region = std::find_if(std::begin(kFaceRegions), std::end(kFaceRegions),
                                      [&](const FaceRegion& r) { return name == r.name; });
    if (region == std::end(kFaceRegions)) {
      std::string known;
      for (const FaceRegion& r : kFaceRegions) known += (known.empty() ? "" : ", ") + std::string(r.name);
      return InvalidArgument("unknown --face-mask-regions '" + name + "' (" + known + ")");
    }
    ids.push_back(region->class_id);
  }
  return ids;
}

Result<std::shared_ptr<FaceSegmenter>> FaceSegmenter::Load(std::string_view architecture,
                                                           const std::filesystem::path& onnx) {
  Kind kind;
  infer::ModelSignature signature;
  if (architecture == "xseg") {
    kind = Kind::kOccluder;
    signature = OccluderSignature();
  } else if (architecture == "bisenet") {
    kind = Kind::kParser;
    signature = ParserSignature();
  } else {
    return InvalidArgument("no face segmenter of architecture '" + std::string(architecture) + "'");
  }
  auto session = infer::SharedSession::Load(onnx, signature);
  if (!session.ok()) return session.status().WithContext(kind == Kind::kOccluder ? "face occluder" : "face parser");
  return std::shared_ptr<FaceSegmenter>(new FaceSegmenter(kind, std::move(session).value()));
}

Result<cv::Mat> FaceSegmenter::Segment(const cv::Mat& crop, const std::vector<int>& regions) const {
  const int n = side();
  if (crop.type() != CV_8UC3 || crop.rows != n || crop.cols != n) {
    return InvalidArgument("face segmenter: the crop must be 8-bit BGR " + std::to_string(n) + "x" + std::to_string(n));
  }
  if (kind_ == Kind::kOccluder) {
    // NHWC: the crop's own memory layout, as 1×256×256×3.
    cv::Mat pixels;
    crop.convertTo(pixels, CV_32FC3, 1.0 / 255);
    const int shape[] = {1, n, n, 3};
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> out, session_->Run(cv::Mat(4, shape, CV_32F, pixels.data)));
    cv::Mat mask(n, n, CV_32F, out[0].ptr<float>());
    return Feather(cv::max(cv::min(mask, 1.0), 0.0));
  }
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> out, session_->Run(RgbBlob(crop, kImageNet)));
  // Per pixel, the class of the highest score, kept or not: plane by plane, vectorised.
  auto* scores = out[0].ptr<float>();
  const std::size_t plane = static_cast<std::size_t>(n) * n;
  std::vector<bool> kept(kParserClasses, false);
  for (int id : regions) kept[static_cast<std::size_t>(id)] = true;
  cv::Mat best = cv::Mat(n, n, CV_32F, scores).clone();
  cv::Mat face(n, n, CV_8U, cv::Scalar(kept[0] ? 255 : 0));
  for (int c = 1; c < kParserClasses; ++c) {
    const cv::Mat score(n, n, CV_32F, scores + static_cast<std::size_t>(c) * plane);
    const cv::Mat higher = score > best;
    score.copyTo(best, higher);
    face.setTo(kept[static_cast<std::size_t>(c)] ? 255 : 0, higher);
  }
  cv::Mat mask;
  face.convertTo(mask, CV_32F, 1.0 / 255);
  return Feather(mask);
}

}  // namespace swapline::vision
