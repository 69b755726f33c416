// Tests of the vision stages on real photos (read by path from SWAPLINE_TESTDATA_DIR):
// HOG detector, dlib landmarker, masks of real landmarks, triangulation of the swap
// points, and reference-mode selection with the real DenseNet recognizer.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "media/image_codec.h"
#include "vision/face.h"
#include "vision/face_aligner.h"
#include "vision/face_analyser.h"
#include "vision/face_detector.h"
#include "vision/face_landmarker.h"
#include "vision/face_masker.h"
#include "vision/face_recognizer.h"
#include "vision/face_selector.h"
#include "vision/face_swapper.h"
#include "vision/image_turn.h"

namespace swapline::vision {
namespace {

const std::string kPhotos = SWAPLINE_TESTDATA_DIR "/photos/";
const std::string kRecognizerModel = SWAPLINE_MODELS_DIR "/dlib/face_recognition_densenet_model_v1.dat";
const std::string kTwoFaces = kPhotos + "obama_biden_blue_room_2010_two_faces.jpg";
const std::vector<std::string> kPortraits = {
    "grace_hopper_usn_portrait.jpg", "eileen_collins_nasa_portrait.png", "obama_official_portrait_2012.jpg",
    "abraham_lincoln_gardner_1863.jpg"};
const std::vector<std::string> kNoFace = {"noface_coffee.png", "noface_chelsea_cat.png"};

// Decoded photos and the default analyser, loaded once for the suite.
class FaceAnalysisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto analyser = FaceAnalyser::CreateDefault();
    if (analyser.ok()) {
      analyser_ = new FaceAnalyser(std::move(analyser).value());
    } else {
      error_ = new std::string(analyser.status().ToString());
    }
    images_ = new std::map<std::string, cv::Mat>();
  }

  static void TearDownTestSuite() {
    delete analyser_;
    analyser_ = nullptr;
    delete error_;
    error_ = nullptr;
    delete images_;
    images_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(analyser_, nullptr) << (error_ ? *error_ : std::string("?"));
  }

  static const cv::Mat& Image(const std::string& path) {
    auto it = images_->find(path);
    if (it == images_->end()) {
      auto image = media::ReadImage(path);
      EXPECT_TRUE(image.ok()) << image.status().ToString();
      it = images_->emplace(path, image.ok() ? *image : cv::Mat()).first;
    }
    return it->second;
  }

  static std::vector<Face> Analyse(const std::string& path) {
    auto faces = analyser_->Analyse(Image(path), 0.5f, false);
    EXPECT_TRUE(faces.ok()) << path << ": " << faces.status().ToString();
    return faces.ok() ? *faces : std::vector<Face>{};
  }

  // The largest face of a photo (fails the test if there is none).
  // The largest face of a photo, the whole photo as mask region, and the map from the
  // face's 256 px ArcFace-aligned square (where box masks are drawn) back to the photo;
  // an empty map when the alignment fails.
  struct AlignedFace {
    Face face;
    cv::Rect roi;
    cv::Mat to_image;
  };
  static AlignedFace AlignLargest(const std::string& path) {
    AlignedFace aligned{Largest(path), cv::Rect({0, 0}, Image(path).size()), {}};
    auto alignment = EstimateAlignment(aligned.face.landmarks5, WarpTemplate::kArcface128, {256, 256});
    EXPECT_TRUE(alignment.ok()) << path;
    if (alignment.ok()) aligned.to_image = InvertAlignment(*alignment);
    return aligned;
  }

  static Face Largest(const std::string& path) {
    std::vector<Face> faces = Analyse(path);
    EXPECT_FALSE(faces.empty()) << path;
    if (faces.empty()) return Face{};
    SortFaces(faces, SelectorOrder::kLargeSmall);
    return faces.front();
  }

  static FaceAnalyser* analyser_;
  static std::string* error_;
  static std::map<std::string, cv::Mat>* images_;
};

FaceAnalyser* FaceAnalysisTest::analyser_ = nullptr;
std::string* FaceAnalysisTest::error_ = nullptr;
std::map<std::string, cv::Mat>* FaceAnalysisTest::images_ = nullptr;

// ---- Detector. ----

TEST_F(FaceAnalysisTest, HogFindsBothFacesInTheTwoFacesPhoto) {
  auto detector = NewHogFaceDetector();
  auto found = detector->Detect(Image(kTwoFaces), 0.5f);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->size(), 2u);
  const cv::Rect2f a = (*found)[0].box, b = (*found)[1].box;
  EXPECT_EQ((a & b).area(), 0.0f) << "the two boxes overlap";
  for (const Detection& d : *found) {
    EXPECT_GE(d.score, 0.5f);
    EXPECT_LE(d.score, 1.0f);
    EXPECT_GT(d.box.width, 60.0f);
    const cv::Rect2f frame(0, 0, static_cast<float>(Image(kTwoFaces).cols), static_cast<float>(Image(kTwoFaces).rows));
    EXPECT_GT((d.box & frame).area(), 0.9f * d.box.area());
  }
}

// The detector is dlib's, decoded at build time: on each photo (at the scanned size, so
// boxes are not rescaled) it finds the boxes dlib's own decoding of it finds. Score 0.5
// is dlib's SVM margin 0.25 (face_detector.cc).
TEST_F(FaceAnalysisTest, HogFindsWhatDlibsOwnDetectorFinds) {
  auto detector = NewHogFaceDetector({.detect_side = 640});
  dlib::frontal_face_detector dlib_detector = dlib::get_frontal_face_detector();
  std::size_t faces = 0;
  for (const std::string& name : {kPortraits[0], kPortraits[1], kPortraits[2], kPortraits[3],
                                  std::string("obama_biden_blue_room_2010_two_faces.jpg")}) {
    const cv::Mat& image = Image(kPhotos + name);
    cv::Mat grey;
    const double scale = 640.0 / std::max(image.cols, image.rows);
    cv::resize(image, grey, cv::Size(), scale, scale, cv::INTER_AREA);
    cv::cvtColor(grey, grey, cv::COLOR_BGR2GRAY);
    auto found = detector->Detect(grey, 0.5f);
    ASSERT_TRUE(found.ok()) << name;
    const std::vector<dlib::rectangle> expected = dlib_detector(dlib::cv_image<unsigned char>(grey), 0.25);
    ASSERT_EQ(found->size(), expected.size()) << name;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const dlib::rectangle& r = expected[i];
      EXPECT_EQ((*found)[i].box, cv::Rect2f(static_cast<float>(r.left()), static_cast<float>(r.top()),
                                            static_cast<float>(r.width()), static_cast<float>(r.height())))
          << name;
    }
    faces += expected.size();
  }
  EXPECT_GE(faces, 6u);
}

