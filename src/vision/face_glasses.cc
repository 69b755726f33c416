#include "vision/face_glasses.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "vision/face_tone.h"

namespace swapline::vision {
namespace {

// The eye frame: eye centres kEyeDistance apart on one row, in a crop of
// kFrameSize. All lengths below are in its pixels (kEyeDistance ≈ 63 mm on a face).
constexpr float kEyeDistance = 64.0f;
const cv::Size kFrameSize(192, 128);
const cv::Point2f kLeftEye(64.0f, 64.0f);

// The bridge strip: the middle of the gap between the inner eye corners (39, 42),
// from the inner brow ends down to the nose point 29.
constexpr float kStripFrom = 0.3f, kStripTo = 0.7f;
// A bar up to about 2 * kBarReach - 1 px thick (≈ 7 mm) is compared with the skin
// kBarReach px above and below it.
constexpr int kBarReach = 4;
// The lower rims: under the middle of each eye, from kRimTop to kRimBottom eye
// distances below the eye line (clear of the lower lid and its bags).
constexpr float kRimFrom = 0.25f, kRimTo = 0.75f, kRimTop = 0.3f, kRimBottom = 0.65f;
// Grey levels of step that make a bridge and a rim. Measured on the test portraits,
// derived stills included: with glasses, bridge 48-60 and rims 87-95; without, bridge
// 3.5-8.5 but 50 where the brows meet over the nose, rims at most 18.5 (lower lids,
// bags). So both must show.
constexpr float kMinBridgeContrast = 12.0f;
// Half the thickness of the bridge's bar that is frame whatever its colour.
constexpr int kBridgeHalfWidth = 2;
constexpr float kMinRimContrast = 30.0f;

// Frame evidence: a pixel far from the skin's colour (MarkFarFromSkin), or this many
// grey levels darker than its surroundings within kLineWidth px (a thin dark line).
constexpr int kLineWidth = 9;
constexpr int kMinLineDepth = 40;
// A piece of evidence with this many pixels of a colour far from the skin is frame
// wherever it lies.
constexpr int kMinColourPiece = 24;
// How far a lens's rim reaches from the eye's centre, in eye distances.
const cv::Size2f kLensReach(0.7f, 0.6f);
// The eyes are never frame, nor this close around them.
constexpr int kEyeGuard = 3;
// How far above the brow points a rim may still reach.
constexpr float kBrowGuard = 3.0f;

// Median across the strip's columns of each row's bar step: the grey level midway
// between the pixels kBarReach above and below, less its own. Positive for a dark
// bar, negative for a light one; the strongest step and its row.
struct Bar {
  float contrast = 0;
  int row = 0;
  cv::Rect strip;
};
Bar MeasureBar(const cv::Mat& grey, const cv::Rect& strip) {
  Bar best;
  best.strip = strip;
  std::vector<float> steps(static_cast<std::size_t>(strip.width));
  for (int y = strip.y; y < strip.y + strip.height; ++y) {
    if (y - kBarReach < 0 || y + kBarReach >= grey.rows) continue;
    const auto* above = grey.ptr<std::uint8_t>(y - kBarReach);
    const auto* at = grey.ptr<std::uint8_t>(y);
    const auto* below = grey.ptr<std::uint8_t>(y + kBarReach);
    for (int x = strip.x; x < strip.x + strip.width; ++x) {
      steps[static_cast<std::size_t>(x - strip.x)] = 0.5f * (static_cast<float>(above[x]) + static_cast<float>(below[x])) -
                                                     static_cast<float>(at[x]);
    }
    const auto middle = steps.begin() + static_cast<std::ptrdiff_t>(steps.size() / 2);
    std::nth_element(steps.begin(), middle, steps.end());
    if (std::abs(*middle) > std::abs(best.contrast)) best = {*middle, y, strip};
  }
  return best;
}

// The frame in the eye frame's crop: evidence around the eyes, kept where it joins a
// bar or has a colour of its own, and the bridge's bar itself. `bars`: the bridge
// first, then the rims.
cv::Mat TraceFrame(const cv::Mat& crop, const cv::Mat& grey, const Landmarks68& p, const std::vector<Bar>& bars) {
  cv::Mat lab;
  cv::cvtColor(crop, lab, cv::COLOR_BGR2Lab);
  const cv::Mat coloured = MarkFarFromSkin(lab, CreateSkinMask(p, crop.size()));
  cv::Mat evidence = coloured.clone();
  cv::Mat line_depth;
  cv::morphologyEx(grey, line_depth, cv::MORPH_BLACKHAT,
                   cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(kLineWidth, kLineWidth)));
  evidence |= line_depth >= kMinLineDepth;

