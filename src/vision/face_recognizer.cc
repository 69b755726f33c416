// FaceRecognizer backed by dlib's DNN module.
//
// The network type below is the only place in swapline that instantiates the dlib DNN
// templates; keep it in this file, since every translation unit that includes it pays
// for it again at compile time.

#include "vision/face_recognizer.h"

#include <dlib/dnn.h>
#include <dlib/image_processing.h>
#include <dlib/opencv.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <exception>
#include <fstream>
#include <istream>
#include <limits>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "vision/arcface_recognizer.h"

namespace swapline::vision {
namespace {

// ---------------------------------------------------------------------------------------
// Network type of dlib/face_recognition_densenet_model_v1.dat (BAREL project, CC0).
//
// A DenseNet-BC style backbone with growth rate 16 and `affine` normalisation (the frozen
// form of batch norm), a global average pool and a bias-free 128-d projection trained
// with dlib's metric loss. Read from the input upwards:
//
//   stem        7x7/2 conv, 32 filters (pad 3) → affine → relu → 3x3/2 max pool (pad 1)
//   block 1     3 dense layers                    32 +  3*16 =  80 channels
//   transition  affine → relu → 1x1 conv 40 → 2x2/2 avg pool
//   block 2     6 dense layers                    40 +  6*16 = 136
//   transition  … 1x1 conv 68 …
//   block 3     12 dense layers                   68 + 12*16 = 260
//   transition  … 1x1 conv 130 …
//   block 4     8 dense layers                   130 +  8*16 = 258
//   head        affine → relu → global avg pool → fc_no_bias 128 → loss_metric
//
// A dense layer is the bottleneck pair affine → relu → 1x1 conv 64 → affine → relu →
// 3x3 conv 16 whose output is concatenated, along channels, to the layer's input.
// Every parameter below (filter counts, kernel sizes, strides, paddings) is checked by
// dlib when the file is read: change any of them and deserialisation fails.
// ---------------------------------------------------------------------------------------
namespace densenet_v1 {

constexpr long kGrowth = 16;
constexpr long kBottleneck = 4 * kGrowth;  // 64
constexpr long kStemFilters = 2 * kGrowth;  // 32

// Convolution with "same" padding (kernel / 2), as the serialized model has it; dlib's
// own `con` alias pads strided convolutions with 0, which does not match the stem.
template <long filters, long kernel, int stride, typename SUBNET>
using same_conv = dlib::add_layer<
    dlib::con_<filters, kernel, kernel, stride, stride, kernel / 2, kernel / 2>, SUBNET>;

// Pre-activation: normalise, then ReLU.
template <typename SUBNET>
using norm_relu = dlib::relu<dlib::affine<SUBNET>>;

// The bottleneck branch of one dense layer; its input is marked with tag1.
template <typename SUBNET>
using dense_branch =
    same_conv<kGrowth, 3, 1, norm_relu<same_conv<kBottleneck, 1, 1, norm_relu<SUBNET>>>>;

// input ++ branch(input), along channels.
template <typename SUBNET>
using dense_layer = dlib::concat2<dlib::tag1, dlib::tag2,
                                  dlib::tag2<dense_branch<dlib::tag1<SUBNET>>>>;

template <size_t layers, typename SUBNET>
using dense_block = dlib::repeat<layers, dense_layer, SUBNET>;

// Between blocks: 1x1 conv to `filters` channels, then halve the resolution.
template <long filters, typename SUBNET>
using transition =
    dlib::avg_pool<2, 2, 2, 2, same_conv<filters, 1, 1, norm_relu<SUBNET>>>;

template <typename INPUT>
using stem = dlib::add_layer<dlib::max_pool_<3, 3, 2, 2, 1, 1>,
                             norm_relu<same_conv<kStemFilters, 7, 2, INPUT>>>;

// Channel counts after each block, and the transition widths (half of them).
constexpr long kAfterBlock1 = kStemFilters + 3 * kGrowth;       // 80
constexpr long kTransition1 = kAfterBlock1 / 2;                 // 40
constexpr long kAfterBlock2 = kTransition1 + 6 * kGrowth;       // 136
constexpr long kTransition2 = kAfterBlock2 / 2;                 // 68
constexpr long kAfterBlock3 = kTransition2 + 12 * kGrowth;      // 260
constexpr long kTransition3 = kAfterBlock3 / 2;                 // 130

template <typename INPUT>
using backbone = norm_relu<
    dense_block<8, transition<kTransition3,
    dense_block<12, transition<kTransition2,
    dense_block<6, transition<kTransition1,
    dense_block<3, stem<INPUT>>>>>>>>>;

constexpr long kEmbeddingSize = 128;

using net_type = dlib::loss_metric<
    dlib::fc_no_bias<kEmbeddingSize, dlib::avg_pool_everything<backbone<dlib::input_rgb_image>>>>;

constexpr unsigned long kChipSize = 150;
constexpr double kChipPadding = 0.25;
constexpr float kSameIdentityThreshold = 0.55f;

}  // namespace densenet_v1

constexpr const char* kSupportedFormats =
    "supported recognizer models: *.dat (dlib face_recognition_densenet_model_v1), *.onnx (ArcFace, 112 px, 512-d)";

std::string LowerExtension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

// dlib's error text can quote bytes read from a corrupt file: keep it printable and short.
std::string Printable(const char* text) {
  constexpr size_t kMaxLength = 200;
  std::string out;
  for (const char* c = text; *c != '\0' && out.size() < kMaxLength; ++c) {
    const auto u = static_cast<unsigned char>(*c);
    out.push_back(std::isprint(u) ? *c : '?');
  }
  if (*text != '\0' && out.size() >= kMaxLength) out += "...";
  while (!out.empty() && (out.back() == '.' || out.back() == ' ')) out.pop_back();
  return out;
}

// Euclidean distance; +inf when the embeddings cannot be compared (empty or different
// sizes), so that a mismatch never counts as "same person".
float EuclideanDistance(const Embedding& a, const Embedding& b) {
  if (a.values.empty() || a.values.size() != b.values.size()) {
    return std::numeric_limits<float>::infinity();
  }
  double sum = 0.0;
  for (size_t i = 0; i < a.values.size(); ++i) {
    const double d = static_cast<double>(a.values[i]) - static_cast<double>(b.values[i]);
    sum += d * d;
  }
  return static_cast<float>(std::sqrt(sum));
}

// `image` as 8-bit BGR, converting gray and BGRA; an empty Mat for anything else.
cv::Mat AsBgr8(const cv::Mat& image) {
  if (image.depth() != CV_8U) return {};
  switch (image.channels()) {
    case 3:
      return image;
    case 1: {
      cv::Mat bgr;
      cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
      return bgr;
    }
    case 4: {
      cv::Mat bgr;
      cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
      return bgr;
    }
    default:
      return {};
  }
}

class DlibDenseNetRecognizer final : public FaceRecognizer {
 public:
  // The network is read in place (dlib nets are large and not cheap to move).
  void Deserialize(std::istream& in) { dlib::deserialize(net_, in); }

