// Unit tests for face geometry on synthetic data: alignment onto FaceFusion's templates
// (vision/face_aligner.h), the 68→5 landmark reduction (vision/face.h), the open-mouth
// test and mask option validation (vision/face_masker.h).
//
// Tests that need real faces (detector, landmarker, masks of real landmarks,
// triangulation) are in face_analysis_test.cc.

#include <array>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/face.h"
#include "vision/face_aligner.h"
#include "vision/face_masker.h"

namespace swapline::vision {
namespace {

constexpr std::array kAllTemplates = {
    WarpTemplate::kArcface112V1, WarpTemplate::kArcface112V2, WarpTemplate::kArcface128,
    WarpTemplate::kDflWholeFace, WarpTemplate::kFfhq512,      WarpTemplate::kMtcnn512,
    WarpTemplate::kStyleganex384,
};

const char* TemplateName(WarpTemplate t) {
  switch (t) {
    case WarpTemplate::kArcface112V1: return "arcface_112_v1";
    case WarpTemplate::kArcface112V2: return "arcface_112_v2";
    case WarpTemplate::kArcface128: return "arcface_128";
    case WarpTemplate::kDflWholeFace: return "dfl_whole_face";
    case WarpTemplate::kFfhq512: return "ffhq_512";
    case WarpTemplate::kMtcnn512: return "mtcnn_512";
    case WarpTemplate::kStyleganex384: return "styleganex_384";
  }
  return "?";
}

// A similarity transform (rotation by `degrees`, uniform `scale`, then `shift`) as 2x3 CV_64F.
cv::Mat Similarity(double degrees, double scale, cv::Point2d shift) {
  const double a = degrees * std::numbers::pi / 180.0;
  cv::Mat m = (cv::Mat_<double>(2, 3) << scale * std::cos(a), -scale * std::sin(a), shift.x,
               scale * std::sin(a), scale * std::cos(a), shift.y);
  return m;
}

cv::Point2d Apply(const cv::Mat& m, cv::Point2d p) {
  return {m.at<double>(0, 0) * p.x + m.at<double>(0, 1) * p.y + m.at<double>(0, 2),
          m.at<double>(1, 0) * p.x + m.at<double>(1, 1) * p.y + m.at<double>(1, 2)};
}

// The template's points at `crop` pixels.
std::array<cv::Point2d, 5> TemplateAt(WarpTemplate t, cv::Size crop) {
  std::array<cv::Point2d, 5> out;
  for (int i = 0; i < 5; ++i) {
    out[i] = {TemplatePoints(t)[i].x * crop.width, TemplatePoints(t)[i].y * crop.height};
  }
  return out;
}

// ---- Templates. ----

TEST(WarpTemplateTest, ParsesEveryFaceFusionName) {
  for (WarpTemplate t : kAllTemplates) {
    auto parsed = ParseWarpTemplate(TemplateName(t));
    ASSERT_TRUE(parsed.ok()) << TemplateName(t);
    EXPECT_EQ(*parsed, t) << TemplateName(t);
  }
  auto unknown = ParseWarpTemplate("arcface_999");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Code::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("arcface_999"), std::string::npos);
}

TEST(WarpTemplateTest, PointsAreNormalisedAndFaceShaped) {
  for (WarpTemplate t : kAllTemplates) {
    SCOPED_TRACE(TemplateName(t));
    const auto& p = TemplatePoints(t);
    for (const cv::Point2f& q : p) {
      EXPECT_GT(q.x, 0.0f);
      EXPECT_LT(q.x, 1.0f);
      EXPECT_GT(q.y, 0.0f);
      EXPECT_LT(q.y, 1.0f);
    }
    EXPECT_LT(p[0].x, p[1].x);  // left eye left of right eye
    EXPECT_LT(p[3].x, p[4].x);  // left mouth corner left of right one
    EXPECT_LT(p[0].y, p[2].y);  // eyes above nose
    EXPECT_LT(p[2].y, p[3].y);  // nose above mouth
    EXPECT_GT(p[2].x, p[0].x);
    EXPECT_LT(p[2].x, p[1].x);
  }
  // Spot check against FaceFusion's WARP_TEMPLATE_SET.
  EXPECT_FLOAT_EQ(TemplatePoints(WarpTemplate::kArcface128)[0].x, 0.36167656f);
  EXPECT_FLOAT_EQ(TemplatePoints(WarpTemplate::kFfhq512)[2].y, 0.61331904f);
  EXPECT_FLOAT_EQ(TemplatePoints(WarpTemplate::kArcface112V2)[4].x, 0.63151696f);
}

// ---- Alignment. ----

struct KnownSimilarity {
  double degrees;
  double scale;
  cv::Point2d shift;
};

// The template at `crop` is placed in an "image" by a known similarity S; the face's
// 5 landmarks are then S(template). EstimateAlignment must recover S⁻¹: the landmarks
// map back onto the template within 0.5 px.
TEST(EstimateAlignmentTest, RecoversKnownSimilarityForEveryTemplateAndSize) {
  const std::vector<KnownSimilarity> similarities = {
      {0.0, 1.0, {0, 0}},         {0.0, 2.5, {300, 120}},     {17.0, 1.3, {420.5, 80.25}},
      {-35.0, 0.6, {50, 700}},    {90.0, 3.0, {1000, -20}},   {-170.0, 1.7, {640, 360}},
      {5.5, 0.25, {12.75, 33.5}},
  };
  const std::vector<cv::Size> crops = {{112, 112}, {128, 128}, {256, 256}, {384, 384}, {512, 512}};
  double worst = 0.0;
  for (WarpTemplate t : kAllTemplates) {
    for (const cv::Size crop : crops) {
      const auto reference = TemplateAt(t, crop);
      for (const KnownSimilarity& s : similarities) {
        SCOPED_TRACE(std::string(TemplateName(t)) + " at " + std::to_string(crop.width) + ", rotation " +
                     std::to_string(s.degrees) + ", scale " + std::to_string(s.scale));
        const cv::Mat to_image = Similarity(s.degrees, s.scale, s.shift);
        Landmarks5 landmarks;
        for (int i = 0; i < 5; ++i) {
          const cv::Point2d p = Apply(to_image, reference[i]);
          landmarks[i] = cv::Point2f(static_cast<float>(p.x), static_cast<float>(p.y));
        }
        auto alignment = EstimateAlignment(landmarks, t, crop);
        ASSERT_TRUE(alignment.ok()) << alignment.status().ToString();
        ASSERT_EQ(alignment->rows, 2);
        ASSERT_EQ(alignment->cols, 3);
        ASSERT_EQ(alignment->type(), CV_64F);
        for (int i = 0; i < 5; ++i) {
          const cv::Point2d back = Apply(*alignment, cv::Point2d(landmarks[i].x, landmarks[i].y));
          const double error = cv::norm(back - reference[i]);
          worst = std::max(worst, error);
          EXPECT_LT(error, 0.5) << "point " << i;
        }
        // And the matrix is the inverse similarity: composing gives the identity.
        const cv::Mat inverse = InvertAlignment(to_image);
        EXPECT_LT(cv::norm(*alignment, inverse, cv::NORM_INF) /
                      std::max(1.0, cv::norm(inverse, cv::NORM_INF)),
                  1e-3);
      }
    }
  }
  std::cout << "[ alignment ] worst template reprojection error: " << worst << " px\n";
}

TEST(EstimateAlignmentTest, NoisyLandmarksStillMapNearTheTemplate) {
  // Real landmarks are never an exact similarity of the template: perturb by up to
  // 1 px and check the least-squares fit keeps every point within a few px.
  const cv::Size crop(256, 256);
  const auto reference = TemplateAt(WarpTemplate::kArcface128, crop);
  const cv::Mat to_image = Similarity(12.0, 1.8, {200, 150});
  const std::array<cv::Point2d, 5> noise = {{{0.8, -0.6}, {-0.7, 0.9}, {0.5, 0.5}, {-1.0, 0.2}, {0.3, -1.0}}};
  Landmarks5 landmarks;
  for (int i = 0; i < 5; ++i) {
    const cv::Point2d p = Apply(to_image, reference[i]) + noise[i];
    landmarks[i] = cv::Point2f(static_cast<float>(p.x), static_cast<float>(p.y));
  }
  auto alignment = EstimateAlignment(landmarks, WarpTemplate::kArcface128, crop);
  ASSERT_TRUE(alignment.ok());
  for (int i = 0; i < 5; ++i) {
    const cv::Point2d back = Apply(*alignment, cv::Point2d(landmarks[i].x, landmarks[i].y));
    EXPECT_LT(cv::norm(back - reference[i]), 2.0) << "point " << i;
  }
}

TEST(EstimateAlignmentTest, DegenerateLandmarksAreAnErrorNotACrash) {
  Landmarks5 same;
  same.fill(cv::Point2f(10, 10));
  auto alignment = EstimateAlignment(same, WarpTemplate::kArcface128, {256, 256});
  // All points coincide: no similarity exists. Either an error or, if OpenCV returns
  // something, a finite matrix; never a crash.
  if (alignment.ok()) {
    EXPECT_TRUE(cv::checkRange(*alignment));
  } else {
    EXPECT_EQ(alignment.status().code(), Code::kInvalidArgument);
  }
}

TEST(InvertAlignmentTest, RoundTripsPointsAndMatrices) {
  const std::vector<cv::Mat> transforms = {
      Similarity(0, 1, {0, 0}), Similarity(23, 0.4, {-17.5, 300}), Similarity(-120, 2.2, {900, 40}),
      Similarity(179, 1.01, {0.5, 0.25})};
  const std::vector<cv::Point2f> points = {{0, 0}, {255, 0}, {0, 255}, {255, 255}, {100.5f, 37.25f}, {-40, 600}};
  for (const cv::Mat& m : transforms) {
    const cv::Mat inverse = InvertAlignment(m);
    ASSERT_EQ(inverse.size(), cv::Size(3, 2));
    const std::vector<cv::Point2f> there = TransformPoints(points, m);
    const std::vector<cv::Point2f> back = TransformPoints(there, inverse);
    ASSERT_EQ(back.size(), points.size());
    for (std::size_t i = 0; i < points.size(); ++i) {
      EXPECT_LT(cv::norm(back[i] - points[i]), 1e-3) << i;
    }
    EXPECT_LT(cv::norm(InvertAlignment(inverse), m, cv::NORM_INF), 1e-9);
  }
}

TEST(InvertAlignmentTest, WarpFaceThenInverseRestoresLandmarks) {
  // A crop made with an alignment and points mapped back with its inverse land where
  // they started: what PasteBack relies on.
  const cv::Size crop(512, 512);
  const auto reference = TemplateAt(WarpTemplate::kFfhq512, crop);
  const cv::Mat to_image = Similarity(-8.0, 0.9, {333, 222});
  Landmarks5 landmarks;
  for (int i = 0; i < 5; ++i) {
    const cv::Point2d p = Apply(to_image, reference[i]);
    landmarks[i] = cv::Point2f(static_cast<float>(p.x), static_cast<float>(p.y));
  }
  auto alignment = EstimateAlignment(landmarks, WarpTemplate::kFfhq512, crop);
  ASSERT_TRUE(alignment.ok());
  const std::vector<cv::Point2f> in_crop =
      TransformPoints(std::vector<cv::Point2f>(landmarks.begin(), landmarks.end()), *alignment);
  const std::vector<cv::Point2f> in_image = TransformPoints(in_crop, InvertAlignment(*alignment));
  for (int i = 0; i < 5; ++i) EXPECT_LT(cv::norm(in_image[i] - landmarks[i]), 1e-2);
}

TEST(WarpFaceTest, CropHasTheRequestedSizeAndSamplesTheAlignedPixels) {
  // An image with a bright dot at the left eye: the crop has it at the template's left eye.
  cv::Mat frame(600, 800, CV_8UC3, cv::Scalar(20, 20, 20));
  const cv::Size crop(256, 256);
  const auto reference = TemplateAt(WarpTemplate::kArcface128, crop);
  const cv::Mat to_image = Similarity(10.0, 1.5, {250, 100});
  Landmarks5 landmarks;
  for (int i = 0; i < 5; ++i) {
    const cv::Point2d p = Apply(to_image, reference[i]);
    landmarks[i] = cv::Point2f(static_cast<float>(p.x), static_cast<float>(p.y));
  }
  cv::circle(frame, cv::Point(cvRound(landmarks[0].x), cvRound(landmarks[0].y)), 6, cv::Scalar(250, 250, 250),
             cv::FILLED);
  auto alignment = EstimateAlignment(landmarks, WarpTemplate::kArcface128, crop);
  ASSERT_TRUE(alignment.ok());
  const cv::Mat face = WarpFace(frame, *alignment, crop);
  ASSERT_EQ(face.size(), crop);
  ASSERT_EQ(face.type(), CV_8UC3);
  const cv::Point eye(cvRound(reference[0].x), cvRound(reference[0].y));
  EXPECT_GT(face.at<cv::Vec3b>(eye)[0], 200);
  const cv::Point mouth(cvRound(reference[3].x), cvRound(reference[3].y));
  EXPECT_LT(face.at<cv::Vec3b>(mouth)[0], 40);
}

// ---- PasteBack. ----

// Mask of the pixels of `frame_size` covered by the crop's footprint (the crop square
// mapped back through the inverse alignment), grown (positive) or shrunk by `grow` px.
// `full` uses the crop's outer edge (w, h); otherwise the centres of its last pixels
// (w-1, h-1), beyond which bilinear sampling of the mask fades out.
cv::Mat Footprint(const cv::Mat& alignment, cv::Size crop, cv::Size frame_size, int grow, bool full = true) {
  const float w = static_cast<float>(crop.width - (full ? 0 : 1));
  const float h = static_cast<float>(crop.height - (full ? 0 : 1));
  const std::vector<cv::Point2f> corners =
      TransformPoints({{0, 0}, {w, 0}, {w, h}, {0, h}}, InvertAlignment(alignment));
  std::vector<cv::Point> polygon;
  for (const auto& c : corners) polygon.emplace_back(cvRound(c.x), cvRound(c.y));
  cv::Mat mask = cv::Mat::zeros(frame_size, CV_8U);
  cv::fillConvexPoly(mask, polygon, cv::Scalar(255));
  const int k = 2 * std::abs(grow) + 1;
  const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, {k, k});
  if (grow > 0) cv::dilate(mask, mask, kernel);
  if (grow < 0) cv::erode(mask, mask, kernel);
  return mask;
}

