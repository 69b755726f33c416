#include "pipeline/yuv_region.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

namespace swapline::pipeline {
namespace {

// A 320x240 frame of smooth gradients with a little noise in every plane.
media::VideoFrame TestFrame() {
  media::VideoFrame frame;
  frame.y.create(240, 320, CV_8U);
  frame.u.create(120, 160, CV_8U);
  frame.v.create(120, 160, CV_8U);
  cv::RNG rng(7);
  for (int y = 0; y < 240; ++y) {
    for (int x = 0; x < 320; ++x) frame.y.at<uchar>(y, x) = cv::saturate_cast<uchar>(40 + x / 2 + y / 3 + rng.uniform(0, 6));
  }
  for (int y = 0; y < 120; ++y) {
    for (int x = 0; x < 160; ++x) {
      frame.u.at<uchar>(y, x) = cv::saturate_cast<uchar>(100 + x / 4 + rng.uniform(0, 4));
      frame.v.at<uchar>(y, x) = cv::saturate_cast<uchar>(150 - y / 4 + rng.uniform(0, 4));
    }
  }
  return frame;
}

media::VideoFrame Copy(const media::VideoFrame& frame) {
  media::VideoFrame copy;
  copy.y = frame.y.clone();
  copy.u = frame.u.clone();
  copy.v = frame.v.clone();
  return copy;
}

// A patch over `roi` at half resolution with nothing in it yet.
vision::SwapPatch HalfScalePatch(const cv::Rect& roi) {
  vision::SwapPatch patch;
  patch.roi = roi;
  const cv::Size work(roi.width / 2, roi.height / 2);
  patch.face = cv::Mat(work, CV_8UC3, cv::Scalar(40, 160, 220));
  patch.mask = cv::Mat::zeros(work, CV_32F);
  return patch;
}

int CountDifferent(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  return cv::countNonZero(diff);
}

double LargestDifference(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  double largest = 0;
  cv::minMaxLoc(diff, nullptr, &largest);
  return largest;
}

TEST(YuvRegionTest, EvenRegionKeepsWholeChromaBlocksInsideTheFrame) {
  EXPECT_EQ(EvenRegion(cv::Rect(3, 5, 10, 7), cv::Size(320, 240)), cv::Rect(2, 4, 12, 8));
  EXPECT_EQ(EvenRegion(cv::Rect(-5, -5, 50, 50), cv::Size(321, 241)), cv::Rect(0, 0, 46, 46));
  EXPECT_EQ(EvenRegion(cv::Rect(300, 200, 50, 50), cv::Size(321, 241)), cv::Rect(300, 200, 20, 40));
}

TEST(YuvRegionTest, ReadRegionScaledAgreesWithTheFullConversionScaled) {
  const media::VideoFrame frame = TestFrame();
  const cv::Rect roi(40, 20, 200, 160);
  cv::Mat expected;
  cv::resize(RegionToBgr(frame, roi), expected, cv::Size(100, 80), 0, 0, cv::INTER_AREA);
  const cv::Mat read = ReadRegion(frame, roi, cv::Size(100, 80), cv::INTER_AREA);
  ASSERT_EQ(read.size(), cv::Size(100, 80));
  ASSERT_EQ(read.type(), CV_8UC3);
  cv::Mat diff;
  cv::absdiff(read, expected, diff);
  const cv::Scalar mean = cv::mean(diff);
  for (int c = 0; c < 3; ++c) EXPECT_LT(mean[c], 1.5) << "channel " << c;
}

TEST(YuvRegionTest, PastingWhatWasReadUnderAFullMaskKeepsTheFrame) {
  media::VideoFrame frame = TestFrame();
  const media::VideoFrame original = Copy(frame);
  const cv::Rect roi(60, 40, 120, 100);
  vision::SwapPatch patch;
  patch.roi = roi;
  patch.face = ReadRegion(frame, roi, roi.size(), cv::INTER_LINEAR);
  patch.mask = cv::Mat::ones(roi.size(), CV_32F);
  PastePatch(frame, patch);
  EXPECT_LE(LargestDifference(frame.y, original.y), 1) << "luma changed by a colour round trip";
  EXPECT_LE(LargestDifference(frame.u, original.u), 2) << "chroma changed by a colour round trip";
  EXPECT_LE(LargestDifference(frame.v, original.v), 2) << "chroma changed by a colour round trip";
}

TEST(YuvRegionTest, PasteChangesNothingWhereTheMaskIsZeroAndCoversItWhereItIsOne) {
  media::VideoFrame frame = TestFrame();
  const media::VideoFrame original = Copy(frame);
  const cv::Rect roi(60, 40, 160, 120);
  vision::SwapPatch patch = HalfScalePatch(roi);
  // Full weight on a centred square of the working frame, none elsewhere.
  patch.mask(cv::Rect(20, 15, 40, 30)).setTo(1.0f);
  PastePatch(frame, patch);

  // Outside the square's enlargement (plus one pixel of bilinear reach) nothing changed.
  const cv::Rect touched(roi.x + 38, roi.y + 28, 84, 64);
  cv::Mat untouched = cv::Mat::ones(frame.y.size(), CV_8U);
  untouched(touched).setTo(0);
  cv::Mat diff;
  cv::absdiff(frame.y, original.y, diff);
  EXPECT_EQ(cv::countNonZero(diff & untouched), 0);
  cv::Mat chroma_untouched;
  cv::resize(untouched, chroma_untouched, frame.u.size(), 0, 0, cv::INTER_NEAREST);
  cv::erode(chroma_untouched, chroma_untouched, cv::Mat());
  cv::absdiff(frame.u, original.u, diff);
  EXPECT_EQ(cv::countNonZero(diff & chroma_untouched), 0);
  cv::absdiff(frame.v, original.v, diff);
  EXPECT_EQ(cv::countNonZero(diff & chroma_untouched), 0);

  // Inside, the face's colour in BT.601 limited range: B 40, G 160, R 220.
  const cv::Rect inner(roi.x + 44, roi.y + 34, 72, 52);
  const double y = 16 + 0.257 * 220 + 0.504 * 160 + 0.098 * 40;
  const double u = 128 - 0.148 * 220 - 0.291 * 160 + 0.439 * 40;
  const double v = 128 + 0.439 * 220 - 0.368 * 160 - 0.071 * 40;
  EXPECT_NEAR(cv::mean(frame.y(inner))[0], y, 1.0);
  const cv::Rect inner_chroma(inner.x / 2, inner.y / 2, inner.width / 2, inner.height / 2);
  EXPECT_NEAR(cv::mean(frame.u(inner_chroma))[0], u, 1.0);
  EXPECT_NEAR(cv::mean(frame.v(inner_chroma))[0], v, 1.0);
}

TEST(YuvRegionTest, ShiftMovesTheFramesOwnPixelsUpToTheRegionsBorder) {
  media::VideoFrame frame = TestFrame();
  const media::VideoFrame original = Copy(frame);
  const cv::Rect roi(60, 40, 160, 120);
  vision::SwapPatch patch = HalfScalePatch(roi);
  // Every pixel takes its content from 2 working pixels (4 frame pixels) to its right.
  patch.shift = cv::Mat(patch.mask.size(), CV_32FC2, cv::Scalar(2.0f, 0.0f));
  PastePatch(frame, patch);

  const cv::Rect moved(roi.x, roi.y, roi.width - 4, roi.height);
  EXPECT_EQ(CountDifferent(frame.y(moved), original.y(moved + cv::Point(4, 0))), 0)
      << "luma: the border columns too must move by exactly 4 pixels";
  const cv::Rect moved_chroma(roi.x / 2, roi.y / 2, roi.width / 2 - 2, roi.height / 2);
  EXPECT_EQ(CountDifferent(frame.u(moved_chroma), original.u(moved_chroma + cv::Point(2, 0))), 0);
  EXPECT_EQ(CountDifferent(frame.v(moved_chroma), original.v(moved_chroma + cv::Point(2, 0))), 0);
  // Outside the region nothing changed.
  cv::Mat outside_y = original.y.clone();
  frame.y(roi).copyTo(outside_y(roi));
  EXPECT_EQ(CountDifferent(frame.y, outside_y), 0);
}

}  // namespace
}  // namespace swapline::pipeline
