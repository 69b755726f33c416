// Tests of the glasses finder and of the classic swapper keeping a target's glasses,
// on real photos: the one portrait with glasses, in every derived still, and every
// other face of the test data, which has none.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "vision/face_glasses.h"
#include "vision/face_selector.h"
#include "vision/face_swapper.h"
#include "photo_face_test.h"

namespace swapline::vision {
namespace {

const std::string kTestdata = SWAPLINE_TESTDATA_DIR;
const std::string kHopper = kTestdata + "/photos/grace_hopper_usn_portrait.jpg";
const std::string kObama = kTestdata + "/photos/obama_official_portrait_2012.jpg";

class FaceGlassesTest : public PhotoFaceTest {
 protected:
  // Faces at the swap's default score.
  static std::vector<Face> Faces(const cv::Mat& image) {
    auto faces = analyser_->Analyse(image, 0.5f, false);
    EXPECT_TRUE(faces.ok() && !faces->empty());
    if (!faces.ok()) return {};
    SortFaces(*faces, SelectorOrder::kLargeSmall);
    return *faces;
  }
};

TEST_F(FaceGlassesTest, FindsTheGlassesInEveryStillOfTheFaceWearingThem) {
  for (const std::string name : {"photos/grace_hopper_usn_portrait.jpg", "derived/grace_hopper_usn_portrait_1280x720.jpg",
                                 "derived/grace_hopper_usn_portrait_1920x1080.jpg",
                                 "derived/grace_hopper_usn_portrait_tilt_minus20.png",
                                 "derived/grace_hopper_usn_portrait_tilt_plus20.png"}) {
    const cv::Mat image = Read(kTestdata + "/" + name);
    const std::vector<Face> faces = Faces(image);
    ASSERT_FALSE(faces.empty()) << name;
    const GlassesFrame glasses = FindGlassesFrame(image, faces.front().landmarks68);
    std::printf("%-50s bridge %5.1f rims %5.1f\n", name.c_str(), glasses.bridge_contrast, glasses.rim_contrast);
    EXPECT_TRUE(glasses.found) << name;
    ASSERT_EQ(glasses.mask.size(), image.size()) << name;
    // The frame is around the eyes, never on them: the pupils' neighbourhood (the
    // eye points' centre) is clear, the bridge between them is frame.
    const Landmarks68& p = faces.front().landmarks68;
    for (const auto& [first, last] : {std::pair{36, 41}, std::pair{42, 47}}) {
      cv::Point2f centre(0, 0);
      for (int i = first; i <= last; ++i) centre += p[static_cast<std::size_t>(i)] * (1.0f / 6);
      EXPECT_EQ(glasses.mask.at<std::uint8_t>(cvRound(centre.y), cvRound(centre.x)), 0) << name;
    }
    const float face_width = static_cast<float>(cv::norm(p[16] - p[0]));
    const double frame_share = cv::countNonZero(glasses.mask > 128) / (face_width * face_width);
    std::printf("%-50s frame covers %.3f of the face width squared\n", name.c_str(), frame_share);
    EXPECT_GT(frame_share, 0.04) << name << ": too little of the frame traced";
    EXPECT_LT(frame_share, 0.3) << name << ": more than a frame traced";

    // The decision alone, and read from GlassesRegion only, is the same decision.
    const GlassesFrame measured = MeasureGlasses(image, p);
    EXPECT_TRUE(measured.found) << name;
    EXPECT_TRUE(measured.mask.empty()) << name;
    EXPECT_EQ(measured.bridge_contrast, glasses.bridge_contrast) << name;
    EXPECT_EQ(measured.rim_contrast, glasses.rim_contrast) << name;
    const cv::Rect region = GlassesRegion(p, image.size());
    ASSERT_FALSE(region.empty()) << name;
    EXPECT_LT(region.area(), image.size().area()) << name;
    Landmarks68 in_region = p;
    for (auto& point : in_region) point -= cv::Point2f(static_cast<float>(region.x), static_cast<float>(region.y));
    const GlassesFrame from_region = MeasureGlasses(image(region).clone(), in_region);
    EXPECT_TRUE(from_region.found) << name;
    EXPECT_NEAR(from_region.bridge_contrast, glasses.bridge_contrast, 1.0) << name;
    EXPECT_NEAR(from_region.rim_contrast, glasses.rim_contrast, 1.0) << name;
    // What a video track knows: not worn, nothing is looked for; worn, the same frame.
    EXPECT_FALSE(FindGlassesFrame(image, p, false).found) << name;
    const GlassesFrame worn = FindGlassesFrame(image, p, true);
    EXPECT_TRUE(worn.found) << name;
    EXPECT_EQ(cv::countNonZero(worn.mask != glasses.mask), 0) << name;
  }
}

TEST(GlassesVoteTest, AFewFramesWithoutTheRimsKeepTheGlassesOnAndOneFindingNeverPutsThemOn) {
  // The two-face clip's track wearing glasses, as MeasureGlasses found them frame by
  // frame: lost for six frames, then for two.
  GlassesVote wearing;
  const std::string found = "111111111111111111100000011111111111111110011111111111";
  for (std::size_t i = 0; i < found.size(); ++i) EXPECT_TRUE(wearing.Update(found[i] == '1')) << "frame " << i;
  // A face without: never, though one frame in ten looks like glasses.
  GlassesVote bare;
  for (int i = 0; i < 60; ++i) EXPECT_FALSE(bare.Update(i % 10 == 5)) << "frame " << i;
  // Glasses put on after the first frame count once they show steadily, and a face
  // seen wearing them in its first frame only loses them when they stay gone.
  GlassesVote later;
  int first_worn = -1;
  for (int i = 0; i < 10 && first_worn < 0; ++i) {
    if (later.Update(i >= 2)) first_worn = i;
  }
  EXPECT_EQ(first_worn, 5);
  GlassesVote taken_off;
  int first_bare = -1;
  for (int i = 0; i < 30 && first_bare < 0; ++i) {
    if (!taken_off.Update(i == 0)) first_bare = i;
  }
  EXPECT_EQ(first_bare, 8);
}

TEST_F(FaceGlassesTest, FindsNoGlassesOnFacesWithout) {
  // Lincoln's brows meet over his nose (a bridge's bar); the lower lids and their bags
  // are lines under every eye; the two-face photo's faces are small and turned.
  for (const std::string name :
       {"photos/abraham_lincoln_gardner_1863.jpg", "derived/abraham_lincoln_gardner_1863_1280x720.jpg",
        "derived/abraham_lincoln_gardner_1863_1920x1080.jpg", "photos/eileen_collins_nasa_portrait.png",
        "derived/eileen_collins_nasa_portrait_tilt_minus20.png", "derived/eileen_collins_nasa_portrait_tilt_plus20.png",
        "derived/eileen_collins_nasa_portrait_1920x1080.jpg", "photos/obama_official_portrait_2012.jpg",
        "photos/obama_official_portrait_2012_small_320x240.jpg", "photos/obama_official_portrait_2012_partial_face.jpg",
        "derived/obama_official_portrait_2012_1280x720.jpg", "photos/obama_biden_blue_room_2010_two_faces.jpg",
        "derived/obama_biden_blue_room_2010_two_faces_1920x1080.jpg", "photos/cameraman_cc0_varshney.png",
        "derived/cameraman_cc0_varshney_mirrored.png"}) {
    const cv::Mat image = Read(kTestdata + "/" + name);
    auto faces = analyser_->Analyse(image, 0.5f, false);
    ASSERT_TRUE(faces.ok()) << name;
    for (const Face& face : *faces) {
      const GlassesFrame glasses = FindGlassesFrame(image, face.landmarks68);
      std::printf("%-55s bridge %5.1f rims %5.1f\n", name.c_str(), glasses.bridge_contrast, glasses.rim_contrast);
      EXPECT_FALSE(glasses.found) << name;
      EXPECT_TRUE(glasses.mask.empty()) << name;
    }
  }
}

TEST_F(FaceGlassesTest, SwapKeepsTheTargetsGlassesOverTheSourcesEyesWhenAsked) {
  const cv::Mat target = Read(kHopper);
  const Face face = Faces(target).front();
  const GlassesFrame glasses = FindGlassesFrame(target, face.landmarks68);
  ASSERT_TRUE(glasses.found);

  const cv::Mat source_image = Read(kObama);
  auto prepared = PrepareSource({{source_image, Faces(source_image).front()}});
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  // Mean change (grey levels) of the swap under `mask`, with and without keeping glasses.
  const auto change_under = [&](bool keep_glasses, const cv::Mat& mask) {
    SwapperOptions options;
    options.keep_glasses = keep_glasses;
    auto swapper = NewClassicFaceSwapper(options);
    swapper->SetSource(*prepared);
    cv::Mat output = target.clone();
    EXPECT_TRUE(Swap(*swapper, output, face).ok());
    cv::Mat change;
    cv::absdiff(output, target, change);
    cv::cvtColor(change, change, cv::COLOR_BGR2GRAY);
    return cv::mean(change, mask)[0];
  };
  cv::Mat frame_core;
  cv::erode(glasses.mask == 255, frame_core, cv::Mat());
  cv::Mat eyes = cv::Mat::zeros(target.size(), CV_8U);
  for (const auto& [first, last] : {std::pair{36, 41}, std::pair{42, 47}}) {
    std::vector<cv::Point> eye;
    for (int i = first; i <= last; ++i) {
      eye.emplace_back(cvRound(face.landmarks68[static_cast<std::size_t>(i)].x),
                       cvRound(face.landmarks68[static_cast<std::size_t>(i)].y));
    }
    cv::fillConvexPoly(eyes, eye, cv::Scalar(255));
  }
  const double on_frame = change_under(true, frame_core), on_eyes = change_under(true, eyes);
  const double replaced = change_under(false, frame_core);
  std::printf("kept: change on the frame %.1f, on the eyes %.1f (%d frame pixels); replaced: on the frame %.1f\n",
              on_frame, on_eyes, cv::countNonZero(frame_core), replaced);
  EXPECT_GT(cv::countNonZero(frame_core), 200);
  // Measured: 0.0 on the frame, 44.6 on the eyes; by default the frame changes by 54.1.
  EXPECT_LT(on_frame, 5.0) << "the target's glasses were swapped away";
  EXPECT_GT(on_eyes, 15.0) << "the eyes behind the lenses were not swapped";
  EXPECT_GT(replaced, 10.0) << "without --face-swapper-keep-glasses the glasses stayed";
}

}  // namespace
}  // namespace swapline::vision