  Result<Embedding> Embed(const cv::Mat& image, const Face& face) override {
    if (image.empty()) return InvalidArgument("face recognizer: the image is empty");
    const cv::Mat bgr = AsBgr8(image);
    if (bgr.empty()) {
      return InvalidArgument("face recognizer: expected an 8-bit BGR image, got type " +
                             std::to_string(image.type()));
    }

    // The 68 landmarks fix the chip; reject ones that cannot (unset or not finite).
    const auto& points = face.landmarks68;
    for (const cv::Point2f& p : points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) {
        return InvalidArgument("face recognizer: the face has non-finite landmarks");
      }
    }
    const auto [min_x, max_x] = std::minmax_element(
        points.begin(), points.end(), [](auto& l, auto& r) { return l.x < r.x; });
    const auto [min_y, max_y] = std::minmax_element(
        points.begin(), points.end(), [](auto& l, auto& r) { return l.y < r.y; });
    if (max_x->x - min_x->x < 2.0f || max_y->y - min_y->y < 2.0f) {
      return InvalidArgument(
          "face recognizer: the face has no usable 68-point landmarks (all points coincide)");
    }

    try {
      std::vector<dlib::point> parts;
      parts.reserve(points.size());
      for (const cv::Point2f& p : points) {
        parts.emplace_back(std::lround(p.x), std::lround(p.y));
      }
      const dlib::rectangle box(std::lround(face.box.x), std::lround(face.box.y),
                                std::lround(face.box.x + face.box.width) - 1,
                                std::lround(face.box.y + face.box.height) - 1);
      const dlib::full_object_detection shape(box, parts);

      // Only the chip region is read from the image; dlib converts BGR to RGB per pixel.
      const dlib::cv_image<dlib::bgr_pixel> view(bgr);
      dlib::matrix<dlib::rgb_pixel> chip;
      dlib::extract_image_chip(
          view,
          dlib::get_face_chip_details(shape, densenet_v1::kChipSize, densenet_v1::kChipPadding),
          chip);

      const dlib::matrix<float, 0, 1> descriptor = net_(chip);
      Embedding embedding;
      embedding.values.assign(descriptor.begin(), descriptor.end());
      return embedding;
    } catch (const std::exception& e) {
      return Internal(std::string("face recognizer: dlib failed to embed the face: ") +
                      e.what());
    } catch (...) {
      return Internal("face recognizer: dlib failed to embed the face (unknown error)");
    }
  }

