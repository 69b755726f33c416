// The learned masks on synthetic networks with the real layouts
// (support/synthetic_models.py): XSeg reads an NHWC BGR / 255 crop and its stand-in
// answers with the red channel; BiSeNet reads an NCHW RGB crop with ImageNet
// normalisation and its stand-in calls bright red skin, bright blue nose and dark
// background. A red/blue split crop shows whether layout, channel order and scaling
// are read right; a painted occluder on a real face shows the mask reaching the frame.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "media/image_codec.h"
#include "vision/face_aligner.h"
#include "vision/face_analyser.h"
#include "vision/face_masker.h"
#include "vision/face_segmenter.h"

namespace swapline::vision {
namespace {

namespace fs = std::filesystem;
const fs::path kSynthetic = SWAPLINE_SYNTHETIC_MODELS_DIR;
const fs::path kXseg = kSynthetic / "xseg_1.onnx";
const fs::path kBisenet = kSynthetic / "bisenet_resnet_34.onnx";

std::shared_ptr<FaceSegmenter> Load(std::string_view architecture, const fs::path& path) {
  auto loaded = FaceSegmenter::Load(architecture, path);
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  return loaded.ok() ? *loaded : nullptr;
}

// Left half pure red, right half pure blue (BGR).
cv::Mat RedBlueCrop(int side) {
  cv::Mat crop(side, side, CV_8UC3, cv::Scalar(0, 0, 255));
  crop.colRange(side / 2, side).setTo(cv::Scalar(255, 0, 0));
  return crop;
}

float At(const cv::Mat& mask, int x, int y) { return mask.at<float>(y, x); }

TEST(FaceSegmenter, OccluderReadsAnNhwcBgrCropScaledToOne) {
  auto occluder = Load("xseg", kXseg);
  ASSERT_NE(occluder, nullptr);
  EXPECT_EQ(occluder->kind(), FaceSegmenter::Kind::kOccluder);
  auto mask = occluder->Segment(RedBlueCrop(256), {});
  ASSERT_TRUE(mask.ok()) << mask.status().ToString();
  ASSERT_EQ(mask->size(), cv::Size(256, 256));
  ASSERT_EQ(mask->type(), CV_32F);
  // Away from the split (the feather is σ 5 px at 256): red shows, blue occludes.
  for (int y : {10, 128, 245}) {
    EXPECT_NEAR(At(*mask, 40, y), 1.0f, 1e-4) << y;
    EXPECT_NEAR(At(*mask, 216, y), 0.0f, 1e-4) << y;
  }
  // Red 191 is 0.749 from the network, (0.749 − 0.5) · 2 after the confidence remap.
  auto half = occluder->Segment(cv::Mat(256, 256, CV_8UC3, cv::Scalar(0, 0, 191)), {});
  ASSERT_TRUE(half.ok());
  EXPECT_NEAR(At(*half, 128, 128), (191.0 / 255 - 0.5) * 2, 1e-3);
  // Below half confidence nothing shows.
  auto low = occluder->Segment(cv::Mat(256, 256, CV_8UC3, cv::Scalar(0, 0, 120)), {});
  ASSERT_TRUE(low.ok());
  EXPECT_EQ(cv::countNonZero(*low), 0);
}

TEST(FaceSegmenter, ParserKeepsTheChosenRegionsOfAnRgbImageNetCrop) {
  auto parser = Load("bisenet", kBisenet);
  ASSERT_NE(parser, nullptr);
  EXPECT_EQ(parser->kind(), FaceSegmenter::Kind::kParser);
  const cv::Mat crop = RedBlueCrop(512);
  auto skin = ParseFaceRegions({"skin"});
  auto nose = ParseFaceRegions({"nose"});
  ASSERT_TRUE(skin.ok() && nose.ok());
  EXPECT_EQ(*skin, std::vector<int>{1});
  EXPECT_EQ(*nose, std::vector<int>{10});
  auto skin_mask = parser->Segment(crop, *skin);
  auto nose_mask = parser->Segment(crop, *nose);
  auto all_mask = parser->Segment(crop, FaceMaskOptions::AllFaceRegions());
  ASSERT_TRUE(skin_mask.ok() && nose_mask.ok() && all_mask.ok());
  // Finished at 256×256, the crop's square at half the parser's side.
  ASSERT_EQ(skin_mask->size(), cv::Size(256, 256));
  for (int y : {10, 128, 245}) {
    // Red is skin (RGB's first channel), blue is nose (its last).
    EXPECT_NEAR(At(*skin_mask, 30, y), 1.0f, 1e-4);
    EXPECT_NEAR(At(*skin_mask, 225, y), 0.0f, 1e-4);
    EXPECT_NEAR(At(*nose_mask, 30, y), 0.0f, 1e-4);
    EXPECT_NEAR(At(*nose_mask, 225, y), 1.0f, 1e-4);
    EXPECT_NEAR(At(*all_mask, 30, y), 1.0f, 1e-4);
    EXPECT_NEAR(At(*all_mask, 225, y), 1.0f, 1e-4);
  }
  // ImageNet's red mean is 0.485: red 120 normalises below zero, the background's
  // score, and 130 above it.
  auto dim = parser->Segment(cv::Mat(512, 512, CV_8UC3, cv::Scalar(0, 0, 120)), *skin);
  auto lit = parser->Segment(cv::Mat(512, 512, CV_8UC3, cv::Scalar(0, 0, 130)), *skin);
  ASSERT_TRUE(dim.ok() && lit.ok());
  EXPECT_EQ(cv::countNonZero(*dim), 0);
  EXPECT_NEAR(At(*lit, 128, 128), 1.0f, 1e-4);
}

TEST(FaceSegmenter, WrongModelsAndNamesAreRefused) {
  // Each network's layout is the other's wrong one.
  auto swapped_occluder = FaceSegmenter::Load("xseg", kBisenet);
  ASSERT_FALSE(swapped_occluder.ok());
  EXPECT_EQ(swapped_occluder.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(swapped_occluder.status().message().find("face occluder"), std::string::npos);
  auto swapped_parser = FaceSegmenter::Load("bisenet", kXseg);
  ASSERT_FALSE(swapped_parser.ok());
  EXPECT_EQ(swapped_parser.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(FaceSegmenter::Load("unet", kXseg).status().code(), Code::kInvalidArgument);
  auto unknown = ParseFaceRegions({"skin", "ears"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'ears'"), std::string::npos);
  EXPECT_FALSE(ParseFaceRegions({}).ok());
  auto occluder = Load("xseg", kXseg);
  ASSERT_NE(occluder, nullptr);
  EXPECT_EQ(occluder->Segment(cv::Mat(128, 128, CV_8UC3), {}).status().code(), Code::kInvalidArgument);
}

TEST(FaceSegmenter, AnOccluderOnARealFaceKeepsTheTargetThere) {
  auto image = media::ReadImage(SWAPLINE_TESTDATA_DIR "/photos/obama_official_portrait_2012.jpg");
  ASSERT_TRUE(image.ok());
  auto analyser = FaceAnalyser::CreateDefault();
  ASSERT_TRUE(analyser.ok());
  auto faces = analyser->Analyse(*image, 0.3f, false);
  ASSERT_TRUE(faces.ok() && faces->size() == 1u);
  const Face& face = faces->front();
  // A green card (no red: the stand-in's occluder) over the mouth.
  cv::Mat target = image->clone();
  const float width = FaceWidth(face.landmarks68);
  const cv::Point2f mouth = face.landmarks68[62];
  const cv::Rect card(cvRound(mouth.x - 0.2f * width), cvRound(mouth.y - 0.1f * width), cvRound(0.4f * width),
                      cvRound(0.2f * width));
  target(card).setTo(cv::Scalar(0, 255, 0));
  FaceMaskOptions options;
  options.types = {MaskType::kOcclusion};
  const cv::Mat ones(target.size(), CV_32F, cv::Scalar(1.0));
  cv::Mat mask = ones;
  // Without the network: a clear refusal, the mask untouched.
  cv::Mat no_shift;
  Status missing = ApplySegmentationMasks(face, WarpTemplate::kArcface128, target, target, options, mask, no_shift);
  EXPECT_EQ(missing.code(), Code::kFailedPrecondition);
  options.occluder = Load("xseg", kXseg);
  ASSERT_NE(options.occluder, nullptr);
  // A motion of the target's pixels (the classic swapper's morph) stops under the card.
  const cv::Mat moving(target.size(), CV_32FC2, cv::Scalar(2.0f, -1.0f));
  cv::Mat shift = moving;
  ASSERT_TRUE(ApplySegmentationMasks(face, WarpTemplate::kArcface128, target, target, options, mask, shift).ok());
  EXPECT_EQ(cv::countNonZero(ones != 1.0f), 0) << "the mask it narrowed was shared";
  EXPECT_EQ(moving.at<cv::Vec2f>(0, 0), cv::Vec2f(2.0f, -1.0f)) << "the shift it stopped was shared";
  // The card's inside is occluded; the skin of the cheeks (red above half) shows;
  // nothing outside the aligned crop is touched by the mask.
  const cv::Rect inside(card.x + card.width / 4, card.y + card.height / 4, card.width / 2, card.height / 2);
  double max_inside = 0;
  cv::minMaxLoc(mask(inside), nullptr, &max_inside);
  EXPECT_LT(max_inside, 0.01);
  cv::Mat shift_x;
  cv::extractChannel(shift(inside), shift_x, 0);
  double max_shift = 0;
  cv::minMaxLoc(cv::abs(shift_x), nullptr, &max_shift);
  EXPECT_LT(max_shift, 0.02);
  const cv::Point2f cheek = (face.landmarks68[2] + face.landmarks68[30]) * 0.5f;
  EXPECT_GT(At(mask, cvRound(cheek.x), cvRound(cheek.y)), 0.1f);
  EXPECT_EQ(At(mask, 2, 2), 0.0f);
}

}  // namespace
}  // namespace swapline::vision