cv::Mat AnyChannelDiffers(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  std::vector<cv::Mat> channels;
  cv::split(diff, channels);
  cv::Mat any = channels[0] | channels[1] | channels[2];
  return any > 0;
}

struct PasteCase {
  double degrees;
  double scale;
  cv::Point2d shift;
};

TEST(PasteBackTest, TouchesOnlyTheCropFootprint) {
  const cv::Size crop_size(128, 128);
  const std::vector<PasteCase> cases = {
      {0, 1, {100, 50}}, {30, 1.7, {300, 100}}, {-60, 0.8, {150, 300}}, {135, 2.2, {500, 250}},
      // Partly outside the frame: must clip, not crash.
      {15, 2.0, {-60, -40}}, {-20, 1.5, {560, 330}}};
  for (const PasteCase& c : cases) {
    SCOPED_TRACE("rotation " + std::to_string(c.degrees) + " scale " + std::to_string(c.scale));
    cv::Mat frame(480, 640, CV_8UC3);
    cv::randu(frame, cv::Scalar::all(0), cv::Scalar::all(200));
    const cv::Mat original = frame.clone();
    // alignment: image → crop, the inverse of placing the crop at `shift`.
    const cv::Mat alignment = InvertAlignment(Similarity(c.degrees, c.scale, c.shift));
    const cv::Mat crop(crop_size, CV_8UC3, cv::Scalar(255, 255, 255));
    const cv::Mat mask(crop_size, CV_32F, cv::Scalar(1.0f));
    PasteBack(frame, crop, mask, alignment);

    const cv::Mat changed = AnyChannelDiffers(frame, original);
    const cv::Mat outside = Footprint(alignment, crop_size, frame.size(), 2) == 0;
    EXPECT_EQ(cv::countNonZero(changed & outside), 0) << "pixels changed outside the crop footprint";
    // Well inside the footprint the crop replaced the frame (mask 1).
    const cv::Mat inside = Footprint(alignment, crop_size, frame.size(), -2, /*full=*/false);
    const int inside_count = cv::countNonZero(inside);
    if (inside_count == 0) continue;
    cv::Mat white;
    cv::inRange(frame, cv::Scalar(255, 255, 255), cv::Scalar(255, 255, 255), white);
    EXPECT_EQ(cv::countNonZero(white & inside), inside_count);
  }
}

