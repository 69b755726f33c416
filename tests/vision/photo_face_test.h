// A test fixture for tests on the test data's photos: one face analyser for the suite,
// and photos read as 8-bit BGR.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include <opencv2/core.hpp>

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

  // The photo at `path`; a black square (and a failure) when it cannot be read.
  static cv::Mat Read(const std::string& path) {
    auto image = media::ReadImage(path);
    EXPECT_TRUE(image.ok()) << path << ": " << image.status().ToString();
    return image.ok() ? *image : cv::Mat(64, 64, CV_8UC3, cv::Scalar(0, 0, 0));
  }

  static inline std::unique_ptr<FaceAnalyser> analyser_;
};

}  // namespace swapline::vision
