// Identity quality of the classic swapper, measured with the DenseNet recognizer.
//
// For every ordered pair of distinct test faces, the face in the swapped output is
// embedded and compared with the source and the target identity. A swap that works
// moves the face closer to the source than to the target. Deterministic (same code,
// same photos), so the bound is a regression guard, not a statistical claim.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "media/image_codec.h"
#include "pipeline/image_job.h"
#include "vision/face_recognizer.h"

namespace swapline {
namespace {

const std::vector<std::string> kFaces = {
    "photos/grace_hopper_usn_portrait.jpg",
    "photos/eileen_collins_nasa_portrait.png",
    "photos/obama_official_portrait_2012.jpg",
    "photos/abraham_lincoln_gardner_1863.jpg",
};

std::string TestPhoto(const std::string& name) { return std::string(SWAPLINE_TESTDATA_DIR) + "/" + name; }

vision::Face LargestFace(std::vector<vision::Face> faces) {
  vision::SortFaces(faces, vision::SelectorOrder::kLargeSmall);
  return faces.front();
}

TEST(IdentityQualityTest, SwappedFaceIsCloserToSourceThanTarget) {
  auto engine = pipeline::ImageSwapEngine::Create(
      std::filesystem::path(SWAPLINE_MODELS_DIR) / "dlib/face_recognition_densenet_model_v1.dat");
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto& analyser = engine->analyser();
  auto* recognizer = analyser.recognizer();

  std::vector<cv::Mat> images;
  std::vector<vision::Face> faces;
  for (const auto& name : kFaces) {
    auto image = media::ReadImage(TestPhoto(name));
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    auto found = analyser.Analyse(*image, 0.5f, true);
    ASSERT_TRUE(found.ok() && !found->empty()) << name;
    images.push_back(*image);
    faces.push_back(LargestFace(*found));
  }

  int closer_to_source = 0, pairs = 0;
  double margin_sum = 0;
  for (std::size_t s = 0; s < kFaces.size(); ++s) {
    for (std::size_t t = 0; t < kFaces.size(); ++t) {
      if (s == t) continue;
      auto swapper = vision::NewClassicFaceSwapper({});
      ASSERT_TRUE(swapper->SetSource(images[s], faces[s]).ok());
      cv::Mat output = images[t].clone();
      ASSERT_TRUE(swapper->Swap(output, faces[t]).ok());
      auto found = analyser.Analyse(output, 0.3f, true);
      ASSERT_TRUE(found.ok() && !found->empty()) << "no face in swapped " << kFaces[s] << " -> " << kFaces[t];
      const vision::Face swapped = LargestFace(*found);
      const float to_source = recognizer->Distance(*swapped.embedding, *faces[s].embedding);
      const float to_target = recognizer->Distance(*swapped.embedding, *faces[t].embedding);
      std::printf("%-40s -> %-40s  to source %.3f  to target %.3f\n", kFaces[s].c_str(), kFaces[t].c_str(),
                  to_source, to_target);
      ++pairs;
      if (to_source < to_target) ++closer_to_source;
      margin_sum += to_target - to_source;
    }
  }
  std::printf("closer to source in %d of %d pairs, mean margin %.3f\n", closer_to_source, pairs,
              margin_sum / pairs);
  EXPECT_GE(closer_to_source, pairs * 2 / 3);
}

}  // namespace
}  // namespace swapline
