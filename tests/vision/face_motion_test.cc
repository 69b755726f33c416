// FaceMotion (vision/face_motion.h): the similarity a face's pixels moved by, measured
// on a portrait moved by a known one, and no answer where there is none to give.

#include "vision/face_motion.h"

#include <cmath>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "photo_face_test.h"

namespace swapline::vision {
namespace {

class FaceMotionTest : public PhotoFaceTest {
 protected:
  // The portrait's grey frame and its face's landmarks.
  static void Portrait(const char* name, cv::Mat& grey, Landmarks68& face) {
    const ScaledPhoto photo = ReadScaledPhoto(name, 1280);
    auto faces = analyser_->Analyse(photo.bgr, 0.5f, false);
    ASSERT_TRUE(faces.ok()) << faces.status().ToString();
    ASSERT_EQ(faces->size(), 1u) << name;
    grey = photo.grey;
    face = faces->front().landmarks68;
  }
};

// A turn of `degrees` and a scale of `scale` about `centre`, then a shift.
cv::Matx23d Similarity(cv::Point2f centre, double degrees, double scale, cv::Point2d shift) {
  cv::Matx23d m = cv::getRotationMatrix2D(centre, degrees, scale);
  m(0, 2) += shift.x;
  m(1, 2) += shift.y;
  return m;
}

TEST_F(FaceMotionTest, MeasuresTheSimilarityTheFaceMovedBy) {
  for (const char* name : {"obama_official_portrait_2012.jpg", "grace_hopper_usn_portrait.jpg"}) {
    cv::Mat grey;
    Landmarks68 face;
    Portrait(name, grey, face);
    ASSERT_FALSE(grey.empty());
    FaceMotion motion;
    motion.Remember(grey, face);
    const cv::Matx23d truth = Similarity(face[30], 2.0, 1.03, {5.3, -3.7});
    cv::Mat moved;
    cv::warpAffine(grey, moved, truth, grey.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    const std::optional<cv::Matx23d> measured = motion.Measure(moved);
    ASSERT_TRUE(measured.has_value()) << name;
    // Where the landmarks went, against where they truly went: a fifth of a pixel at
    // most on a face a few hundred pixels wide (measured: 0.08 and 0.10; a fit's own
    // noise is pixels).
    double worst = 0;
    for (const cv::Point2f& p : face) worst = std::max(worst, cv::norm(Moved(*measured, p) - Moved(truth, p)));
    std::printf("[ motion   ] %s: worst landmark off by %.3f px\n", name, worst);
    EXPECT_LT(worst, 0.2) << name;
  }
}

TEST_F(FaceMotionTest, AnswersNothingWithoutMemoryOrAgreement) {
  cv::Mat grey;
  Landmarks68 face;
  Portrait("obama_official_portrait_2012.jpg", grey, face);
  ASSERT_FALSE(grey.empty());
  FaceMotion motion;
  EXPECT_FALSE(motion.Measure(grey).has_value()) << "nothing remembered";
  motion.Remember(grey, face);
  EXPECT_TRUE(motion.Measure(grey).has_value()) << "the same frame: no motion, measured";
  // A cut to a flat frame: no corner can be followed onto it.
  EXPECT_FALSE(motion.Measure(cv::Mat(grey.size(), CV_8U, cv::Scalar(128))).has_value());
  motion.Forget();
  EXPECT_FALSE(motion.Measure(grey).has_value()) << "forgotten";
}

}  // namespace
}  // namespace swapline::vision