TEST(PasteBackTest, MaskIsTheAlpha) {
  cv::Mat frame(300, 300, CV_8UC3, cv::Scalar(100, 100, 100));
  const cv::Mat original = frame.clone();
  const cv::Mat alignment = InvertAlignment(Similarity(0, 1, {50, 50}));
  const cv::Size crop_size(128, 128);
  const cv::Mat crop(crop_size, CV_8UC3, cv::Scalar(200, 200, 200));

  // Zero mask: nothing changes.
  PasteBack(frame, crop, cv::Mat::zeros(crop_size, CV_32F), alignment);
  EXPECT_EQ(cv::countNonZero(AnyChannelDiffers(frame, original)), 0);

  // Half mask: halfway between frame and crop inside.
  PasteBack(frame, crop, cv::Mat(crop_size, CV_32F, cv::Scalar(0.5f)), alignment);
  const cv::Vec3b centre = frame.at<cv::Vec3b>(50 + 64, 50 + 64);
  EXPECT_NEAR(centre[0], 150, 1);
  EXPECT_EQ(frame.at<cv::Vec3b>(10, 10), cv::Vec3b(100, 100, 100));
  EXPECT_EQ(frame.at<cv::Vec3b>(250, 250), cv::Vec3b(100, 100, 100));

  // Mask only on the left half of the crop: the right half of the footprint is untouched.
  frame = original.clone();
  cv::Mat left(crop_size, CV_32F, cv::Scalar(0.0f));
  left.colRange(0, 64).setTo(1.0f);
  PasteBack(frame, crop, left, alignment);
  EXPECT_EQ(frame.at<cv::Vec3b>(50 + 64, 50 + 20), cv::Vec3b(200, 200, 200));
  EXPECT_EQ(frame.at<cv::Vec3b>(50 + 64, 50 + 100), cv::Vec3b(100, 100, 100));
}

