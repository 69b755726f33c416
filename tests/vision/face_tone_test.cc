// Tests of the tone transfer on synthetic faces whose colour statistics are known.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "vision/face_tone.h"

namespace swapline::vision {
namespace {

constexpr int kSide = 200;
// Small enough that the tone transfer measures the pictures at full size: reduced, the
// pixels' independent noise would average down and its spreads with it.
constexpr int kFullSizeSide = 160;
const cv::Rect kBrow(40, 40, 120, 24);

// An 8-bit BGR picture whose Lab has mean `lab` (8-bit units) and Gaussian noise of
// `spread` on each channel, with `brow` (Lab offset) added over kBrow when given;
// `side` pixels square.
cv::Mat Picture(cv::Vec3f lab, cv::Vec3f spread, cv::Vec3f brow, unsigned seed, int side = kSide) {
  cv::RNG rng(seed);
  cv::Mat planes[3];
  for (int c = 0; c < 3; ++c) {
    planes[c].create(side, side, CV_32F);
    rng.fill(planes[c], cv::RNG::NORMAL, lab[c], spread[c]);
    planes[c](kBrow) += brow[c];
  }
  cv::Mat lab_image, lab8, bgr;
  cv::merge(planes, 3, lab_image);
  lab_image.convertTo(lab8, CV_8UC3);
  cv::cvtColor(lab8, bgr, cv::COLOR_Lab2BGR);
  return bgr;
}

// 255 over a `side`-pixel square but for kBrow: the skin of a Picture's face.
cv::Mat SkinOutsideBrow(int side) {
  cv::Mat skin(side, side, CV_8U, cv::Scalar(255));
  skin(kBrow).setTo(0);
  return skin;
}

// Mean and spread of each Lab channel of `bgr` under `mask`.
void LabStatistics(const cv::Mat& bgr, const cv::Mat& mask, cv::Scalar& mean, cv::Scalar& spread) {
  cv::Mat lab;
  cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
  cv::meanStdDev(lab, mean, spread, mask);
}

TEST(FaceToneTest, AWiderTargetSpreadWidensTheSkinButDoesNotPushTheBrowsFurther) {
  // A smooth-skinned source (colour spread 3) with brows bluer than its skin, onto a
  // ruddy target (spread 7): widened whole, the brows would move 2.3 times as far
  // from the skin, and turn blue.
  const cv::Vec3f brow_offset(-40, -8, -20);
  cv::Mat face = Picture({150, 146, 153}, {2, 3, 3}, brow_offset, 1);
  const cv::Mat target = Picture({160, 154, 159}, {2, 7, 7}, {0, 0, 0}, 2);
  const cv::Mat skin = SkinOutsideBrow(kSide);
  const cv::Mat brow = ~skin;
  const cv::Mat target_skin(kSide, kSide, CV_8U, cv::Scalar(255));

  cv::Scalar skin_before, skin_spread_before, brow_before, unused;
  LabStatistics(face, skin, skin_before, skin_spread_before);
  LabStatistics(face, brow, brow_before, unused);
  TransferTone(face, skin, target, target_skin);
  cv::Scalar skin_after, skin_spread_after, brow_after, target_mean, target_spread;
  LabStatistics(face, skin, skin_after, skin_spread_after);
  LabStatistics(face, brow, brow_after, unused);
  LabStatistics(target, target_skin, target_mean, target_spread);

  for (int c = 1; c < 3; ++c) {
    const double before = brow_before[c] - skin_before[c], after = brow_after[c] - skin_after[c];
    std::printf("channel %d: skin mean %.1f -> %.1f (target %.1f), spread %.2f -> %.2f (target %.2f); "
                "brow from skin %.1f -> %.1f\n",
                c, skin_before[c], skin_after[c], target_mean[c], skin_spread_before[c], skin_spread_after[c],
                target_spread[c], before, after);
    EXPECT_NEAR(skin_after[c], target_mean[c], 1.5) << "channel " << c << ": the skin takes the target's colour";
    EXPECT_GT(skin_spread_after[c], 0.75 * target_spread[c]) << "channel " << c << ": and most of its variation";
    EXPECT_GE(std::abs(after), std::abs(before) - 1.0) << "channel " << c << ": the brows stay apart from the skin";
    // Widened whole they would gain (ratio - 1) times their distance (11 and 27
    // here); past the knee they gain what skin two of its spreads out gains.
    const double knee_gain = 2.0 * (target_spread[c] - skin_spread_before[c]);
    EXPECT_LT(std::abs(after) - std::abs(before), knee_gain + 1.5) << "channel " << c << ": not pushed further off";
  }
}

TEST(FaceToneTest, ANarrowerTargetSpreadNarrowsTheSkinButKeepsTheBrowsDark) {
  // A contrasty source (lightness spread 8) with dark brows onto a flat target (2):
  // its skin's detail narrows to half within a spread of its mean, the least allowed
  // (the Gaussian's tails beyond keep their slope: about 0.8 of the spread in all);
  // narrowed whole, the brows would lose half their depth too (a flat band where a
  // deep-set face's eyes were).
  const cv::Vec3f brow_offset(-60, 0, 0);
  cv::Mat face = Picture({150, 146, 153}, {8, 2, 2}, brow_offset, 1, kFullSizeSide);
  const cv::Mat target = Picture({160, 150, 155}, {2, 2, 2}, {0, 0, 0}, 2, kFullSizeSide);
  const cv::Mat skin = SkinOutsideBrow(kFullSizeSide);
  const cv::Mat brow = ~skin;
  const cv::Mat target_skin(kFullSizeSide, kFullSizeSide, CV_8U, cv::Scalar(255));

  cv::Scalar skin_before, spread_before, brow_before, skin_after, spread_after, brow_after, unused;
  LabStatistics(face, skin, skin_before, spread_before);
  LabStatistics(face, brow, brow_before, unused);
  TransferTone(face, skin, target, target_skin);
  LabStatistics(face, skin, skin_after, spread_after);
  LabStatistics(face, brow, brow_after, unused);
  const double depth_before = skin_before[0] - brow_before[0], depth_after = skin_after[0] - brow_after[0];
  std::printf("lightness spread %.2f -> %.2f; brow depth %.1f -> %.1f\n", spread_before[0], spread_after[0],
              depth_before, depth_after);
  EXPECT_LT(spread_after[0], 0.85 * spread_before[0]) << "the skin takes the flatter target's detail";
  EXPECT_GT(depth_after, 0.85 * depth_before) << "the brows keep their depth past the knee";
  EXPECT_LE(depth_after, depth_before + 1.0) << "and gain none";
}

TEST(FaceToneTest, ABlackAndWhiteSourcesSkinTakesTheTargetsColourAndItsBrowsStayGrey) {
  // Grey everywhere (a = b = 128): every pixel would take the skin's colour alike. The
  // skin's noise beyond a spread fades a little (a tenth of the colour, about).
  cv::Mat face = Picture({150, 128, 128}, {8, 0, 0}, {-60, 0, 0}, 1, kFullSizeSide);
  const cv::Mat target = Picture({160, 150, 155}, {2, 3, 3}, {0, 0, 0}, 2, kFullSizeSide);
  const cv::Mat skin = SkinOutsideBrow(kFullSizeSide);
  const cv::Mat brow = ~skin;
  const cv::Mat target_skin(kFullSizeSide, kFullSizeSide, CV_8U, cv::Scalar(255));

  TransferTone(face, skin, target, target_skin);
  cv::Scalar skin_after, brow_after, target_mean, unused;
  LabStatistics(face, skin, skin_after, unused);
  LabStatistics(face, brow, brow_after, unused);
  LabStatistics(target, target_skin, target_mean, unused);
  for (int c = 1; c < 3; ++c) {
    std::printf("channel %d: skin %.1f (target %.1f), brows %.1f\n", c, skin_after[c], target_mean[c], brow_after[c]);
    EXPECT_NEAR(skin_after[c], target_mean[c], 3.0) << "channel " << c << ": the skin takes the target's colour";
    EXPECT_NEAR(brow_after[c], 128.0, 2.0) << "channel " << c << ": the brows stay grey";
  }
}

TEST(FaceToneTest, TonedWithinAPartItsPixelsAreAsTonedWholeAndTheRestIsLeft) {
  // A target lit from the top left: its shading surface varies across the picture,
  // so a part toned at the wrong place would take another part's light.
  cv::Mat target = Picture({160, 150, 155}, {2, 5, 5}, {0, 0, 0}, 2);
  cv::Mat light(kSide, kSide, CV_8UC3);
  for (int y = 0; y < kSide; ++y) {
    for (int x = 0; x < kSide; ++x) light.at<cv::Vec3b>(y, x) = cv::Vec3b::all(static_cast<uchar>((x + y) / 5));
  }
  cv::subtract(target, light, target);
  const cv::Mat face = Picture({140, 140, 150}, {3, 3, 3}, {-40, -8, -20}, 1);
  const cv::Mat skin(kSide, kSide, CV_8U, cv::Scalar(255));
  cv::Mat whole = face.clone(), part = face.clone();
  const cv::Rect within(37, 61, 101, 83);
  TransferTone(whole, skin, target, skin);
  TransferTone(part, skin, target, skin, within);

  cv::Mat outside = cv::Mat(kSide, kSide, CV_8U, cv::Scalar(255));
  outside(within).setTo(0);
  cv::Mat diff;
  cv::absdiff(part, face, diff);
  cv::Mat changed;
  cv::transform(diff, changed, cv::Matx13f(1, 1, 1));
  EXPECT_EQ(cv::countNonZero((changed > 0) & outside), 0) << "pixels outside were changed";
  // OpenCV's Lab conversion rounds a row's last few pixels on a path of their own, so
  // a part's rows differ from the whole's by a level now and then.
  cv::absdiff(part(within), whole(within), diff);
  double largest = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &largest);
  EXPECT_LE(largest, 1.0);
  EXPECT_LT(cv::mean(diff)[0], 0.05);
  cv::absdiff(part(within), face(within), diff);
  EXPECT_GT(cv::mean(diff)[0], 5.0) << "the part was not toned";
}

}  // namespace
}  // namespace swapline::vision
