// A test fixture for tests on the test data's photos: one face analyser for the suite,
// and photos read as 8-bit BGR.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "media/image_codec.h"
#include "vision/face_analyser.h"

namespace swapline::vision {

class PhotoFaceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto analyser = FaceAnalyser::CreateDefault();
    ASSERT_TRUE(analyser.ok()) << analyser.status().ToString();
    analyser_ = std::make_unique<FaceAnalyser>(std::move(*analyser));
  }
  static void TearDownTestSuite() { analyser_.reset(); }

 public:
  // The photo at `path`; a black square (and a failure) when it cannot be read.
  static cv::Mat Read(const std::string& path) {
    auto image = media::ReadImage(path);
    EXPECT_TRUE(image.ok()) << path << ": " << image.status().ToString();
    return image.ok() ? *image : cv::Mat(64, 64, CV_8UC3, cv::Scalar(0, 0, 0));
  }

 protected:
  static inline std::unique_ptr<FaceAnalyser> analyser_;
};

// A test photo scaled by area to `longest` pixels on its longest side, in BGR and grey.
struct ScaledPhoto {
  cv::Mat bgr;
  cv::Mat grey;
};
inline ScaledPhoto ReadScaledPhoto(const std::string& name, int longest) {
  ScaledPhoto photo;
  photo.bgr = PhotoFaceTest::Read(SWAPLINE_TESTDATA_DIR "/photos/" + name);
  const double scale = static_cast<double>(longest) / std::max(photo.bgr.cols, photo.bgr.rows);
  cv::resize(photo.bgr, photo.bgr, cv::Size(), scale, scale, cv::INTER_AREA);
  cv::cvtColor(photo.bgr, photo.grey, cv::COLOR_BGR2GRAY);
  return photo;
}

}  // namespace swapline::vision