TEST(PasteBackTest, FootprintOutsideTheFrameIsANoOp) {
  cv::Mat frame(100, 100, CV_8UC3, cv::Scalar(7, 8, 9));
  const cv::Mat original = frame.clone();
  const cv::Mat alignment = InvertAlignment(Similarity(0, 1, {5000, 5000}));
  PasteBack(frame, cv::Mat(64, 64, CV_8UC3, cv::Scalar(255, 0, 0)), cv::Mat(64, 64, CV_32F, cv::Scalar(1.0f)),
            alignment);
  EXPECT_EQ(cv::countNonZero(AnyChannelDiffers(frame, original)), 0);
}

// ---- 68 → 5 landmarks. ----

Landmarks68 SyntheticLandmarks68() {
  Landmarks68 p;
  for (int i = 0; i < 68; ++i) {
    // Irregular but deterministic values, so every index matters.
    p[i] = cv::Point2f(static_cast<float>(3.7 * i + 11.0 * std::sin(1.3 * i)),
                       static_cast<float>(0.11 * i * i - 5.0 * std::cos(0.7 * i) + 40.0));
  }
  return p;
}

cv::Point2f Mean(const Landmarks68& p, int first, int last) {
  double x = 0, y = 0;
  for (int i = first; i <= last; ++i) {
    x += p[i].x;
    y += p[i].y;
  }
  const double n = last - first + 1;
  return {static_cast<float>(x / n), static_cast<float>(y / n)};
}

