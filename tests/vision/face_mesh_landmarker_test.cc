// The Face Mesh landmarker on the real model in SWAPLINE_MODELS_DIR and the test
// photos: its 68 points agree with dlib's on every face HOG finds, a rolled face is
// marked as well as an upright one, a box without a face is kNoFace, and a wrong
// model file fails at load. Writes each photo with both point sets drawn
// (face_mesh_vs_dlib_<photo>.png: dlib green, Face Mesh red, joined by a line) into
// the test's working folder (the build folder), for checking the table by eye.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "media/image_codec.h"
#include "vision/face_detector.h"
#include "vision/face_landmarker.h"
#include "vision/face_mesh_landmarker.h"

namespace swapline::vision {
namespace {

namespace fs = std::filesystem;

const std::string kPhotos = SWAPLINE_TESTDATA_DIR "/photos/";
const fs::path kFaceMesh = SWAPLINE_MODELS_DIR "/facemesh/face_landmark_barracuda_folded.onnx";
const fs::path kBlazeFace = SWAPLINE_MODELS_DIR "/blazeface/face_detection_front_128x128_barracuda.onnx";

// Every test photo with a face.
const std::vector<std::string> kFacePhotos = {
    "grace_hopper_usn_portrait.jpg",         "eileen_collins_nasa_portrait.png",
    "obama_official_portrait_2012.jpg",      "abraham_lincoln_gardner_1863.jpg",
    "obama_biden_blue_room_2010_two_faces.jpg", "obama_official_portrait_2012_partial_face.jpg",
    "obama_official_portrait_2012_small_320x240.jpg", "cameraman_cc0_varshney.png"};

// Mean distance between dlib's and Face Mesh's 68 points, in % of the inter-ocular
// distance (between dlib's eye centres). Measured with this table and crop: 4.5 to 6.2 %
// on the whole faces, 12.1 % on the face cut by the frame's edge. The two models were
// trained on different annotations (iBUG's jaw runs inside Face Mesh's face oval, its
// inner lips sit differently on an open mouth), so a few % is systematic; 8 % leaves
// room for rounding across OpenCV builds while a wrong index, a flipped side or a
// misplaced crop moves the mean beyond it (swapping the two eyes alone adds ~5 %).
// Where a third of the face is outside the frame both models guess that part.
constexpr double kMaxMeanDistancePercent = 8.0;
constexpr double kMaxMeanDistancePercentPartialFace = 15.0;
const std::string kPartialFace = "obama_official_portrait_2012_partial_face.jpg";

cv::Mat Photo(const std::string& name) {
  auto image = media::ReadImage(kPhotos + name, 100'000'000);
  EXPECT_TRUE(image.ok()) << name << ": " << image.status().ToString();
  return image.ok() ? *image : cv::Mat();
}

cv::Point2f Mean(const Landmarks68& p, int first, int last) {
  cv::Point2f sum(0, 0);
  for (int i = first; i <= last; ++i) sum += p[static_cast<std::size_t>(i)];
  return sum / static_cast<float>(last - first + 1);
}

// Mean point distance in % of `reference`'s inter-ocular distance.
double MeanDistancePercent(const Landmarks68& reference, const Landmarks68& other) {
  const double iod = cv::norm(Mean(reference, 42, 47) - Mean(reference, 36, 41));
  double sum = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) sum += cv::norm(reference[i] - other[i]);
  return 100.0 * sum / static_cast<double>(reference.size()) / iod;
}

class FaceMeshLandmarkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mesh = LoadFaceMeshLandmarker(kFaceMesh);
    ASSERT_TRUE(mesh.ok()) << mesh.status().ToString();
    mesh_ = std::move(mesh).value();
    auto dlib = LoadDlibLandmarker();
    ASSERT_TRUE(dlib.ok()) << dlib.status().ToString();
    dlib_ = std::move(dlib).value();
  }

  std::vector<Detection> Faces(const cv::Mat& image) {
    auto found = hog_->Detect(image, 0.5f);
    EXPECT_TRUE(found.ok()) << found.status().ToString();
    return found.ok() ? *found : std::vector<Detection>{};
  }

  Landmarks68 Mark(FaceLandmarker& landmarker, const cv::Mat& image, const cv::Rect2f& box) {
    auto points = landmarker.Mark(image, box);
    EXPECT_TRUE(points.ok()) << points.status().ToString();
    return points.ok() ? *points : Landmarks68{};
  }

  std::unique_ptr<FaceDetector> hog_ = NewHogFaceDetector();
  std::unique_ptr<FaceLandmarker> mesh_;
  std::unique_ptr<FaceLandmarker> dlib_;
};

TEST_F(FaceMeshLandmarkerTest, AgreesWithDlibOnEveryFace) {
  int faces = 0;
  std::printf("%-50s %5s %12s\n", "photo", "face", "% IOD");
  for (const std::string& name : kFacePhotos) {
    cv::Mat image = Photo(name);
    ASSERT_FALSE(image.empty());
    const std::vector<Detection> found = Faces(image);
    for (std::size_t f = 0; f < found.size(); ++f) {
      const Landmarks68 reference = Mark(*dlib_, image, found[f].box);
      const Landmarks68 mesh = Mark(*mesh_, image, found[f].box);
      const double percent = MeanDistancePercent(reference, mesh);
      std::printf("%-50s %5zu %12.1f\n", name.c_str(), f, percent);
      EXPECT_LT(percent, name == kPartialFace ? kMaxMeanDistancePercentPartialFace : kMaxMeanDistancePercent)
          << name << " face " << f;
      ++faces;
      for (std::size_t i = 0; i < reference.size(); ++i) {
        cv::line(image, reference[i], mesh[i], {255, 255, 255}, 1, cv::LINE_AA);
        cv::circle(image, reference[i], 2, {0, 200, 0}, cv::FILLED, cv::LINE_AA);
        cv::circle(image, mesh[i], 2, {0, 0, 255}, cv::FILLED, cv::LINE_AA);
      }
    }
    cv::imwrite("face_mesh_vs_dlib_" + fs::path(name).stem().string() + ".png", image);
  }
  // HOG finds seven faces in these photos (not the near-profile cameraman).
  EXPECT_GE(faces, 7);
}

