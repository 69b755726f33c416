// YuNet and BlazeFace through the inference layer, on the real models in
// SWAPLINE_MODELS_DIR and the test photos: which faces they find, how their boxes
// agree with HOG's, and that a wrong or damaged model file fails at load with a
// clear error.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <opencv2/imgproc.hpp>

#include "cli/cli_test_util.h"
#include "infer/session.h"
#include "media/image_codec.h"
#include "vision/face_detector.h"

namespace swapline::vision {
namespace {

namespace fs = std::filesystem;
using swapline::testing::ReadFileBytes;
using swapline::testing::TempDir;
using swapline::testing::WriteFileBytes;

const std::string kPhotos = SWAPLINE_TESTDATA_DIR "/photos/";
const fs::path kYunet = SWAPLINE_MODELS_DIR "/yunet";

cv::Mat Photo(const std::string& name) {
  auto image = media::ReadImage(kPhotos + name, 100'000'000);
  EXPECT_TRUE(image.ok()) << name << ": " << image.status().ToString();
  return image.ok() ? *image : cv::Mat();
}

std::unique_ptr<FaceDetector> YuNet(const std::string& file, int side) {
  auto detector = NewYuNetFaceDetector(kYunet / file, side);
  EXPECT_TRUE(detector.ok()) << detector.status().ToString();
  return detector.ok() ? std::move(detector).value() : nullptr;
}

double Iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const double overlap = (a & b).area();
  return overlap / (a.area() + b.area() - overlap);
}

TEST(YuNetDetector, FindsOneFacePerPortraitWhereHogDoes) {
  auto yunet = YuNet("yunet_s_640_640.onnx", 640);
  ASSERT_NE(yunet, nullptr);
  auto hog = NewHogFaceDetector();
  for (const char* name : {"grace_hopper_usn_portrait.jpg", "eileen_collins_nasa_portrait.png",
                           "obama_official_portrait_2012.jpg", "abraham_lincoln_gardner_1863.jpg",
                           "obama_official_portrait_2012_small_320x240.jpg"}) {
    const cv::Mat image = Photo(name);
    auto found = yunet->Detect(image, 0.5f);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    ASSERT_EQ(found->size(), 1u) << name;
    auto reference = hog->Detect(image, 0.5f);
    ASSERT_TRUE(reference.ok() && reference->size() == 1u) << name;
    // The two detectors frame a face differently (YuNet includes the forehead), but
    // the boxes are the same face.
    EXPECT_GT(Iou(found->front().box, reference->front().box), 0.4) << name;
    EXPECT_GT(found->front().score, 0.7f) << name;
  }
}

TEST(YuNetDetector, FindsBothFacesAndNoneWhereThereAreNone) {
  for (const auto& [file, side] : {std::pair{"yunet_n_320_320.onnx", 320}, std::pair{"yunet_s_640_640.onnx", 640}}) {
    auto yunet = YuNet(file, side);
    ASSERT_NE(yunet, nullptr);
    auto two = yunet->Detect(Photo("obama_biden_blue_room_2010_two_faces.jpg"), 0.5f);
    ASSERT_TRUE(two.ok());
    EXPECT_EQ(two->size(), 2u) << file;
    for (const char* name : {"noface_coffee.png", "noface_chelsea_cat.png"}) {
      auto none = yunet->Detect(Photo(name), 0.5f);
      ASSERT_TRUE(none.ok());
      EXPECT_TRUE(none->empty()) << file << " " << name;
    }
    cv::Mat grey;
    cv::cvtColor(Photo("grace_hopper_usn_portrait.jpg"), grey, cv::COLOR_BGR2GRAY);
    auto from_grey = yunet->Detect(grey, 0.5f);
    ASSERT_TRUE(from_grey.ok());
    EXPECT_EQ(from_grey->size(), 1u) << file;
  }
}

TEST(BlazeFaceDetector, FrontFindsThePortraitsBackFindsSmallerFaces) {
  const fs::path blazeface = fs::path(SWAPLINE_MODELS_DIR) / "blazeface";
  auto front = NewBlazeFaceDetector(blazeface / "face_detection_front_128x128_barracuda.onnx", 128);
  auto back = NewBlazeFaceDetector(blazeface / "face_detection_back_256x256_barracuda.onnx", 256);
  ASSERT_TRUE(front.ok()) << front.status().ToString();
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  auto hog = NewHogFaceDetector();
  for (const char* name : {"grace_hopper_usn_portrait.jpg", "eileen_collins_nasa_portrait.png",
                           "obama_official_portrait_2012.jpg"}) {
    const cv::Mat image = Photo(name);
    auto reference = hog->Detect(image, 0.5f);
    ASSERT_TRUE(reference.ok() && reference->size() == 1u) << name;
    for (auto* detector : {front->get(), back->get()}) {
      auto found = detector->Detect(image, 0.5f);
      ASSERT_TRUE(found.ok()) << found.status().ToString();
      ASSERT_EQ(found->size(), 1u) << name;
      EXPECT_GT(Iou(found->front().box, reference->front().box), 0.4) << name;
    }
  }
  auto two = (*back)->Detect(Photo("obama_biden_blue_room_2010_two_faces.jpg"), 0.5f);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
  for (const char* name : {"noface_coffee.png", "noface_chelsea_cat.png"}) {
    auto none = (*front)->Detect(Photo(name), 0.5f);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty()) << name;
  }
  // The front model's file with the back model's input size: the dry run refuses it.
  EXPECT_EQ(NewBlazeFaceDetector(blazeface / "face_detection_front_128x128_barracuda.onnx", 256).status().code(),
            Code::kFailedPrecondition);
}