  // Where a frame can be: around each eye as far as a lens reaches, and across the
  // nose between them.
  cv::Mat zone = cv::Mat::zeros(crop.size(), CV_8U);
  const cv::Size lens(cvRound(kLensReach.width * kEyeDistance), cvRound(kLensReach.height * kEyeDistance));
  const cv::Point right_eye(cvRound(kLeftEye.x + kEyeDistance), cvRound(kLeftEye.y));
  cv::ellipse(zone, kLeftEye, lens, 0, 0, 360, cv::Scalar(255), cv::FILLED);
  cv::ellipse(zone, right_eye, lens, 0, 0, 360, cv::Scalar(255), cv::FILLED);
  cv::rectangle(zone, cv::Rect(cv::Point(cvRound(kLeftEye.x), cvRound(kLeftEye.y) - lens.height / 2), right_eye + cv::Point(0, lens.height / 2)),
                cv::Scalar(255), cv::FILLED);
  for (const auto& [first, last] : {std::pair{36, 41}, std::pair{42, 47}}) {
    std::vector<cv::Point2f> eye(p.begin() + first, p.begin() + last + 1), hull;
    cv::convexHull(eye, hull);
    cv::fillConvexPoly(zone, RoundedPoints(hull), cv::Scalar(0));
    cv::polylines(zone, RoundedPoints(hull), true, cv::Scalar(0), 2 * kEyeGuard);
  }
  // Above the brow points the face is its own, brows included: a top rim is where the
  // landmarker puts the brows or below.
  std::vector<cv::Point2f> above = {{0.0f, p[17].y - kBrowGuard}};
  for (int i = 17; i <= 26; ++i) above.push_back(p[static_cast<std::size_t>(i)] - cv::Point2f(0, kBrowGuard));
  above.emplace_back(static_cast<float>(kFrameSize.width), p[26].y - kBrowGuard);
  above.emplace_back(static_cast<float>(kFrameSize.width), 0.0f);
  above.emplace_back(0.0f, 0.0f);
  cv::fillPoly(zone, std::vector<std::vector<cv::Point>>{RoundedPoints(above)}, cv::Scalar(0));
  evidence &= zone;