  float Distance(const Embedding& a, const Embedding& b) const override {
    return EuclideanDistance(a, b);
  }

  float SameIdentityThreshold() const override {
    return densenet_v1::kSameIdentityThreshold;
  }

 private:
  densenet_v1::net_type net_;
};

Result<std::unique_ptr<FaceRecognizer>> LoadDlibDenseNet(const std::filesystem::path& model) {
  std::ifstream in(model, std::ios::binary);
  if (!in) {
    return ErrnoStatus(errno, "cannot open face recognizer model", model.string());
  }
  auto recognizer = std::make_unique<DlibDenseNetRecognizer>();
  try {
    recognizer->Deserialize(in);
  } catch (const std::exception& e) {
    return UnsupportedInput("face recognizer model " + model.string() +
                            " is not a dlib face_recognition_densenet_model_v1 network (" +
                            Printable(e.what()) + "); " + kSupportedFormats);
  } catch (...) {
    return UnsupportedInput("face recognizer model " + model.string() +
                            " could not be read; " + kSupportedFormats);
  }
  return std::unique_ptr<FaceRecognizer>(std::move(recognizer));
}

}  // namespace

Result<std::unique_ptr<FaceRecognizer>> LoadFaceRecognizer(const std::filesystem::path& model) {
  std::error_code ec;
  const auto status = std::filesystem::status(model, ec);
  if (ec || !std::filesystem::exists(status)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return ErrnoStatus(ec.value(), "cannot access face recognizer model", model.string());
    }
    return NotFound("face recognizer model not found: " + model.string());
  }
  if (std::filesystem::is_directory(status)) {
    return UnsupportedInput("face recognizer model " + model.string() +
                            " is a directory, not a model file; " + kSupportedFormats);
  }
  if (LowerExtension(model) == ".dat") return LoadDlibDenseNet(model);
  if (LowerExtension(model) == ".onnx") return LoadArcFaceRecognizer(model);
  return UnsupportedInput("face recognizer model " + model.string() +
                          " has an unknown format; " + kSupportedFormats);
}

}  // namespace swapline::vision