TEST_F(FaceAnalysisTest, HogFindsOneFaceInEachFrontalPortrait) {
  auto detector = NewHogFaceDetector();
  for (const std::string& name : kPortraits) {
    const cv::Mat& image = Image(kPhotos + name);
    auto found = detector->Detect(image, 0.5f);
    ASSERT_TRUE(found.ok()) << name;
    ASSERT_EQ(found->size(), 1u) << name;
    const Detection& d = found->front();
    std::cout << "[ detect   ] " << name << ": box " << d.box << " score " << d.score << "\n";
    // A portrait's face is a good share of the picture, roughly in the middle.
    EXPECT_GT(d.box.width, 0.15f * static_cast<float>(image.cols)) << name;
    const float cx = d.box.x + d.box.width / 2;
    EXPECT_GT(cx, 0.25f * static_cast<float>(image.cols)) << name;
    EXPECT_LT(cx, 0.75f * static_cast<float>(image.cols)) << name;
  }
}

TEST(ImageTurnTest, PointsAndPixelsMapToTheTurnedCopyAndBack) {
  cv::Mat image(3, 5, CV_8UC1);
  for (int i = 0; i < 15; ++i) image.data[i] = static_cast<std::uint8_t>(i);
  for (const int angle : {0, 90, 180, 270}) {
    const cv::Mat turned = TurnClockwise(image, angle);
    EXPECT_EQ(turned.size(), angle % 180 == 0 ? image.size() : cv::Size(3, 5)) << angle;
    for (int y = 0; y < image.rows; ++y) {
      for (int x = 0; x < image.cols; ++x) {
        const cv::Point2f centre(x + 0.5f, y + 0.5f);
        const cv::Point2f there = ToTurned(centre, image.size(), angle);
        const cv::Point pixel(static_cast<int>(std::floor(there.x)), static_cast<int>(std::floor(there.y)));
        EXPECT_EQ(turned.at<std::uint8_t>(pixel), image.at<std::uint8_t>(y, x)) << angle;
        EXPECT_EQ(FromTurned(there, image.size(), angle), centre) << angle;
      }
    }
    const cv::Rect2f box(1, 0.5f, 2, 1.5f);
    EXPECT_EQ(FromTurned(ToTurned(box, image.size(), angle), image.size(), angle), box) << angle;
  }
}