TEST(InferenceSession, AWrongOrDamagedModelFailsAtLoadNamingTheProblem) {
  // Declared outputs that the network does not have, or has with another shape.
  const fs::path model = kYunet / "yunet_n_320_320.onnx";
  auto misnamed = infer::InferenceSession::Load(model, {{"input", {1, 3, 320, 320}}, {{"scores", {1, 1600, 1}}}});
  EXPECT_EQ(misnamed.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(misnamed.status().message().find("yunet_n_320_320.onnx"), std::string::npos)
      << misnamed.status().ToString();
  auto misshapen = infer::InferenceSession::Load(model, {{"input", {1, 3, 320, 320}}, {{"cls_8", {1, 400, 1}}}});
  EXPECT_EQ(misshapen.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(misshapen.status().message().find("output cls_8 is 1x1600x1, expected 1x400x1"), std::string::npos)
      << misshapen.status().ToString();
  // Another network entirely (Face Mesh): its input is not named "input".
  auto foreign = NewYuNetFaceDetector(fs::path(SWAPLINE_MODELS_DIR) / "facemesh/face_landmark_barracuda_folded.onnx", 320);
  EXPECT_EQ(foreign.status().code(), Code::kFailedPrecondition) << foreign.status().ToString();
  // A truncated file, and a missing one.
  TempDir dir("swapline_infer");
  const std::string bytes = ReadFileBytes(kYunet / "yunet_n_320_320.onnx");
  WriteFileBytes(dir / "cut.onnx", bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(NewYuNetFaceDetector(dir / "cut.onnx", 320).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(NewYuNetFaceDetector(dir / "missing.onnx", 320).status().code(), Code::kNotFound);
  EXPECT_EQ(NewYuNetFaceDetector(kYunet / "yunet_n_320_320.onnx", 480).status().code(), Code::kInvalidArgument);
}

TEST(InferenceSession, ClonesRunIndependentlyAndRefuseWrongInputs) {
  const infer::ModelSignature signature{{"input", {1, 3, 320, 320}}, {{"cls_8", {1, 1600, 1}}}};
  auto session = infer::InferenceSession::Load(kYunet / "yunet_n_320_320.onnx", signature);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  auto clone = (*session)->Clone();
  ASSERT_TRUE(clone.ok());
  const int shape[] = {1, 3, 320, 320};
  cv::Mat blob(4, shape, CV_32F);
  cv::randu(blob, 0, 255);
  auto a = (*session)->Run(blob);
  auto b = (*clone)->Run(blob);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(cv::norm(a->front(), b->front(), cv::NORM_INF), 0.0);
  const int small[] = {1, 3, 160, 160};
  EXPECT_EQ((*session)->Run(cv::Mat(4, small, CV_32F, cv::Scalar(0))).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace swapline::vision
