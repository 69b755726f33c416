// ArcFace on a synthetic network with its layout (support/synthetic_models.py), whose
// first three outputs are the means of its input channels: the crop is aligned to
// arcface_112_v2 at 112 px, fed as RGB scaled to ±1; distances are 1 − cosine; a
// foreign file fails at load.
#include <gtest/gtest.h>

#include <filesystem>

#include <opencv2/core.hpp>

#include "vision/arcface_recognizer.h"
#include "vision/face_aligner.h"

namespace swapline::vision {
namespace {

namespace fs = std::filesystem;
const fs::path kArcFace = fs::path(SWAPLINE_SYNTHETIC_MODELS_DIR) / "arcface_w600k_r50.onnx";

// A face whose five landmarks are arcface_112_v2's at 112 px scaled by `scale` and moved
// by `offset`: its crop's pixel (u, v) shows the image at offset + scale · (u, v).
Face FaceOnTemplate(float scale, cv::Point2f offset) {
  Face face;
  const auto& points = TemplatePoints(WarpTemplate::kArcface112V2);
  for (std::size_t i = 0; i < 5; ++i) face.landmarks5[i] = offset + points[i] * (112.0f * scale);
  return face;
}

TEST(ArcFaceRecognizer, EmbedsTheAlignedCropAsRgbScaledToPlusMinusOne) {
  auto recognizer = LoadFaceRecognizer(kArcFace);  // chosen by its .onnx name
  ASSERT_TRUE(recognizer.ok()) << recognizer.status().ToString();
  // Red rises by one level every two columns, green and blue are flat: the crop's mean
  // red tells where its centre lies, and the channel order and scaling show directly.
  cv::Mat image(400, 400, CV_8UC3);
  for (int x = 0; x < image.cols; ++x) image.col(x).setTo(cv::Scalar(50, 200, x / 2));
  const float scale = 1.5f;
  const cv::Point2f offset(100, 80);
  auto embedding = (*recognizer)->Embed(image, FaceOnTemplate(scale, offset));
  ASSERT_TRUE(embedding.ok()) << embedding.status().ToString();
  ASSERT_EQ(embedding->values.size(), 512u);
  // The mean over the crop's pixel centres (0..111) of a linear ramp: its value at 55.5.
  const float centre_x = offset.x + 55.5f * scale;
  EXPECT_NEAR(embedding->values[0], (centre_x / 2 - 0.25f) / 127.5f - 1, 0.005);
  EXPECT_NEAR(embedding->values[1], 200 / 127.5f - 1, 1e-4);
  EXPECT_NEAR(embedding->values[2], 50 / 127.5f - 1, 1e-4);
  EXPECT_NEAR(embedding->values[511], 0.511f, 1e-5);
}

TEST(ArcFaceRecognizer, DistanceIsOneMinusCosineAndUnderPointSixForOnePerson) {
  auto recognizer = LoadArcFaceRecognizer(kArcFace);
  ASSERT_TRUE(recognizer.ok()) << recognizer.status().ToString();
  const Embedding a{{1, 0, 0}}, b{{2, 0, 0}}, c{{0, 3, 0}}, d{{-1, 0, 0}};
  EXPECT_NEAR((*recognizer)->Distance(a, b), 0, 1e-6);  // length does not matter
  EXPECT_NEAR((*recognizer)->Distance(a, c), 1, 1e-6);
  EXPECT_NEAR((*recognizer)->Distance(a, d), 2, 1e-6);
  EXPECT_TRUE(std::isinf((*recognizer)->Distance(a, Embedding{{1, 0}})));
  EXPECT_FLOAT_EQ((*recognizer)->SameIdentityThreshold(), 0.6f);
}

TEST(ArcFaceRecognizer, AForeignNetworkIsRefusedAtLoad) {
  auto wrong = LoadFaceRecognizer(fs::path(SWAPLINE_SYNTHETIC_MODELS_DIR) / "2dfan4.onnx");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().ToString().find("ArcFace"), std::string::npos) << wrong.status().ToString();
  EXPECT_NE(wrong.status().ToString().find("2dfan4.onnx"), std::string::npos) << wrong.status().ToString();
}

}  // namespace
}  // namespace swapline::vision
