// YuNet and BlazeFace through the inference layer, on the real models in
// SWAPLINE_MODELS_DIR and the test photos: which faces they find, how their boxes
// agree with HOG's, and that a wrong or damaged model file fails at load with a
// clear error. SCRFD/RetinaFace and yolo_face on synthetic networks with their layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

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

TEST(MarginFaceDetector, AFaceCutByTheFramesLeftEdgeIsFoundWithAMarginThere) {
  const fs::path back_model = fs::path(SWAPLINE_MODELS_DIR) / "blazeface/face_detection_back_256x256_barracuda.onnx";
  const cv::Mat portrait = Photo("obama_official_portrait_2012.jpg");
  auto hog = NewHogFaceDetector();
  auto whole = hog->Detect(portrait, 0.5f);
  ASSERT_TRUE(whole.ok() && whole->size() == 1u);
  const cv::Rect2f face = whole->front().box;
  // The frame's left edge through the face, a little left of its middle.
  const int cut = cvRound(face.x + 0.45f * face.width);
  const cv::Mat cut_image = portrait.colRange(cut, portrait.cols).clone();
  auto plain = NewBlazeFaceDetector(back_model, 256);
  auto padded = NewBlazeFaceDetector(back_model, 256);
  ASSERT_TRUE(plain.ok() && padded.ok());
  auto without = (*plain)->Detect(cut_image, 0.5f);
  ASSERT_TRUE(without.ok());
  EXPECT_TRUE(without->empty()) << "BlazeFace found the cut face without a margin: the case no longer shows it";
  auto margin = NewMarginFaceDetector(std::move(padded).value(), {0, 0, 0, 40});
  ASSERT_TRUE(margin.ok()) << margin.status().ToString();
  auto found = (*margin)->Detect(cut_image, 0.5f);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  // The box reaches past the frame's edge, where the rest of the face is.
  EXPECT_LT(found->front().box.x, 0.0f);
  const cv::Rect2f in_portrait = found->front().box + cv::Point2f(static_cast<float>(cut), 0.0f);
  EXPECT_GT(Iou(in_portrait, face), 0.4) << in_portrait << " vs " << face;
  // On the whole portrait a margin changes nothing but the scale detected at.
  auto hog_margin = NewMarginFaceDetector(NewHogFaceDetector(), {30, 0, 0, 30});
  ASSERT_TRUE(hog_margin.ok());
  auto again = (*hog_margin)->Detect(portrait, 0.5f);
  ASSERT_TRUE(again.ok() && again->size() == 1u);
  EXPECT_GT(Iou(again->front().box, face), 0.7) << again->front().box << " vs " << face;
  for (const float wrong : {-1.0f, 100.5f}) {
    EXPECT_EQ(NewMarginFaceDetector(NewHogFaceDetector(), {0, wrong, 0, 0}).status().code(), Code::kInvalidArgument);
  }
}

TEST(InferenceSession, AWrongOrDamagedModelFailsAtLoadNamingTheProblem) {
  // Declared outputs that the network does not have, or has with another shape.
  const fs::path model = kYunet / "yunet_n_320_320.onnx";
  auto misnamed = infer::InferenceSession::Load(model, {{{"input", {1, 3, 320, 320}}}, {{"scores", {1, 1600, 1}}}});
  EXPECT_EQ(misnamed.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(misnamed.status().message().find("yunet_n_320_320.onnx"), std::string::npos)
      << misnamed.status().ToString();
  auto misshapen = infer::InferenceSession::Load(model, {{{"input", {1, 3, 320, 320}}}, {{"cls_8", {1, 400, 1}}}});
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
  const infer::ModelSignature signature{{{"input", {1, 3, 320, 320}}}, {{"cls_8", {1, 1600, 1}}}};
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

// Synthetic networks with the real models' input and output layout (synthetic_models.py):
// a colour square covering one cell makes one candidate at the level that colour
// drives (blue: stride 8, green: 16, red: 32) with score sigmoid(20 * (mean - 0.9)) on
// the normalised input, and constant box regressions.
const fs::path kSynthetic = SWAPLINE_SYNTHETIC_MODELS_DIR;

// A black image with a filled square per (top-left, side, BGR colour).
cv::Mat Squares(cv::Size size, const std::vector<std::tuple<cv::Point, int, cv::Scalar>>& squares) {
  cv::Mat image(size, CV_8UC3, cv::Scalar::all(0));
  for (const auto& [corner, side, colour] : squares) image(cv::Rect(corner, cv::Size(side, side))).setTo(colour);
  return image;
}
const cv::Scalar kBlue(255, 0, 0), kGreen(0, 255, 0), kRed(0, 0, 255);

float Sigmoid(double x) { return static_cast<float>(1 / (1 + std::exp(-x))); }

// The detections sorted by area, so each level's is found at its index.
std::vector<Detection> ByArea(std::vector<Detection> found) {
  std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.box.area() < b.box.area(); });
  return found;
}