TEST(Landmarks5From68Test, MatchesFaceFusionReduction) {
  const Landmarks68 p = SyntheticLandmarks68();
  const Landmarks5 five = Landmarks5From68(p);
  const Landmarks5 expected = {Mean(p, 36, 41), Mean(p, 42, 47), p[30], p[48], p[54]};
  for (int i = 0; i < 5; ++i) {
    EXPECT_NEAR(five[i].x, expected[i].x, 1e-3) << "point " << i;
    EXPECT_NEAR(five[i].y, expected[i].y, 1e-3) << "point " << i;
  }
  // Nose tip and mouth corners are copied exactly.
  EXPECT_EQ(five[2], p[30]);
  EXPECT_EQ(five[3], p[48]);
  EXPECT_EQ(five[4], p[54]);
}

TEST(Landmarks5From68Test, UsesOnlyTheEyeNoseAndMouthCornerPoints) {
  const Landmarks68 base = SyntheticLandmarks68();
  const Landmarks5 reference = Landmarks5From68(base);
  for (int i = 0; i < 68; ++i) {
    Landmarks68 moved = base;
    moved[i] += cv::Point2f(60.0f, -25.0f);
    const Landmarks5 five = Landmarks5From68(moved);
    const bool used = (i >= 36 && i <= 47) || i == 30 || i == 48 || i == 54;
    bool changed = false;
    for (int k = 0; k < 5; ++k) changed |= cv::norm(five[k] - reference[k]) > 1e-4;
    EXPECT_EQ(changed, used) << "moving point " << i;
  }
  // Moving one eye point by d moves that eye's centre by d/6.
  Landmarks68 moved = base;
  moved[38] += cv::Point2f(6.0f, 12.0f);
  const Landmarks5 five = Landmarks5From68(moved);
  EXPECT_NEAR(five[0].x - reference[0].x, 1.0f, 1e-3);
  EXPECT_NEAR(five[0].y - reference[0].y, 2.0f, 1e-3);
}