  cv::Mat labels;
  const int count = cv::connectedComponents(evidence, labels, 8, CV_32S);
  // Pieces crossing a bar, or of a colour of their own (a tinted rim the dark lines of
  // the bars do not reach).
  std::vector<int> colour_pixels(static_cast<std::size_t>(count), 0);
  for (int y = 0; y < labels.rows; ++y) {
    const int* row = labels.ptr<int>(y);
    const auto* far = coloured.ptr<std::uint8_t>(y);
    for (int x = 0; x < labels.cols; ++x) colour_pixels[static_cast<std::size_t>(row[x])] += far[x] != 0;
  }
  std::vector<bool> keep(static_cast<std::size_t>(count), false);
  for (int label = 1; label < count; ++label) {
    keep[static_cast<std::size_t>(label)] = colour_pixels[static_cast<std::size_t>(label)] >= kMinColourPiece;
  }
  for (const Bar& bar : bars) {
    for (int y = std::max(0, bar.row - kBarReach); y <= std::min(labels.rows - 1, bar.row + kBarReach); ++y) {
      const int* row = labels.ptr<int>(y);
      for (int x = bar.strip.x; x < bar.strip.x + bar.strip.width; ++x) {
        if (row[x] != 0) keep[static_cast<std::size_t>(row[x])] = true;
      }
    }
  }
  cv::Mat frame = cv::Mat::zeros(crop.size(), CV_8U);
  for (int y = 0; y < labels.rows; ++y) {
    const int* row = labels.ptr<int>(y);
    auto* out = frame.ptr<std::uint8_t>(y);
    for (int x = 0; x < labels.cols; ++x) out[x] = keep[static_cast<std::size_t>(row[x])] ? 255 : 0;
  }
  // The bridge's bar itself, between the eyes' guards, even where it is tinted like
  // skin (a translucent frame).
  const Bar& bridge = bars.front();
  cv::rectangle(frame, cv::Point(cvRound(p[39].x) + kEyeGuard, bridge.row - kBridgeHalfWidth),
                cv::Point(cvRound(p[42].x) - kEyeGuard, bridge.row + kBridgeHalfWidth), cv::Scalar(255), cv::FILLED);
  // The frame's antialiased edge belongs to it too.
  cv::dilate(frame, frame, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(3, 3)));
  return frame;
}

// Image → eye frame: a similarity putting the eye centres of `landmarks` on
// kLeftEye's row, kEyeDistance apart; empty when the eyes are too close to tell.
cv::Mat ToEyeFrame(const Landmarks68& landmarks) {
  const Landmarks5 eyes = Landmarks5From68(landmarks);  // the eye centres first
  const cv::Point2f left = eyes[0], right = eyes[1];
  const cv::Point2f across = right - left;
  const float distance = static_cast<float>(cv::norm(across));
  if (distance < 8.0f) return {};
  const double scale = kEyeDistance / distance, angle = std::atan2(across.y, across.x);
  const double c = scale * std::cos(angle), s = scale * std::sin(angle);
  cv::Mat to_frame = (cv::Mat_<double>(2, 3) << c, s, 0, -s, c, 0);
  to_frame.at<double>(0, 2) = kLeftEye.x - (c * left.x + s * left.y);
  to_frame.at<double>(1, 2) = kLeftEye.y - (-s * left.x + c * left.y);
  return to_frame;
}

// The image pixels the eye frame `to_frame` shows, with a pixel to spare.
cv::Rect ShownRegion(const cv::Mat& to_frame, cv::Size image) {
  cv::Mat to_image;
  cv::invertAffineTransform(to_frame, to_image);
  std::vector<cv::Point2f> corners = {{0, 0}, {static_cast<float>(kFrameSize.width), 0},
                                      {0, static_cast<float>(kFrameSize.height)},
                                      {static_cast<float>(kFrameSize.width), static_cast<float>(kFrameSize.height)}};
  cv::transform(corners, corners, to_image);
  return (cv::Rect(cv::boundingRect(corners)) + cv::Size(2, 2)) & cv::Rect(0, 0, image.width, image.height);
}