void ExpectBox(const Detection& found, cv::Rect2f expected) {
  EXPECT_NEAR(found.box.x, expected.x, 0.01) << found.box;
  EXPECT_NEAR(found.box.y, expected.y, 0.01) << found.box;
  EXPECT_NEAR(found.box.width, expected.width, 0.01) << found.box;
  EXPECT_NEAR(found.box.height, expected.height, 0.01) << found.box;
}

TEST(ScrfdDetector, DecodesEachStrideFromItsTopLeftAnchorsWithBgrInputCentredAt127) {
  auto scrfd = NewScrfdFaceDetector(kSynthetic / "scrfd.onnx", 640);
  ASSERT_TRUE(scrfd.ok()) << scrfd.status().ToString();
  // One cell per level: stride 8 cell (10, 12), stride 16 cell (10, 20), stride 32 cell (10, 3).
  const cv::Mat image = Squares({640, 640}, {{{80, 96}, 8, kBlue}, {{160, 320}, 16, kGreen}, {{320, 96}, 32, kRed}});
  auto found = (*scrfd)->Detect(image, 0.5f);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->size(), 3u);
  const auto levels = ByArea(*found);
  // Anchor at the cell's top-left corner; distances (1, 2, 3, 4) strides to the left,
  // top, right and bottom.
  ExpectBox(levels[0], {80 - 8, 96 - 16, 4 * 8, 6 * 8});
  ExpectBox(levels[1], {160 - 16, 320 - 32, 4 * 16, 6 * 16});
  ExpectBox(levels[2], {320 - 32, 96 - 64, 4 * 32, 6 * 32});
  // (255 - 127.5) / 128 on the cell: another normalisation gives another score.
  for (const Detection& d : levels) EXPECT_NEAR(d.score, Sigmoid(20 * (127.5 / 128) - 18), 1e-3);
  auto strict = (*scrfd)->Detect(image, 0.9f);
  ASSERT_TRUE(strict.ok());
  EXPECT_TRUE(strict->empty());
}

TEST(ScrfdDetector, MapsBoxesBackFromTheTopLeftFittedInput) {
  // A 1280x640 frame fits 640x320 at half scale, from the top-left corner; so does a
  // 640x640 one into a 320 px input (the network takes any size, as the real ones do).
  auto scrfd_640 = NewScrfdFaceDetector(kSynthetic / "scrfd.onnx", 640);
  auto scrfd_320 = NewScrfdFaceDetector(kSynthetic / "scrfd.onnx", 320);
  ASSERT_TRUE(scrfd_640.ok() && scrfd_320.ok());
  const cv::Rect2f expected(2 * (80 - 8), 2 * (96 - 16), 2 * 32, 2 * 48);
  for (auto& [detector, size] : {std::pair{scrfd_640->get(), cv::Size(1280, 640)},
                                 std::pair{scrfd_320->get(), cv::Size(640, 640)}}) {
    auto found = detector->Detect(Squares(size, {{{160, 192}, 16, kBlue}}), 0.5f);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    ASSERT_EQ(found->size(), 1u) << size;
    ExpectBox(found->front(), expected);
  }
}

TEST(YoloFaceDetector, DecodesCentreSizeColumnsWithBgrInputOver255) {
  auto yolo = NewYoloFaceDetector(kSynthetic / "yoloface_8n.onnx");
  ASSERT_TRUE(yolo.ok()) << yolo.status().ToString();
  const cv::Mat image = Squares({640, 640}, {{{80, 96}, 8, kBlue}, {{320, 96}, 32, kRed}});
  auto found = (*yolo)->Detect(image, 0.5f);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->size(), 2u);
  const auto levels = ByArea(*found);
  // Centre of the cell, 2 strides wide and 3 high.
  ExpectBox(levels[0], {84 - 8, 100 - 12, 16, 24});
  ExpectBox(levels[1], {336 - 32, 112 - 48, 64, 96});
  for (const Detection& d : levels) EXPECT_NEAR(d.score, Sigmoid(20 * 1.0 - 18), 1e-3);
}

TEST(ScrfdDetector, AnotherLayoutOrSizeFailsAtLoad) {
  // yolo_face's file has no output of SCRFD's shapes; SCRFD's has no "images" input.
  auto swapped = NewScrfdFaceDetector(kSynthetic / "yoloface_8n.onnx", 640);
  EXPECT_EQ(swapped.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(swapped.status().message().find("yoloface_8n.onnx"), std::string::npos) << swapped.status().ToString();
  EXPECT_EQ(NewYoloFaceDetector(kSynthetic / "scrfd.onnx").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(NewScrfdFaceDetector(kSynthetic / "scrfd.onnx", 100).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(LoadFaceDetector("retinanet", kSynthetic / "scrfd.onnx", 640).status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace swapline::vision
