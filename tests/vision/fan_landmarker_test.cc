// 2DFAN4 on a synthetic network with its layout (support/synthetic_models.py): the crop
// FaceFusion makes (box's longer side 195 px, centred in 256, BGR / 255), the grid-to-crop
// scale and the way back to image pixels, checked against the points the network
// answers with; a foreign file fails at load.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "vision/face_landmarker.h"
#include "vision/fan_landmarker.h"

namespace swapline::vision {
namespace {

namespace fs = std::filesystem;
const fs::path kSynthetic = SWAPLINE_SYNTHETIC_MODELS_DIR;

struct GridFace {
  std::vector<cv::Point2f> points;  // on the 64-cell grid
  float blue_gain = 0;              // point 0's x grows by this × mean(blue) / 255
};

GridFace ReadGridFace() {
  std::ifstream in(kSynthetic / "2dfan4_points.json");
  const nlohmann::json json = nlohmann::json::parse(in);
  GridFace face;
  for (const auto& p : json.at("points")) face.points.emplace_back(p.at(0).get<float>(), p.at(1).get<float>());
  face.blue_gain = json.at("blue_gain").get<float>();
  return face;
}

// Where a grid point of the network's answer lies in the image, by FaceFusion's crop.
cv::Point2f GridToImage(cv::Point2f grid, const cv::Rect2f& box) {
  const float scale = 195.0f / std::max(box.width, box.height);
  const cv::Point2f centre(box.x + box.width / 2, box.y + box.height / 2);
  return centre + (grid * 4.0f - cv::Point2f(128, 128)) * (1.0f / scale);
}

TEST(Fan68Landmarker, PointsComeBackFromTheCropGridToImagePixels) {
  auto landmarker = LoadFaceLandmarker("2dfan4", kSynthetic / "2dfan4.onnx");
  ASSERT_TRUE(landmarker.ok()) << landmarker.status().ToString();
  const GridFace grid = ReadGridFace();
  ASSERT_EQ(grid.points.size(), 68u);
  // Blue 100, red 200: a crop fed as RGB, or not divided by 255, moves point 0.
  const cv::Mat image(480, 640, CV_8UC3, cv::Scalar(100, 50, 200));
  for (const cv::Rect2f box : {cv::Rect2f(200, 150, 120, 100), cv::Rect2f(300, 200, 80, 140)}) {
    auto points = (*landmarker)->Mark(image, box);
    ASSERT_TRUE(points.ok()) << points.status().ToString();
    for (std::size_t i = 0; i < 68; ++i) {
      cv::Point2f expected_grid = grid.points[i];
      if (i == 0) expected_grid.x += grid.blue_gain * 100.0f / 255.0f;
      const cv::Point2f expected = GridToImage(expected_grid, box);
      EXPECT_NEAR((*points)[i].x, expected.x, 0.01) << "point " << i;
      EXPECT_NEAR((*points)[i].y, expected.y, 0.01) << "point " << i;
    }
  }
}

TEST(Fan68Landmarker, ClonesAnswerAlikeAndGreyImagesAreMarked) {
  auto landmarker = LoadFan68Landmarker(kSynthetic / "2dfan4.onnx");
  ASSERT_TRUE(landmarker.ok()) << landmarker.status().ToString();
  const cv::Mat grey(480, 640, CV_8UC1, cv::Scalar(120));
  const cv::Rect2f box(250, 180, 100, 100);
  auto first = (*landmarker)->Mark(grey, box);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto clone = (*landmarker)->Clone();
  auto second = clone->Mark(grey, box);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  for (std::size_t i = 0; i < 68; ++i) EXPECT_EQ((*first)[i], (*second)[i]) << "point " << i;
  const GridFace grid = ReadGridFace();
  EXPECT_NEAR((*first)[0].x, GridToImage(grid.points[0] + cv::Point2f(grid.blue_gain * 120 / 255, 0), box).x, 0.01);
}

TEST(Fan68Landmarker, AForeignNetworkOrArchitectureIsRefusedAtLoad) {
  auto wrong = LoadFan68Landmarker(kSynthetic / "yoloface_8n.onnx");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("2DFAN4"), std::string::npos) << wrong.status().ToString();
  EXPECT_NE(wrong.status().ToString().find("yoloface_8n.onnx"), std::string::npos) << wrong.status().ToString();
  auto unknown = LoadFaceLandmarker("peppa_wutz", kSynthetic / "2dfan4.onnx");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("peppa_wutz"), std::string::npos);
}

}  // namespace
}  // namespace swapline::vision