// ---- Mouth opening. ----

// A face 100 px wide (jaw 0 at x=0, 16 at x=100) with the inner lips `gap` px apart.
Landmarks68 MouthFace(float gap) {
  Landmarks68 p{};
  for (int i = 0; i <= 16; ++i) p[i] = cv::Point2f(100.0f * static_cast<float>(i) / 16.0f, 60.0f + 2.0f * i);
  // Inner lips: 60..64 upper (left corner, three upper points, right corner), 65..67 lower.
  p[60] = {40, 80};
  p[61] = {45, 79};
  p[62] = {50, 78};
  p[63] = {55, 79};
  p[64] = {60, 80};
  p[65] = {55, 79 + gap};
  p[66] = {50, 78 + gap};
  p[67] = {45, 79 + gap};
  return p;
}

TEST(MouthOpeningTest, IsTheInnerLipGapInFaceWidths) {
  const float width = FaceWidth(MouthFace(0.0f));
  EXPECT_EQ(MouthOpening(MouthFace(0.0f)), 0.0f);
  EXPECT_NEAR(MouthOpening(MouthFace(4.2f)), 4.2f / width, 1e-5);
  EXPECT_NEAR(MouthOpening(MouthFace(15.0f)), 15.0f / width, 1e-5);
}

TEST(MouthOpeningTest, ScalesWithTheFace) {
  // The same 6 px gap is about half as wide an opening on a face twice as wide.
  Landmarks68 small = MouthFace(6.0f);
  Landmarks68 big = small;
  big[16].x = big[0].x + 200.0f;
  EXPECT_NEAR(MouthOpening(small), 6.0f / FaceWidth(small), 1e-5);
  EXPECT_NEAR(MouthOpening(big), 6.0f / FaceWidth(big), 1e-5);
  EXPECT_LT(MouthOpening(big), 0.55f * MouthOpening(small));
}