TEST_F(FaceAnalysisTest, FacesOnTheirSideOrUpsideDownAreFoundAndMarkedWithDetectorAngles) {
  const std::string path = kPhotos + "grace_hopper_usn_portrait.jpg";
  const Face upright = Largest(path);
  const float width = FaceWidth(upright.landmarks68);
  auto turning = NewTurningFaceDetector(NewHogFaceDetector(), {0, 90, 180, 270});
  ASSERT_TRUE(turning.ok()) << turning.status().ToString();
  auto with_angles = FaceAnalyser::CreateWithDetector(std::move(turning).value());
  ASSERT_TRUE(with_angles.ok()) << with_angles.status().ToString();
  for (const int angle : {90, 180, 270}) {
    SCOPED_TRACE(angle);
    // The photo lying on its side or upside down: the face is turned the other way.
    const cv::Mat turned = TurnClockwise(Image(path), angle);
    auto plain = analyser_->Analyse(turned, 0.5f, false);
    ASSERT_TRUE(plain.ok());
    EXPECT_TRUE(plain->empty()) << "HOG looks for upright faces only";
    auto found = with_angles->Analyse(turned, 0.5f, false);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    ASSERT_EQ(found->size(), 1u);
    // The landmarks are the upright ones, turned with the photo.
    double error = 0;
    for (int i = 0; i < 68; ++i) {
      const cv::Point2f expected = ToTurned(upright.landmarks68[i], Image(path).size(), angle);
      error += cv::norm(found->front().landmarks68[i] - expected) / 68;
    }
    EXPECT_LT(error, 0.03 * width);
  }
  EXPECT_EQ(NewTurningFaceDetector(NewHogFaceDetector(), {0, 45}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(NewTurningFaceDetector(NewHogFaceDetector(), {90, 90}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(NewTurningFaceDetector(NewHogFaceDetector(), {}).status().code(), Code::kInvalidArgument);
}

TEST_F(FaceAnalysisTest, HogFindsNoFaceInNoFacePhotos) {
  auto detector = NewHogFaceDetector();
  for (const std::string& name : kNoFace) {
    auto found = detector->Detect(Image(kPhotos + name), 0.5f);
    ASSERT_TRUE(found.ok()) << name;
    EXPECT_TRUE(found->empty()) << name << ": " << found->size() << " face(s)";
  }
}

TEST_F(FaceAnalysisTest, DetectorScoreThresholdFilters) {
  auto detector = NewHogFaceDetector();
  auto all = detector->Detect(Image(kTwoFaces), 0.0f);
  ASSERT_TRUE(all.ok());
  float best = 0.0f;
  for (const Detection& d : *all) best = std::max(best, d.score);
  ASSERT_GT(best, 0.0f);
  auto none = detector->Detect(Image(kTwoFaces), std::min(1.0f, best + 1e-3f));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(FaceAnalysisTest, DetectorRejectsNonBgrInput) {
  auto detector = NewHogFaceDetector();
  auto empty = detector->Detect(cv::Mat(), 0.5f);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), Code::kInvalidArgument);
  for (const int type : {CV_32FC3, CV_16UC3, CV_8UC4}) {
    auto wrong = detector->Detect(cv::Mat(100, 100, type, cv::Scalar::all(0)), 0.5f);
    ASSERT_FALSE(wrong.ok()) << "type " << type;
    EXPECT_EQ(wrong.status().code(), Code::kInvalidArgument);
  }
}

TEST_F(FaceAnalysisTest, DetectionIsScaleConsistent) {
  // The detector scans a ~640 px copy: the same photo at half size gives the same box
  // (in its own pixels) within a few percent of the face width.
  const cv::Mat& full = Image(kPhotos + "obama_official_portrait_2012.jpg");
  cv::Mat half;
  cv::resize(full, half, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
  auto detector = NewHogFaceDetector();
  auto a = detector->Detect(full, 0.5f);
  auto b = detector->Detect(half, 0.5f);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 1u);
  ASSERT_EQ(b->size(), 1u);
  const cv::Rect2f fa = a->front().box, fb = b->front().box;
  const cv::Point2f ca(fa.x + fa.width / 2, fa.y + fa.height / 2);
  const cv::Point2f cb(2 * (fb.x + fb.width / 2), 2 * (fb.y + fb.height / 2));
  EXPECT_LT(cv::norm(ca - cb), 0.1 * fa.width);
}

// ---- Landmarker. ----

TEST(LandmarkerTest, LoadsFromUsrShareDlib) {
  EXPECT_EQ(DefaultShapePredictorPath(),
            std::filesystem::path(SWAPLINE_DLIB_DATA_DIR) / "shape_predictor_68_face_landmarks.dat");
  EXPECT_EQ(DefaultShapePredictorPath().string(), "/usr/share/dlib/shape_predictor_68_face_landmarks.dat");
  auto landmarker = LoadDlibLandmarker();
  ASSERT_TRUE(landmarker.ok()) << landmarker.status().ToString();
  EXPECT_NE(landmarker->get(), nullptr);
  EXPECT_NE((*landmarker)->Clone(), nullptr);
}

// Resident memory of this process in MiB, from /proc/self/status.
double ResidentMiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  ADD_FAILURE() << "no VmRSS in /proc/self/status";
  return 0;
}

TEST_F(FaceAnalysisTest, LandmarkersOfOnePathShareOneModel) {
  // A parsed copy of the model takes ~100 MB; a worker's job slots each load one.
  // The suite's analyser holds one already.
  const double before = ResidentMiB();
  std::vector<std::unique_ptr<FaceLandmarker>> more;
  for (int i = 0; i < 3; ++i) {
    auto landmarker = LoadDlibLandmarker();
    ASSERT_TRUE(landmarker.ok()) << landmarker.status().ToString();
    more.push_back(std::move(landmarker).value());
  }
  EXPECT_LT(ResidentMiB() - before, 30.0) << "each landmarker holds its own copy of the model";
  const std::string path = kPhotos + "obama_official_portrait_2012.jpg";
  const Face face = Largest(path);
  auto marked = more.back()->Mark(Image(path), face.box);
  ASSERT_TRUE(marked.ok()) << marked.status().ToString();
  EXPECT_EQ(*marked, face.landmarks68);
}

TEST(LandmarkerTest, MissingModelNamesFileAndPackage) {
  auto landmarker = LoadDlibLandmarker("/nonexistent/shape_predictor_68_face_landmarks.dat");
  ASSERT_FALSE(landmarker.ok());
  EXPECT_EQ(landmarker.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(landmarker.status().message().find("/nonexistent/shape_predictor_68_face_landmarks.dat"),
            std::string::npos);
  EXPECT_NE(landmarker.status().message().find("libdlib-data"), std::string::npos);
}

TEST(LandmarkerTest, OtherFileIsAnError) {
  // A dlib file that is not a shape predictor (the DenseNet recognizer).
  auto landmarker = LoadDlibLandmarker(kRecognizerModel);
  ASSERT_FALSE(landmarker.ok());
  EXPECT_EQ(landmarker.status().code(), Code::kFailedPrecondition);
}

TEST_F(FaceAnalysisTest, LandmarksAreAnatomicallyOrdered) {
  for (const std::string& name : kPortraits) {
    SCOPED_TRACE(name);
    const Face face = Largest(kPhotos + name);
    const Landmarks68& p = face.landmarks68;
    const Landmarks5& five = face.landmarks5;
    // Inside the (grown) detection box.
    cv::Rect2f grown = face.box;
    grown.x -= 0.3f * face.box.width;
    grown.y -= 0.3f * face.box.height;
    grown.width *= 1.6f;
    grown.height *= 1.6f;
    for (const cv::Point2f& q : p) EXPECT_TRUE(grown.contains(q)) << q;
    EXPECT_LT(p[0].x, p[16].x);     // jaw ends: left then right
    EXPECT_GT(p[8].y, p[30].y);     // chin below the nose tip
    EXPECT_LT(p[27].y, p[30].y);    // bridge above the tip
    EXPECT_LT(five[0].x, five[1].x);  // left eye left of right eye
    EXPECT_LT(five[0].y, five[2].y);  // eyes above the nose tip
    EXPECT_LT(five[2].y, five[3].y);  // nose tip above the mouth
    EXPECT_LT(five[3].x, five[4].x);
    // landmarks5 is derived from landmarks68.
    const Landmarks5 derived = Landmarks5From68(p);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(five[i], derived[i]);
  }
}

TEST_F(FaceAnalysisTest, RealFacesAlignCloseToTheTemplate) {
  // A real face's 5 points fit a similarity to the template closely: residuals below
  // 8 % of the crop size (smiles widen the mouth), for every template.
  for (const std::string& name : kPortraits) {
    const Face face = Largest(kPhotos + name);
    for (WarpTemplate t : {WarpTemplate::kArcface112V2, WarpTemplate::kArcface128, WarpTemplate::kFfhq512}) {
      const cv::Size crop(256, 256);
      auto alignment = EstimateAlignment(face.landmarks5, t, crop);
      ASSERT_TRUE(alignment.ok()) << name;
      const std::vector<cv::Point2f> mapped =
          TransformPoints(std::vector<cv::Point2f>(face.landmarks5.begin(), face.landmarks5.end()), *alignment);
      for (int i = 0; i < 5; ++i) {
        const cv::Point2f expected(TemplatePoints(t)[i].x * 256, TemplatePoints(t)[i].y * 256);
        EXPECT_LT(cv::norm(mapped[i] - expected), 0.08 * 256) << name << " point " << i;
      }
      const cv::Mat crop_image = WarpFace(Image(kPhotos + name), *alignment, crop);
      EXPECT_EQ(crop_image.size(), crop);
    }
  }
}

// ---- Masks of real landmarks. ----

TEST_F(FaceAnalysisTest, BoxMaskRespectsTopPadding) {
  const std::string path = kPhotos + "eileen_collins_nasa_portrait.png";
  const auto [face, roi, to_image] = AlignLargest(path);
  ASSERT_FALSE(to_image.empty());
  // Samples in the aligned 256 px square, mapped to the image.
  auto at = [&](const cv::Mat& mask, float cx, float cy) {
    const cv::Point2f p = TransformPoints({{cx, cy}}, to_image).front();
    return mask.at<float>(cvRound(p.y), cvRound(p.x));
  };

  FaceMaskOptions options;
  options.types = {MaskType::kBox};
  options.blur = 0.0f;
  const cv::Mat plain = CreateBoxMask(face, roi, options);
  ASSERT_EQ(plain.size(), roi.size());
  ASSERT_EQ(plain.type(), CV_32F);
  EXPECT_GT(at(plain, 128, 40), 0.99f);   // upper part of the square
  EXPECT_GT(at(plain, 128, 128), 0.99f);  // centre
  EXPECT_GT(at(plain, 128, 220), 0.99f);  // lower part
  EXPECT_LT(at(plain, 128, -20), 0.01f);  // above the square
  EXPECT_LT(at(plain, 280, 128), 0.01f);  // right of the square

  options.padding = {50, 0, 0, 0};
  const cv::Mat padded = CreateBoxMask(face, roi, options);
  EXPECT_LT(at(padded, 128, 40), 0.01f);   // top half cut
  EXPECT_LT(at(padded, 128, 120), 0.01f);
  EXPECT_GT(at(padded, 128, 136), 0.99f);  // bottom half kept
  EXPECT_GT(at(padded, 128, 220), 0.99f);
  // In image terms: the eyes (template y≈0.40) are masked out, the mouth (≈0.72) kept.
  const auto image_value = [&](const cv::Mat& mask, cv::Point2f p) {
    return mask.at<float>(cvRound(p.y), cvRound(p.x));
  };
  EXPECT_LT(image_value(padded, face.landmarks5[0]), 0.01f);
  EXPECT_LT(image_value(padded, face.landmarks5[1]), 0.01f);
  EXPECT_GT(image_value(padded, face.landmarks5[3]), 0.99f);
  EXPECT_GT(image_value(padded, face.landmarks5[4]), 0.99f);
  // Half the square is gone: the mask's mass roughly halves.
  const double ratio = cv::sum(padded)[0] / cv::sum(plain)[0];
  EXPECT_NEAR(ratio, 0.5, 0.05);

  // Right and bottom/left padding cut their sides.
  options.padding = {0, 30, 0, 0};
  const cv::Mat right = CreateBoxMask(face, roi, options);
  EXPECT_LT(at(right, 230, 128), 0.01f);
  EXPECT_GT(at(right, 30, 128), 0.99f);
  options.padding = {0, 0, 30, 30};
  const cv::Mat bottom_left = CreateBoxMask(face, roi, options);
  EXPECT_LT(at(bottom_left, 128, 230), 0.01f);
  EXPECT_LT(at(bottom_left, 30, 128), 0.01f);
  EXPECT_GT(at(bottom_left, 200, 40), 0.99f);
}

TEST_F(FaceAnalysisTest, BoxMaskBlurFeathersTheEdge) {
  const std::string path = kPhotos + "grace_hopper_usn_portrait.jpg";
  const auto [face, roi, to_image] = AlignLargest(path);
  ASSERT_FALSE(to_image.empty());
  // Partial values along the square's horizontal centre line.
  auto partial_along_centre = [&](const cv::Mat& mask) {
    int partial = 0;
    for (float x = -40; x <= 296; x += 0.5f) {
      const cv::Point2f p = TransformPoints({{x, 128}}, to_image).front();
      const float v = mask.at<float>(cvRound(p.y), cvRound(p.x));
      if (v > 0.02f && v < 0.98f) ++partial;
    }
    return partial;
  };
  FaceMaskOptions options;
  options.types = {MaskType::kBox};
  options.blur = 0.0f;
  const int hard = partial_along_centre(CreateBoxMask(face, roi, options));
  options.blur = 0.5f;
  const int soft = partial_along_centre(CreateBoxMask(face, roi, options));
  std::cout << "[ mask     ] box edge partial samples: blur 0 → " << hard << ", blur 0.5 → " << soft << "\n";
  // Blur 0: only resampling blurs the edge (a pixel or two each side, at half-pixel steps).
  EXPECT_LE(hard, 16);
  EXPECT_GT(soft, 4 * std::max(hard, 4));
}

// How far a region mask reaches outside the hull of the forehead-extended outline.
struct MaskLeak {
  int pixels = 0;         // mask > 0 more than 1.5 px outside the hull (anti-aliasing allowed)
  double max_value = 0;   // the largest such value
  double max_distance = 0;  // px outside the hull
};

MaskLeak LeakOutsideOutline(const Face& face, cv::Size image, const cv::Rect& roi, const cv::Mat& mask) {
  std::vector<cv::Point2f> hull;
  cv::convexHull(FaceOutline(face.landmarks68, image), hull);
  std::vector<cv::Point> polygon;
  for (const auto& p : hull) polygon.emplace_back(cvRound(p.x) - roi.x, cvRound(p.y) - roi.y);
  cv::Mat inside = cv::Mat::zeros(roi.size(), CV_8U);
  cv::fillConvexPoly(inside, polygon, cv::Scalar(255));
  cv::Mat distance;  // px from the hull, for pixels outside it
  cv::distanceTransform(~inside, distance, cv::DIST_L2, cv::DIST_MASK_PRECISE);
  const cv::Mat leaking = (mask > 0.0f) & (distance > 1.5f);
  MaskLeak leak;
  leak.pixels = cv::countNonZero(leaking);
  if (leak.pixels > 0) {
    cv::minMaxLoc(mask, nullptr, &leak.max_value, nullptr, nullptr, leaking);
    cv::minMaxLoc(distance, nullptr, &leak.max_distance, nullptr, nullptr, leaking);
  }
  return leak;
}

TEST_F(FaceAnalysisTest, OutlineReachesTheForehead) {
  for (const std::string& name : kPortraits) {
    const std::string path = kPhotos + name;
    const Face face = Largest(path);
    const std::vector<cv::Point2f> outline = FaceOutline(face.landmarks68, Image(path).size());
    ASSERT_EQ(static_cast<int>(outline.size()), kOutlinePointCount);
    for (int i = 0; i < 17; ++i) EXPECT_EQ(outline[i], face.landmarks68[i]) << "jaw point " << i;
    float brow_top = 1e9f, outline_top = 1e9f;
    for (int i = 17; i <= 26; ++i) brow_top = std::min(brow_top, face.landmarks68[i].y);
    for (const auto& p : outline) outline_top = std::min(outline_top, p.y);
    EXPECT_LT(outline_top, brow_top - 0.15f * FaceWidth(face.landmarks68)) << name;
  }
}

TEST_F(FaceAnalysisTest, RegionMaskCoversTheFaceCentre) {
  for (const std::string& name : kPortraits) {
    SCOPED_TRACE(name);
    const std::string path = kPhotos + name;
    const Face face = Largest(path);
    const cv::Size image = Image(path).size();
    const cv::Rect roi = FaceRegionOfInterest(face.landmarks68, image, 0.1f);
    ASSERT_FALSE(roi.empty());
    for (const float blur : {0.0f, 0.3f, 1.0f}) {
      SCOPED_TRACE("blur " + std::to_string(blur));
      const cv::Mat mask = CreateAreaMask(face, image, roi, blur);
      ASSERT_EQ(mask.size(), roi.size());
      ASSERT_EQ(mask.type(), CV_32F);
      double lo = 0, hi = 0;
      cv::minMaxLoc(mask, &lo, &hi);
      EXPECT_GE(lo, 0.0);
      EXPECT_LE(hi, 1.0 + 1e-6);
      const auto value = [&](cv::Point2f p) {
        return mask.at<float>(cvRound(p.y) - roi.y, cvRound(p.x) - roi.x);
      };
      std::cout << "[ mask     ] " << name << " blur " << blur << ": nose " << value(face.landmarks68[30])
                << ", eyes " << value(face.landmarks5[0]) << " " << value(face.landmarks5[1]) << ", upper lip "
                << value(face.landmarks68[51]) << "\n";
      EXPECT_GT(value(face.landmarks68[30]), 0.99f) << "nose tip";
      EXPECT_GT(value(face.landmarks68[33]), 0.99f) << "nose base";
      if (blur <= 0.3f) {
        EXPECT_GT(value(face.landmarks5[0]), 0.9f) << "left eye";
        EXPECT_GT(value(face.landmarks5[1]), 0.9f) << "right eye";
        EXPECT_GT(value(face.landmarks68[51]), 0.9f) << "upper lip";
      } else {
        EXPECT_GT(value(face.landmarks5[0]), 0.5f) << "left eye";
        EXPECT_GT(value(face.landmarks5[1]), 0.5f) << "right eye";
        EXPECT_GT(value(face.landmarks68[51]), 0.5f) << "upper lip";
      }
    }
  }
}

TEST_F(FaceAnalysisTest, HardRegionMaskStaysInsideTheForeheadOutline) {
  for (const std::string& name : kPortraits) {
    const std::string path = kPhotos + name;
    const Face face = Largest(path);
    const cv::Size image = Image(path).size();
    const cv::Rect roi = FaceRegionOfInterest(face.landmarks68, image, 0.1f);
    const MaskLeak leak = LeakOutsideOutline(face, image, roi, CreateAreaMask(face, image, roi, 0.0f));
    EXPECT_EQ(leak.pixels, 0) << name;
  }
}

TEST_F(FaceAnalysisTest, FeatheredRegionMaskStaysInsideTheForeheadOutline) {
  // The header promises the feathered edge fades in inside the outline, never past it.
  std::string report;
  int leaking = 0;
  for (const std::string& name : kPortraits) {
    const std::string path = kPhotos + name;
    const Face face = Largest(path);
    const cv::Size image = Image(path).size();
    const cv::Rect roi = FaceRegionOfInterest(face.landmarks68, image, 0.1f);
    for (const float blur : {0.3f, 1.0f}) {
      const MaskLeak leak = LeakOutsideOutline(face, image, roi, CreateAreaMask(face, image, roi, blur));
      std::ostringstream line;
      line << name << " blur " << blur << ": " << leak.pixels << " px outside, up to " << leak.max_value
           << " and " << leak.max_distance << " px out (face width " << FaceWidth(face.landmarks68) << ")";
      std::cout << "[ mask     ] " << line.str() << "\n";
      if (leak.pixels > 0) {
        ++leaking;
        report += line.str() + "; ";
      }
    }
  }
  EXPECT_EQ(leaking, 0) << report;
}

TEST_F(FaceAnalysisTest, RegionMaskBlurZeroIsAHardEdge) {
  const std::string path = kPhotos + "obama_official_portrait_2012.jpg";
  const Face face = Largest(path);
  const cv::Size image = Image(path).size();
  const cv::Rect roi = FaceRegionOfInterest(face.landmarks68, image, 0.1f);
  // Along the row through the nose tip (below the forehead fade), count partial values.
  const int row = cvRound(face.landmarks68[30].y) - roi.y;
  auto partial_in_row = [&](const cv::Mat& mask, int* ones) {
    int partial = 0;
    *ones = 0;
    for (int x = 0; x < mask.cols; ++x) {
      const float v = mask.at<float>(row, x);
      if (v >= 0.999f) ++*ones;
      else if (v > 0.001f) ++partial;
    }
    return partial;
  };
  int ones_hard = 0, ones_soft = 0;
  const int hard = partial_in_row(CreateAreaMask(face, image, roi, 0.0f), &ones_hard);
  const int soft = partial_in_row(CreateAreaMask(face, image, roi, 0.5f), &ones_soft);
  std::cout << "[ mask     ] region edge pixels in the nose row: blur 0 → " << hard << " (" << ones_hard
            << " full), blur 0.5 → " << soft << " (" << ones_soft << " full)\n";
  EXPECT_LE(hard, 4) << "anti-aliasing only: a pixel or two per side";
  EXPECT_GT(ones_hard, 0.6 * FaceWidth(face.landmarks68));
  EXPECT_GT(soft, 10);
  EXPECT_LT(ones_soft, ones_hard) << "feathering erodes the full-weight core";
  // The hard mask holds only 0 and 1 away from its edge.
  const cv::Mat hard_mask = CreateAreaMask(face, image, roi, 0.0f);
  EXPECT_EQ(hard_mask.at<float>(row, 0), 0.0f);
  EXPECT_EQ(hard_mask.at<float>(row, cvRound(face.landmarks68[30].x) - roi.x), 1.0f);
}

TEST_F(FaceAnalysisTest, RegionMaskFollowsSubPixelMoves) {
  // The feathered edge moves with the landmarks by fractions of a pixel: an outline
  // that stepped by whole pixels would make the swapped face's edge flicker in video.
  const std::string path = kPhotos + "eileen_collins_nasa_portrait.png";
  const Face face = Largest(path);
  const cv::Size image = Image(path).size();
  const cv::Rect roi = FaceRegionOfInterest(face.landmarks68, image, 0.1f);
  std::vector<double> centres;
  for (int step = 0; step <= 4; ++step) {
    Face moved = face;
    for (auto& p : moved.landmarks68) p.x += 0.25f * static_cast<float>(step);
    const cv::Moments m = cv::moments(CreateAreaMask(moved, image, roi, 0.3f));
    centres.push_back(m.m10 / m.m00);
  }
  for (std::size_t i = 1; i < centres.size(); ++i) {
    EXPECT_NEAR(centres[i] - centres[i - 1], 0.25, 0.05) << "step " << i;
  }
}

TEST_F(FaceAnalysisTest, RegionMaskFadesOutOverTheTopOfTheForehead) {
  const std::string path = kPhotos + "grace_hopper_usn_portrait.jpg";
  const Face face = Largest(path);
  const cv::Size image = Image(path).size();
  const cv::Rect roi = FaceRegionOfInterest(face.landmarks68, image, 0.1f);
  const cv::Mat mask = CreateAreaMask(face, image, roi, 0.0f);
  cv::Point2f brows(0, 0);
  for (int i = 17; i <= 26; ++i) brows += face.landmarks68[i];
  brows *= 0.1f;
  const cv::Point2f up = (face.landmarks68[27] - face.landmarks68[8]) * (1.0f / 3.0f);
  const auto value = [&](cv::Point2f p) { return mask.at<float>(cvRound(p.y) - roi.y, cvRound(p.x) - roi.x); };
  EXPECT_GT(value(brows), 0.99f);
  EXPECT_GT(value(brows + up * 0.3f), 0.99f);
  EXPECT_LT(value(brows + up * 0.9f), 0.25f);
  EXPECT_LT(value(brows + up * 0.7f), value(brows + up * 0.5f));
}

// Points of the forehead of `face`: each brow point raised by `share` of the raise
// ForeheadPoints uses (a third of the chin-to-nose-bridge distance).
std::vector<cv::Point> RaisedBrows(const Face& face, float share) {
  const cv::Point2f up = (face.landmarks68[27] - face.landmarks68[8]) * (share / 3.0f);
  std::vector<cv::Point> points;
  for (int i = 17; i <= 26; ++i) points.emplace_back(cvRound(face.landmarks68[i].x + up.x), cvRound(face.landmarks68[i].y + up.y));
  return points;
}

// Share of the forehead (brows raised by 0.2 to 0.8 of the raise) a visibility mask shows.
double VisibleForehead(const Face& face, const cv::Mat& visible) {
  double sum = 0;
  int count = 0;
  for (float share = 0.2f; share <= 0.81f; share += 0.1f) {
    for (const cv::Point& p : RaisedBrows(face, share)) {
      sum += visible.at<unsigned char>(p) / 255.0;
      ++count;
    }
  }
  return sum / count;
}

TEST_F(FaceAnalysisTest, ForeheadVisibilityStopsAtHatBrimsAndFringes) {
  for (const std::string& name : kPortraits) {
    const std::string path = kPhotos + name;
    const Face face = Largest(path);
    const cv::Mat visible = CreateForeheadVisibilityMask(Image(path), face.landmarks68);
    ASSERT_EQ(visible.size(), Image(path).size());
    ASSERT_EQ(visible.type(), CV_8U);
    // Below the brows everything is the face's own.
    for (const int i : {8, 30, 36, 45, 48, 54, 62}) EXPECT_EQ(visible.at<unsigned char>(face.landmarks68[i]), 255) << name << " point " << i;
    const double shown = VisibleForehead(face, visible);
    if (name == "grace_hopper_usn_portrait.jpg") {
      EXPECT_LT(shown, 0.75) << name << ": the hat's brim covers the upper forehead";
    } else if (name == "eileen_collins_nasa_portrait.png") {
      EXPECT_LT(shown, 0.5) << name << ": the fringe covers most of the forehead";
    } else {
      EXPECT_GT(shown, 0.97) << name << ": the forehead is open";
    }
  }
}

TEST_F(FaceAnalysisTest, ForeheadVisibilityOfAPhotoOnALargeCanvasIsTheSame) {
  // Only the face's neighbourhood is read and drawn: the same face on a canvas four
  // times the photo's area gets the same mask, and 255 far from it.
  const std::string path = kPhotos + "grace_hopper_usn_portrait.jpg";
  const Face face = Largest(path);
  const cv::Mat& photo = Image(path);
  cv::Mat canvas;
  const int pad_x = photo.cols / 2, pad_y = photo.rows / 2;
  cv::copyMakeBorder(photo, canvas, pad_y, pad_y, pad_x, pad_x, cv::BORDER_CONSTANT, cv::Scalar(90, 120, 150));
  Landmarks68 moved = face.landmarks68;
  for (auto& p : moved) p += cv::Point2f(static_cast<float>(pad_x), static_cast<float>(pad_y));
  const cv::Mat on_photo = CreateForeheadVisibilityMask(photo, face.landmarks68);
  const cv::Mat on_canvas = CreateForeheadVisibilityMask(canvas, moved);
  cv::Mat diff;
  cv::absdiff(on_photo, on_canvas(cv::Rect(pad_x, pad_y, photo.cols, photo.rows)), diff);
  const cv::Rect face_area = FaceRegionOfInterest(face.landmarks68, photo.size(), 0.1f);
  double worst = 0;
  cv::minMaxLoc(diff(face_area), nullptr, &worst);
  EXPECT_LE(worst, 1.0);
  EXPECT_EQ(on_canvas.at<unsigned char>(0, 0), 255);
  EXPECT_EQ(on_canvas.at<unsigned char>(canvas.rows - 1, canvas.cols - 1), 255);
}

TEST_F(FaceAnalysisTest, ForeheadVisibilityCutsAtAPaintedBrimButNotAtThinLines) {
  const std::string path = kPhotos + "obama_official_portrait_2012.jpg";
  const Face face = Largest(path);
  cv::Mat painted = Image(path).clone();
  // Thin dark lines (wrinkles) low on the forehead, a navy brim over its upper half.
  for (const float share : {0.25f, 0.35f}) {
    cv::polylines(painted, RaisedBrows(face, share), false, cv::Scalar(40, 30, 30), 2);
  }
  std::vector<cv::Point> brim = RaisedBrows(face, 0.5f);
  const cv::Point2f left = face.landmarks68[17] - face.landmarks68[26], right = -left;  // brow 17 lies left
  const cv::Point outward_left(cvRound(0.3f * left.x), cvRound(0.3f * left.y));
  const cv::Point outward_right(cvRound(0.3f * right.x), cvRound(0.3f * right.y));
  const std::vector<cv::Point> top = RaisedBrows(face, 3.0f);
  brim.insert(brim.begin(), brim.front() + outward_left);
  brim.push_back(brim.back() + outward_right);
  brim.push_back(top.back() + outward_right);
  brim.push_back(top.front() + outward_left);
  cv::fillPoly(painted, std::vector<std::vector<cv::Point>>{brim}, cv::Scalar(60, 30, 20));

  const cv::Mat visible = CreateForeheadVisibilityMask(painted, face.landmarks68);
  // Below the lines the forehead is whole; the feather fades it out before the brim.
  for (const cv::Point& p : RaisedBrows(face, 0.15f)) EXPECT_GE(visible.at<unsigned char>(p), 240) << p;
  for (const cv::Point& p : RaisedBrows(face, 0.25f)) EXPECT_GE(visible.at<unsigned char>(p), 170) << p;
  for (const cv::Point& p : RaisedBrows(face, 0.5f)) EXPECT_LE(visible.at<unsigned char>(p), 40) << p;
  for (const cv::Point& p : RaisedBrows(face, 0.6f)) EXPECT_LE(visible.at<unsigned char>(p), 5) << p;
  // Unpainted, the same forehead is visible up to the hairline (at about 0.9).
  const cv::Mat open = CreateForeheadVisibilityMask(Image(path), face.landmarks68);
  for (const cv::Point& p : RaisedBrows(face, 0.6f)) EXPECT_GE(open.at<unsigned char>(p), 240) << p;
}

TEST_F(FaceAnalysisTest, CombinedMaskIsTheMinimum) {
  const std::string path = kPhotos + "eileen_collins_nasa_portrait.png";
  const Face face = Largest(path);
  const cv::Size image = Image(path).size();
  const cv::Rect roi = FaceRegionOfInterest(face.landmarks68, image, 0.05f);
  FaceMaskOptions options;
  options.padding = {20, 0, 0, 0};
  const cv::Mat box = CreateBoxMask(face, roi, options);
  const cv::Mat region = CreateAreaMask(face, image, roi, options.blur);
  cv::Mat expected;
  cv::min(box, region, expected);
  const cv::Mat combined = CreateFaceMask(face, image, roi, options);
  EXPECT_LT(cv::norm(combined, expected, cv::NORM_INF), 1e-6);
  options.types = {MaskType::kArea};
  EXPECT_LT(cv::norm(CreateFaceMask(face, image, roi, options), region, cv::NORM_INF), 1e-6);
}

TEST_F(FaceAnalysisTest, RegionOfInterestContainsTheOutline) {
  for (const std::string& name : kPortraits) {
    const std::string path = kPhotos + name;
    const Face face = Largest(path);
    const cv::Size image = Image(path).size();
    const cv::Rect roi = FaceRegionOfInterest(face.landmarks68, image, 0.02f);
    EXPECT_EQ(roi & cv::Rect(0, 0, image.width, image.height), roi) << name;
    for (const cv::Point2f& p : FaceOutline(face.landmarks68, image)) {
      EXPECT_TRUE(cv::Rect2f(roi).contains(p) || p.x == roi.x + roi.width || p.y == roi.y + roi.height)
          << name << " " << p;
    }
  }
}

TEST_F(FaceAnalysisTest, ForeheadPointsAreClampedToTheImage) {
  // The face moved so its forehead would leave the image at the top.
  const std::string path = kPhotos + "eileen_collins_nasa_portrait.png";
  Face face = Largest(path);
  const cv::Size image = Image(path).size();
  float brow_top = 1e9f;
  for (int i = 17; i <= 26; ++i) brow_top = std::min(brow_top, face.landmarks68[i].y);
  for (cv::Point2f& p : face.landmarks68) p.y -= brow_top - 2.0f;
  const std::vector<cv::Point2f> forehead = ForeheadPoints(face.landmarks68, image);
  ASSERT_EQ(forehead.size(), 10u);
  for (const auto& p : forehead) {
    EXPECT_GE(p.x, 0.0f);
    EXPECT_GE(p.y, 0.0f);
    EXPECT_LE(p.x, static_cast<float>(image.width - 1));
    EXPECT_LE(p.y, static_cast<float>(image.height - 1));
  }
}

TEST_F(FaceAnalysisTest, InnerMouthMaskIsAroundTheInnerLips) {
  const std::string path = kPhotos + "obama_official_portrait_2012.jpg";
  const Face face = Largest(path);
  const cv::Rect roi = FaceRegionOfInterest(face.landmarks68, Image(path).size(), 0.02f);
  const cv::Mat mouth = CreateInnerMouthMask(face.landmarks68, roi, 0.015f);
  ASSERT_EQ(mouth.size(), roi.size());
  cv::Point2f centre(0, 0);
  for (int i = 60; i < 68; ++i) centre += face.landmarks68[i];
  centre *= 0.125f;
  EXPECT_GT(mouth.at<float>(cvRound(centre.y) - roi.y, cvRound(centre.x) - roi.x), 0.5f);
  const cv::Point2f nose = face.landmarks68[30];
  EXPECT_EQ(mouth.at<float>(cvRound(nose.y) - roi.y, cvRound(nose.x) - roi.x), 0.0f);
}

// ---- Triangulation. ----

TEST_F(FaceAnalysisTest, TriangulatesTheSwapPointsOfRealFaces) {
  for (const std::string& name : kPortraits) {
    SCOPED_TRACE(name);
    const std::string path = kPhotos + name;
    const Face face = Largest(path);
    const std::vector<cv::Point2f> points = SwapPoints(face.landmarks68, Image(path).size());
    ASSERT_EQ(points.size(), 78u);
    for (int i = 0; i < 68; ++i) EXPECT_EQ(points[i], face.landmarks68[i]);
    const std::vector<cv::Vec3i> triangles = Triangulate(points);
    ASSERT_FALSE(triangles.empty());
    double area_sum = 0;
    std::vector<int> used(points.size(), 0);
    for (const cv::Vec3i& t : triangles) {
      for (int k = 0; k < 3; ++k) {
        ASSERT_GE(t[k], 0);
        ASSERT_LT(t[k], 78);
        ++used[t[k]];
      }
      EXPECT_NE(t[0], t[1]);
      EXPECT_NE(t[1], t[2]);
      EXPECT_NE(t[0], t[2]);
      const cv::Point2f a = points[t[0]], b = points[t[1]], c = points[t[2]];
      const double area = std::abs((b.x - a.x) * (c.y - a.y) - (c.x - a.x) * (b.y - a.y)) / 2;
      EXPECT_GT(area, 0.0);
      area_sum += area;
    }
    // A Delaunay triangulation tiles the convex hull of its points exactly once.
    std::vector<cv::Point2f> hull;
    cv::convexHull(points, hull);
    const double hull_area = cv::contourArea(hull);
    std::cout << "[ triangles] " << name << ": " << triangles.size() << " triangles, area "
              << area_sum << " vs hull " << hull_area << "\n";
    EXPECT_NEAR(area_sum / hull_area, 1.0, 0.01);
    // Every point is a vertex (no point left out unless it coincides with another).
    for (std::size_t i = 0; i < points.size(); ++i) {
      bool duplicate = false;
      for (std::size_t j = 0; j < i; ++j) duplicate |= cv::norm(points[i] - points[j]) < 1e-3;
      if (!duplicate) {
        EXPECT_GT(used[i], 0) << "point " << i;
      }
    }
  }
}

TEST(TriangulateTest, SquareWithCentreGivesFourTriangles) {
  const std::vector<cv::Point2f> points = {{0, 0}, {10, 0}, {10, 10}, {0, 10}, {5, 5}};
  const std::vector<cv::Vec3i> triangles = Triangulate(points);
  EXPECT_EQ(triangles.size(), 4u);
  for (const cv::Vec3i& t : triangles) {
    EXPECT_TRUE(t[0] == 4 || t[1] == 4 || t[2] == 4) << "every triangle uses the centre";
  }
}

TEST(TriangulateTest, DegenerateInputGivesNoCrash) {
  EXPECT_TRUE(Triangulate({{1, 1}, {1, 1}, {1, 1}}).empty());
  EXPECT_TRUE(Triangulate({{0, 0}, {5, 5}, {10, 10}}).empty());  // collinear
}

// A closed mouth under an open-mouthed source: the inner-lip triangles are slivers
// between the lips, mapping from the source's teeth. Drawn last (they are listed
// last), they showed the teeth along the lips as a dotted line; their neighbours own
// those pixels.
TEST(WarpTrianglesTest, SliversBetweenLipsShowNothingOfWhatTheyMapFrom) {
  // Source: dark lips, a bright band (teeth) between them at rows 44-56.
  cv::Mat source(100, 100, CV_8U, cv::Scalar(0));
  source.rowRange(44, 57).setTo(255);
  const std::vector<cv::Point2f> src = {{10, 10}, {90, 10}, {10, 40}, {90, 40},   // upper lip
                                        {10, 60}, {90, 60}, {10, 90}, {90, 90}};  // lower lip
  // Target: the lips closed, half a pixel apart, and slanted so that the gap between
  // them crosses rows of pixel centres.
  const std::vector<cv::Point2f> dst = {{10, 10}, {90, 10}, {10, 50.1f}, {90, 58.1f},
                                        {10, 50.6f}, {90, 58.6f}, {10, 90}, {90, 90}};
  const std::vector<cv::Vec3i> triangles = {{0, 1, 2}, {1, 3, 2}, {4, 5, 6}, {5, 7, 6},  // lips
                                            {2, 3, 4}, {3, 5, 4}};                         // slivers
  cv::Mat coverage;
  const std::vector<cv::Mat> warped = WarpTriangles({source}, src, dst, triangles, source.size(), coverage);
  ASSERT_EQ(warped.size(), 1u);
  const cv::Rect lips(11, 11, 78, 78);
  double brightest = 0;
  cv::minMaxLoc(warped[0](lips), nullptr, &brightest);
  EXPECT_LT(brightest, 32) << "teeth showed between the closed lips";
  double least_covered = 0;
  cv::minMaxLoc(coverage(lips), &least_covered);
  EXPECT_EQ(least_covered, 1.0) << "the lips left a hole";
}

// ---- Analyser and reference mode with the real recognizer. ----

TEST_F(FaceAnalysisTest, AnalyserWithoutRecognizerGivesNoEmbeddings) {
  EXPECT_EQ(analyser_->recognizer(), nullptr);
  auto faces = analyser_->Analyse(Image(kTwoFaces), 0.5f, true);
  ASSERT_TRUE(faces.ok());
  ASSERT_EQ(faces->size(), 2u);
  for (const Face& f : *faces) EXPECT_FALSE(f.embedding.has_value());
  FaceSelectorOptions options;
  options.mode = SelectorMode::kReference;
  auto selected = SelectFaces(*faces, *faces, options, analyser_->recognizer());
  ASSERT_FALSE(selected.ok());
  EXPECT_EQ(selected.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(selected.status().message().find("--face-recognizer-model"), std::string::npos);
}

TEST_F(FaceAnalysisTest, AnalyserFindsNothingInNoFacePhotos) {
  for (const std::string& name : kNoFace) {
    EXPECT_TRUE(Analyse(kPhotos + name).empty()) << name;
  }
}

TEST(ReferenceModeTest, RealRecognizerPicksOneFacePerReferencePosition) {
  auto analyser = FaceAnalyser::CreateDefault();
  ASSERT_TRUE(analyser.ok()) << analyser.status().ToString();
  auto recognizer = LoadFaceRecognizer(kRecognizerModel);
  ASSERT_TRUE(recognizer.ok()) << recognizer.status().ToString();
  analyser->set_recognizer(std::move(recognizer).value());
  auto image = media::ReadImage(kTwoFaces);
  ASSERT_TRUE(image.ok());
  auto faces = analyser->Analyse(*image, 0.5f, true);
  ASSERT_TRUE(faces.ok()) << faces.status().ToString();
  ASSERT_EQ(faces->size(), 2u);
  for (const Face& f : *faces) ASSERT_TRUE(f.embedding.has_value());
  const float distance = analyser->recognizer()->Distance(*(*faces)[0].embedding, *(*faces)[1].embedding);
  std::cout << "[ identity ] distance between the two faces: " << distance << "\n";
  EXPECT_GT(distance, analyser->recognizer()->SameIdentityThreshold());

  FaceSelectorOptions options;
  options.mode = SelectorMode::kReference;
  options.order = SelectorOrder::kLeftRight;
  std::vector<float> picked_x;
  for (int position : {0, 1}) {
    options.reference_face_position = position;
    auto selected = SelectFaces(*faces, *faces, options, analyser->recognizer());
    ASSERT_TRUE(selected.ok()) << selected.status().ToString();
    ASSERT_EQ(selected->size(), 1u) << "position " << position;
    picked_x.push_back(selected->front().box.x);
  }
  EXPECT_LT(picked_x[0], picked_x[1]) << "position 0 is the left face, 1 the right one";
  // Position 2 does not exist.
  options.reference_face_position = 2;
  auto missing = SelectFaces(*faces, *faces, options, analyser->recognizer());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  // A generous distance selects both.
  options.reference_face_position = 0;
  options.reference_face_distance = 10.0f;
  auto both = SelectFaces(*faces, *faces, options, analyser->recognizer());
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->size(), 2u);
}

}  // namespace
}  // namespace swapline::vision