TEST_F(FaceMeshLandmarkerTest, MarksARolledFaceAsTheUprightOne) {
  const cv::Mat upright = Photo("grace_hopper_usn_portrait.jpg");
  const std::vector<Detection> found = Faces(upright);
  ASSERT_EQ(found.size(), 1u);
  const Landmarks68 expected_upright = Mark(*mesh_, upright, found[0].box);
  for (double degrees : {-35.0, 20.0, 45.0}) {
    const cv::Point2f centre(upright.cols / 2.0f, upright.rows / 2.0f);
    const cv::Mat rotation = cv::getRotationMatrix2D(centre, degrees, 1.0);
    cv::Mat rolled;
    cv::warpAffine(upright, rolled, rotation, upright.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    // The detector's box rotated with the image, as a detector of rolled faces would give it.
    const cv::Rect2f& box = found[0].box;
    std::vector<cv::Point2f> corners = {box.tl(), {box.x + box.width, box.y}, box.br(), {box.x, box.y + box.height}};
    cv::transform(corners, corners, rotation);
    const cv::Rect2f rolled_box = cv::boundingRect(corners);
    Landmarks68 expected;
    std::vector<cv::Point2f> moved(expected_upright.begin(), expected_upright.end());
    cv::transform(moved, moved, rotation);
    std::copy(moved.begin(), moved.end(), expected.begin());
    const double percent = MeanDistancePercent(expected, Mark(*mesh_, rolled, rolled_box));
    std::printf("rolled %+.0f degrees: %.1f %% of the inter-ocular distance from the upright marks\n", degrees, percent);
    EXPECT_LT(percent, 3.0) << degrees << " degrees";
  }
}

TEST_F(FaceMeshLandmarkerTest, GreyImageAndCloneGiveTheSamePoints) {
  const cv::Mat image = Photo("obama_official_portrait_2012.jpg");
  const std::vector<Detection> found = Faces(image);
  ASSERT_EQ(found.size(), 1u);
  const Landmarks68 colour = Mark(*mesh_, image, found[0].box);
  const std::unique_ptr<FaceLandmarker> clone = mesh_->Clone();
  const Landmarks68 cloned = Mark(*clone, image, found[0].box);
  for (std::size_t i = 0; i < colour.size(); ++i) EXPECT_EQ(colour[i], cloned[i]) << i;
  cv::Mat grey;
  cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
  EXPECT_LT(MeanDistancePercent(colour, Mark(*mesh_, grey, found[0].box)), 3.0);
}

TEST_F(FaceMeshLandmarkerTest, BoxWithoutAFaceIsNoFace) {
  for (const char* name : {"noface_coffee.png", "noface_chelsea_cat.png"}) {
    const cv::Mat image = Photo(name);
    const cv::Rect2f centre(image.cols / 3.0f, image.rows / 3.0f, image.cols / 3.0f, image.rows / 3.0f);
    auto points = mesh_->Mark(image, centre);
    ASSERT_FALSE(points.ok()) << name;
    EXPECT_EQ(points.status().code(), Code::kNoFace) << points.status().ToString();
  }
}

TEST_F(FaceMeshLandmarkerTest, RejectsBadInput) {
  const cv::Mat image = Photo("grace_hopper_usn_portrait.jpg");
  EXPECT_EQ(mesh_->Mark(cv::Mat(), {0, 0, 10, 10}).status().code(), Code::kInvalidArgument);
  cv::Mat wide;
  image.convertTo(wide, CV_32FC3);
  EXPECT_EQ(mesh_->Mark(wide, {0, 0, 10, 10}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(mesh_->Mark(image, {10, 10, 0, 0}).status().code(), Code::kInvalidArgument);
}

TEST(FaceMeshLoad, WrongOrMissingModelIsAClearError) {
  auto blazeface = LoadFaceMeshLandmarker(kBlazeFace);
  ASSERT_FALSE(blazeface.ok());
  EXPECT_EQ(blazeface.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(blazeface.status().message().find(kBlazeFace.filename().string()), std::string::npos)
      << blazeface.status().message();
  EXPECT_NE(blazeface.status().message().find("Face Mesh"), std::string::npos) << blazeface.status().message();
  auto missing = LoadFaceMeshLandmarker(kFaceMesh.parent_path() / "no_such_model.onnx");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
}

TEST(FaceMeshTable, IndicesAreDistinctMeshPoints) {
  const std::array<int, 68>& table = FaceMeshToIbug68();
  std::vector<int> sorted(table.begin(), table.end());
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_GE(sorted.front(), 0);
  EXPECT_LT(sorted.back(), 468);
}

}  // namespace
}  // namespace swapline::vision