TEST(FaceWidthTest, IsJawEndToJawEnd) {
  Landmarks68 p{};
  p[0] = {10, 20};
  p[16] = {40, 60};
  EXPECT_FLOAT_EQ(FaceWidth(p), 50.0f);
}

// ---- Mask options. ----

TEST(FaceMaskOptionsTest, DefaultsAreValid) {
  const FaceMaskOptions options;
  EXPECT_TRUE(ValidateFaceMaskOptions(options).ok());
  ASSERT_EQ(options.types.size(), 2u);
  EXPECT_FLOAT_EQ(options.blur, 0.3f);
}

TEST(FaceMaskOptionsTest, RejectsOutOfRangeBlur) {
  for (const float blur : {1.5f, -0.1f, 2.0f, std::nanf("")}) {
    FaceMaskOptions options;
    options.blur = blur;
    const Status status = ValidateFaceMaskOptions(options);
    ASSERT_FALSE(status.ok()) << "blur " << blur;
    EXPECT_EQ(status.code(), Code::kInvalidArgument);
    EXPECT_NE(status.message().find("--face-mask-blur"), std::string::npos) << status.message();
  }
  for (const float blur : {0.0f, 0.5f, 1.0f}) {
    FaceMaskOptions options;
    options.blur = blur;
    EXPECT_TRUE(ValidateFaceMaskOptions(options).ok()) << "blur " << blur;
  }
}

TEST(FaceMaskOptionsTest, RejectsOutOfRangePadding) {
  for (int side = 0; side < 4; ++side) {
    for (const float value : {120.0f, -1.0f}) {
      FaceMaskOptions options;
      options.padding[side] = value;
      const Status status = ValidateFaceMaskOptions(options);
      ASSERT_FALSE(status.ok()) << "side " << side << " value " << value;
      EXPECT_EQ(status.code(), Code::kInvalidArgument);
      EXPECT_NE(status.message().find("--face-mask-padding"), std::string::npos) << status.message();
    }
  }
  FaceMaskOptions options;
  options.padding = {0, 100, 50, 12.5f};
  EXPECT_TRUE(ValidateFaceMaskOptions(options).ok());
}

TEST(FaceMaskOptionsTest, RejectsNoTypes) {
  FaceMaskOptions options;
  options.types.clear();
  const Status status = ValidateFaceMaskOptions(options);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_NE(status.message().find("--face-mask-types"), std::string::npos);
}

TEST(FaceMaskOptionsTest, ParsesTypeNames) {
  EXPECT_EQ(*ParseMaskType("box"), MaskType::kBox);
  EXPECT_EQ(*ParseMaskType("area"), MaskType::kArea);
  EXPECT_EQ(*ParseMaskType("occlusion"), MaskType::kOcclusion);
  EXPECT_EQ(*ParseMaskType("region"), MaskType::kRegion);
  for (const char* name : {"circle", "Region", ""}) {
    auto parsed = ParseMaskType(name);
    ASSERT_FALSE(parsed.ok()) << name;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace swapline::vision