// Measures the bars, decides (see FindGlassesFrame for `worn`) and, when `trace`
// and glasses are found, traces their frame.
GlassesFrame Examine(const cv::Mat& bgr, const Landmarks68& landmarks, std::optional<bool> worn, bool trace) {
  GlassesFrame glasses;
  if (bgr.empty() || worn == false) return glasses;
  const cv::Mat to_frame = ToEyeFrame(landmarks);
  if (to_frame.empty()) return glasses;
  const double c = to_frame.at<double>(0, 0), s = to_frame.at<double>(0, 1), scale = std::hypot(c, s);

  // Only what the eye frame shows is read; a face larger than the frame is smoothed
  // first, as an area reduction would.
  const cv::Rect shown = ShownRegion(to_frame, bgr.size());
  if (shown.width < 2 || shown.height < 2) return glasses;
  cv::Mat source = bgr(shown);
  if (scale < 0.67) {
    const double sigma = 0.4 / scale;
    cv::Mat smoothed;
    cv::GaussianBlur(source, smoothed, cv::Size(), sigma, sigma);
    source = smoothed;
  }
  cv::Mat from_shown = to_frame.clone();
  from_shown.at<double>(0, 2) += c * shown.x + s * shown.y;
  from_shown.at<double>(1, 2) += -s * shown.x + c * shown.y;
  cv::Mat crop, grey;
  cv::warpAffine(source, crop, from_shown, kFrameSize, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::cvtColor(crop, grey, cv::COLOR_BGR2GRAY);
  Landmarks68 p;
  std::vector<cv::Point2f> mapped;
  cv::transform(std::vector<cv::Point2f>(landmarks.begin(), landmarks.end()), mapped, to_frame);
  std::copy(mapped.begin(), mapped.end(), p.begin());

  const float gap_left = p[39].x, gap_right = p[42].x;
  const int strip_left = cvRound(gap_left + kStripFrom * (gap_right - gap_left));
  const int strip_right = cvRound(gap_left + kStripTo * (gap_right - gap_left));
  const int strip_top = cvRound(std::min(p[21].y, p[22].y)), strip_bottom = cvRound(p[29].y);
  const cv::Rect strip = cv::Rect(strip_left, strip_top, strip_right - strip_left + 1, strip_bottom - strip_top + 1) &
                         cv::Rect(0, 0, kFrameSize.width, kFrameSize.height);
  if (strip.width < 3 || strip.height < 2 * kBarReach + 1) return glasses;
  const Bar bridge = MeasureBar(grey, strip);
  glasses.bridge_contrast = std::abs(bridge.contrast);
  std::vector<Bar> bars = {bridge};
  for (const auto& [outer, inner] : {std::pair{36, 39}, std::pair{42, 45}}) {
    const float from = p[outer].x + kRimFrom * (p[inner].x - p[outer].x), to = p[outer].x + kRimTo * (p[inner].x - p[outer].x);
    const cv::Rect under = cv::Rect(cvRound(std::min(from, to)), cvRound(kLeftEye.y + kRimTop * kEyeDistance),
                                    cvRound(std::abs(to - from)) + 1, cvRound((kRimBottom - kRimTop) * kEyeDistance) + 1) &
                           cv::Rect(0, 0, kFrameSize.width, kFrameSize.height);
    bars.push_back(MeasureBar(grey, under));
  }
  glasses.rim_contrast = std::min(std::abs(bars[1].contrast), std::abs(bars[2].contrast));
  if (glasses.bridge_contrast < kMinBridgeContrast) return glasses;
  if (!worn.has_value() && glasses.rim_contrast < kMinRimContrast) return glasses;

  glasses.found = true;
  if (!trace) return glasses;
  const cv::Mat frame = TraceFrame(crop, grey, p, bars);
  cv::Mat to_image;
  cv::invertAffineTransform(to_frame, to_image);
  cv::warpAffine(frame, glasses.mask, to_image, bgr.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
  return glasses;
}

}  // namespace

GlassesFrame FindGlassesFrame(const cv::Mat& bgr, const Landmarks68& landmarks, std::optional<bool> worn) {
  return Examine(bgr, landmarks, worn, true);
}

GlassesFrame MeasureGlasses(const cv::Mat& bgr, const Landmarks68& landmarks) {
  return Examine(bgr, landmarks, std::nullopt, false);
}

cv::Rect GlassesRegion(const Landmarks68& landmarks, cv::Size image) {
  const cv::Mat to_frame = ToEyeFrame(landmarks);
  return to_frame.empty() ? cv::Rect() : ShownRegion(to_frame, image);
}

bool GlassesVote::Update(bool found) {
  const float finding = found ? 1.0f : 0.0f;
  if (!started_) {
    started_ = true;
    vote_ = finding;
    worn_ = found;
    return worn_;
  }
  vote_ += kWeight * (finding - vote_);
  if (!worn_ && vote_ >= kOn) worn_ = true;
  if (worn_ && vote_ < kOff) worn_ = false;
  return worn_;
}

}  // namespace swapline::vision
