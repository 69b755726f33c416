#include "vision/face_tracker.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "vision/face_masker.h"

namespace swapline::vision {
namespace {

// Detections overlapping a track's predicted box by at least this IoU continue it.
constexpr float kMatchIou = 0.3f;
// Below this IoU with its detection, a track's box is re-anchored on the detector's.
constexpr float kReanchorIou = 0.5f;
// ...and when its size and the detection's differ by more than this factor: the box
// is predicted from the last fit, and a fit in a box a little too large finds a face a
// little too large, whose next box is larger again (eye corners drifting onto a
// glasses frame grew a face by half in six frames). The detector's own box sizes come
// in pyramid steps of 6/5, so up to that is no drift.
constexpr float kMaxScaleDrift = 1.25f;
// A face whose width changes by more than this factor from one frame to the next has
// the detector look again in the next frame.
constexpr float kMaxScaleStep = 1.06f;
// A track's next fit keeps the box of its last one while the box predicted from that
// fit lies within this share of the box's width of it, in place, and this factor of
// it in size. The landmarker samples pixels at box-relative positions, so moving a box
// by a pixel moves the fit by several: a box remade from every fit fed the fit's noise
// back into the next one (a face held still in a still frame wandered by ±0.9 % in
// width for a second before it settled). A face that moves takes its box along as
// before: the hold is under the box offset a fit tolerates.
constexpr float kBoxHoldShift = 0.01f;
constexpr float kBoxHoldScale = 1.02f;
// With the pixels' motion measured (FaceMotion), the box moves with them, and is remade
// from the fit only when the fit finds it this share of its width off the face, or
// this factor off in size: drift, never a fit's noise.
constexpr float kBoxDriftShift = 0.05f;
constexpr float kBoxDriftScale = 1.05f;
// With the motion measured, the returned pose is the last one carried by it, drawn
// this share of the way toward the frame's fit: the pixels' motion passes whole, the
// fit's noise at about two sevenths (sqrt(g / (2 - g))), and where the fit and the
// pixels disagree for good (a turn in depth, a flow a little off) the fit wins within
// a few frames. It is drawn all the way when the two are kFitMiss apart (face widths,
// plus relative scale and turn): a fit that finds the face elsewhere than the pixels
// say, after a cut or a fast turn. At 0.3 (two fifths of the noise) a portrait held
// still travelled 0.061 face widths in 2 s, now 0.038, and the large-face clip's swap
// re-encoded at crf 10 took 1 % more bytes: the encoder codes every sub-pixel move of
// the face's detail. The one-face clip's swap slides over its input's face 0.99 times
// as much as the still swap moved exactly as the clip (0.97 at 0.3).
constexpr double kFitGain = 0.15;
constexpr double kFitMiss = 0.08;

// `ratio` is above `factor` or below its inverse.
bool BeyondFactor(float ratio, float factor) { return ratio > factor || ratio < 1.0f / factor; }

float Iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

// Of `found`, the detection overlapping `box` most, by at least kMatchIou: its index
// and overlap.
std::optional<std::pair<std::size_t, float>> BestMatch(const std::vector<Detection>& found, const cv::Rect2f& box) {
  std::optional<std::pair<std::size_t, float>> best;
  for (std::size_t i = 0; i < found.size(); ++i) {
    const float iou = Iou(found[i].box, box);
    if (iou >= kMatchIou && (!best || iou > best->second)) best = {i, iou};
  }
  return best;
}

// One of `boxes` is `box`'s face: they overlap by kMatchIou.
bool AnyMatches(const std::vector<cv::Rect2f>& boxes, const cv::Rect2f& box) {
  return std::any_of(boxes.begin(), boxes.end(), [&](const cv::Rect2f& b) { return Iou(b, box) >= kMatchIou; });
}

cv::Mat Grey(const cv::Mat& image) {
  if (image.channels() == 1) return image;
  cv::Mat grey;
  cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
  return grey;
}

cv::Point2f BoxCentre(const cv::Rect2f& box) { return {box.x + box.width / 2, box.y + box.height / 2}; }

cv::Point2f LandmarkCentre(const Landmarks68& p) {
  cv::Point2f sum(0, 0);
  for (const auto& q : p) sum += q;
  return sum * (1.0f / 68.0f);
}

double Alpha(double rate, double cutoff) {
  const double tau = 1.0 / (2.0 * std::numbers::pi * cutoff);
  return 1.0 / (1.0 + tau * rate);
}

}  // namespace

OneEuroFilter::OneEuroFilter(double rate_hz, double min_cutoff_hz, double beta, double derivative_cutoff_hz)
    : rate_(rate_hz), min_cutoff_(min_cutoff_hz), beta_(beta), derivative_cutoff_(derivative_cutoff_hz) {}

double OneEuroFilter::Filter(double value) {
  if (!initialised_) {
    initialised_ = true;
    value_ = value;
    derivative_ = 0;
    return value;
  }
  const double derivative = (value - value_) * rate_;
  const double a_d = Alpha(rate_, derivative_cutoff_);
  derivative_ = a_d * derivative + (1 - a_d) * derivative_;
  const double cutoff = min_cutoff_ + beta_ * std::abs(derivative_);
  const double a = Alpha(rate_, cutoff);
  value_ = a * value + (1 - a) * value_;
  return value_;
}

FaceTracker::FaceTracker(FaceDetector& detector, FaceLandmarker& landmarker, const FaceTrackerOptions& options)
    : detector_(detector), landmarker_(landmarker), options_(options) {}

void FaceTracker::RememberBox(FaceTrack& track, const cv::Rect2f& box) const {
  const float width = std::max(FaceWidth(track.raw), 1.0f);
  track.box_offset = (BoxCentre(box) - LandmarkCentre(track.raw)) * (1.0f / width);
  track.box_size = cv::Size2f(box.width / width, box.height / width);
}

cv::Rect2f FaceTracker::PredictBox(const FaceTrack& track, const std::optional<cv::Matx23d>& motion) const {
  const float width = FaceWidth(track.raw);
  const cv::Point2f centre = LandmarkCentre(track.raw) + track.box_offset * width;
  const cv::Size2f size(track.box_size.width * width, track.box_size.height * width);
  const cv::Rect2f predicted(centre.x - size.width / 2, centre.y - size.height / 2, size.width, size.height);
  const cv::Rect2f& last = track.face.box;
  if (motion) {
    // The last box carried along by the pixels: the next fit sees the face where the
    // last one saw it, however noisy that fit was. Only a box the fit finds slid off
    // the face is remade from the fit.
    const cv::Matx23d& m = *motion;
    const auto scale = static_cast<float>(std::hypot(m(0, 0), m(1, 0)));
    const cv::Point2f moved = Moved(m, BoxCentre(last));
    const cv::Rect2f carried(moved.x - last.width * scale / 2, moved.y - last.height * scale / 2, last.width * scale,
                             last.height * scale);
    const cv::Point2f drift = centre - moved;
    const float reach = kBoxDriftShift * carried.width;
    const bool kept = std::abs(drift.x) <= reach && std::abs(drift.y) <= reach &&
                      !BeyondFactor(predicted.width / std::max(carried.width, 1.0f), kBoxDriftScale);
    return kept ? carried : predicted;
  }
  const cv::Point2f shift = centre - BoxCentre(last);
  const float reach = kBoxHoldShift * last.width;
  const bool held = std::abs(shift.x) <= reach && std::abs(shift.y) <= reach &&
                    !BeyondFactor(predicted.width / std::max(last.width, 1.0f), kBoxHoldScale);
  return held ? last : predicted;
}

FaceTracker::FaceTrack FaceTracker::NewTrack(const Detection& detection) {
  FaceTrack track;
  track.id = next_id_++;
  track.face.box = detection.box;
  track.face.score = detection.score;
  track.angle = detection.angle;
  return track;  // landmarks and box anchor follow in Fit()
}

std::optional<FaceTracker::Step> FaceTracker::Follow(FaceTrack& track, const cv::Mat& grey) const {
  std::optional<cv::Matx23d> motion = track.motion.Measure(grey);
  const cv::Rect2f box = PredictBox(track, motion);
  const cv::Rect2f frame(0, 0, static_cast<float>(grey.cols), static_cast<float>(grey.rows));
  if ((box & frame).area() < 0.5f * box.area()) return std::nullopt;
  return Step{box, false, motion};
}

void FaceTracker::Confirm(FaceTrack& track, Step& step, const Detection& detection, float iou) {
  // Keep following the predicted box while it agrees with the detector, in place and
  // in scale: the detector's box sizes come in pyramid steps, and a landmark fit in a
  // box that jumps would make the face jump at every detection.
  const float drift = step.box.width / std::max(detection.box.width, 1.0f);
  if (iou < kReanchorIou || BeyondFactor(drift, kMaxScaleDrift)) {
    step.box = detection.box;
    step.anchor = true;
  }
  track.face.score = detection.score;
  track.angle = detection.angle;
  track.missed = 0;
}

Result<std::vector<bool>> FaceTracker::ConfirmNear(const cv::Mat& image, std::vector<Step>& steps) {
  std::vector<bool> confirmed(tracks_.size(), false);
  for (std::size_t t = 0; t < tracks_.size(); ++t) {
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<Detection> near,
                              detector_.DetectNear(image, steps[t].box, options_.min_score));
    if (const auto best = BestMatch(near, steps[t].box)) {
      Confirm(tracks_[t], steps[t], near[best->first], best->second);
      confirmed[t] = true;
    }
  }
  return confirmed;
}

Result<bool> FaceTracker::Fit(FaceTrack& track, const cv::Mat& image, const cv::Mat& grey, const Step& step) {
  Result<Landmarks68> marked = MarkTurned(landmarker_, image, step.box, track.angle);
  if (!marked.ok() && marked.status().code() == Code::kNoFace) return false;  // the face has gone from its box
  const float previous_width = FaceWidth(track.raw);
  SWAPLINE_ASSIGN_OR_RETURN(track.raw, std::move(marked));
  // A face that changed scale faster than a head moves may be a fit running away
  // (kMaxScaleDrift): the detector looks again in the next frame.
  const float scale_step = FaceWidth(track.raw) / std::max(previous_width, 1.0f);
  if (!step.anchor && BeyondFactor(scale_step, kMaxScaleStep)) detect_next_ = true;
  if (step.anchor) RememberBox(track, step.box);
  track.face.box = step.box;
  Smooth(track, step.motion);
  track.motion.Remember(grey, track.face.landmarks68);
  return true;
}

Result<std::optional<FaceTracker::FaceTrack>> FaceTracker::TrackBack(const Detection& detection,
                                                                     std::span<const cv::Mat> earlier,
                                                                     std::size_t offset,
                                                                     std::vector<std::vector<TrackedFace>>& late) {
  // Back, latest frame first, while the detector finds the face near where it was in
  // the frame after, and no face returned there already is it.
  std::vector<Detection> back;
  cv::Rect2f box = detection.box;
  for (std::size_t i = earlier.size(); i-- > 0;) {
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<Detection> near, detector_.DetectNear(earlier[i], box, options_.min_score));
    const auto best = BestMatch(near, box);
    if (!best) break;
    const Detection& found = near[best->first];
    if (AnyMatches(returned_[offset + i], found.box)) break;
    back.push_back(found);
    box = found.box;
  }
  if (back.empty()) return std::optional<FaceTrack>();
  // Forward again from the first frame it shows in, as every track is followed.
  FaceTrack track = NewTrack(back.back());
  const std::size_t first = earlier.size() - back.size();
  for (std::size_t i = first; i < earlier.size(); ++i) {
    const cv::Mat grey = Grey(earlier[i]);
    const std::optional<Step> step = i == first ? Step{back.back().box, true, {}} : Follow(track, grey);
    if (!step) return std::optional<FaceTrack>();
    SWAPLINE_ASSIGN_OR_RETURN(const bool found, Fit(track, earlier[i], grey, *step));
    if (!found) return std::optional<FaceTrack>();
    late[i].push_back({track.id, track.face});
  }
  return std::optional<FaceTrack>(std::move(track));
}

Result<std::pair<FaceTracker::FaceTrack, FaceTracker::Step>> FaceTracker::Begin(
    const Detection& detection, const cv::Mat& grey, std::span<const cv::Mat> earlier, std::size_t offset,
    std::vector<std::vector<TrackedFace>>& late) {
  SWAPLINE_ASSIGN_OR_RETURN(std::optional<FaceTrack> back, TrackBack(detection, earlier, offset, late));
  if (back) {
    if (std::optional<Step> step = Follow(*back, grey)) {
      Confirm(*back, *step, detection, Iou(step->box, detection.box));
      return std::pair(std::move(*back), *step);
    }
  }
  return std::pair(NewTrack(detection), Step{detection.box, true, {}});
}

void FaceTracker::Smooth(FaceTrack& track, const std::optional<cv::Matx23d>& motion) {
  if (!options_.smooth) {
    track.face.landmarks68 = track.raw;
    track.face.landmarks5 = Landmarks5From68(track.raw);
    return;
  }
  const cv::Point2f centre = LandmarkCentre(track.raw);
  const double width = std::max(1.0f, FaceWidth(track.raw));
  if (track.pose_filters.empty()) {
    for (int i = 0; i < 68; ++i) track.reference[i] = track.raw[i] - centre;
    // beta is per unit/s: pixels for positions (hence per face width), and the
    // dimensionless a, b, whose unit change moves points by about a face width.
    const double rate = options_.frame_rate;
    track.pose_filters = {
        OneEuroFilter(rate, options_.pose_min_cutoff_hz, options_.pose_speed_coefficient),
        OneEuroFilter(rate, options_.pose_min_cutoff_hz, options_.pose_speed_coefficient),
        OneEuroFilter(rate, options_.pose_min_cutoff_hz, options_.pose_speed_coefficient / width),
        OneEuroFilter(rate, options_.pose_min_cutoff_hz, options_.pose_speed_coefficient / width)};
    track.shape_filters.assign(
        136, OneEuroFilter(rate, options_.shape_min_cutoff_hz, options_.shape_speed_coefficient / width));
  }
  // Least-squares similarity p = [a -b; b a] r + centre from the reference shape r.
  double rr = 0, dot = 0, cross = 0;
  for (int i = 0; i < 68; ++i) {
    const cv::Point2f& r = track.reference[i];
    const cv::Point2f p = track.raw[i] - centre;
    rr += r.x * r.x + r.y * r.y;
    dot += r.x * p.x + r.y * p.y;
    cross += r.x * p.y - r.y * p.x;
  }
  const double a = dot / rr, b = cross / rr, norm = a * a + b * b;
  // The shape: raw points mapped back into the reference frame.
  Landmarks68 shape;
  for (int i = 0; i < 68; ++i) {
    const cv::Point2f p = track.raw[i] - centre;
    shape[i].x = static_cast<float>(track.shape_filters[2 * i].Filter((a * p.x + b * p.y) / norm));
    shape[i].y = static_cast<float>(track.shape_filters[2 * i + 1].Filter((-b * p.x + a * p.y) / norm));
  }
  cv::Vec4d pose(track.pose_filters[0].Filter(a), track.pose_filters[1].Filter(b),
                 track.pose_filters[2].Filter(centre.x), track.pose_filters[3].Filter(centre.y));
  // Without a measured motion (a track's first frame, a frame the flow lost), the pose
  // is its One Euro filters', which follow the fits all along.
  if (motion && track.pose) {
    // The last pose carried by the pixels' motion, drawn toward this fit's.
    const cv::Matx23d& m = *motion;
    const cv::Vec4d& last = *track.pose;
    const cv::Point2f moved = Moved(m, cv::Point2f(static_cast<float>(last[2]), static_cast<float>(last[3])));
    const cv::Vec4d carried(m(0, 0) * last[0] - m(1, 0) * last[1], m(1, 0) * last[0] + m(0, 0) * last[1], moved.x,
                            moved.y);
    const cv::Vec4d fitted(a, b, centre.x, centre.y);
    // How far apart the two are: in face widths, and in relative scale and turn.
    const double miss = std::hypot(fitted[2] - carried[2], fitted[3] - carried[3]) / width +
                        std::hypot(fitted[0] - carried[0], fitted[1] - carried[1]) /
                            std::max(1e-9, std::hypot(carried[0], carried[1]));
    const double gain = kFitGain + (1 - kFitGain) * std::min(1.0, (miss / kFitMiss) * (miss / kFitMiss));
    pose = carried + gain * (fitted - carried);
  }
  track.pose = pose;
  Landmarks68 smoothed;
  for (int i = 0; i < 68; ++i) {
    smoothed[i].x = static_cast<float>(pose[0] * shape[i].x - pose[1] * shape[i].y + pose[2]);
    smoothed[i].y = static_cast<float>(pose[1] * shape[i].x + pose[0] * shape[i].y + pose[3]);
  }
  track.face.landmarks68 = smoothed;
  track.face.landmarks5 = Landmarks5From68(smoothed);
}

Result<std::vector<TrackedFace>> FaceTracker::Track(const cv::Mat& image, std::span<const cv::Mat> earlier,
                                                    std::vector<std::vector<TrackedFace>>* late) {
  const int interval = std::max(1, options_.detect_interval);
  // Without a look-back to find a new face in the frames it was missed in, a frame with
  // no face tracked is searched at once.
  const bool looks_back = options_.lookback >= interval - 1;
  const bool detect_now = detect_next_ || frame_ % interval == 0 || (tracks_.empty() && !looks_back);
  const bool confirm_now = !detect_now && frame_ % std::max(1, options_.confirm_interval) == 0;
  detect_next_ = false;
  searched_ = detect_now;
  ++frame_;
  if (late == nullptr) earlier = {};
  const auto lookback = static_cast<std::size_t>(std::max(0, options_.lookback));
  earlier = earlier.last(std::min({earlier.size(), returned_.size(), lookback}));
  std::vector<std::vector<TrackedFace>> found_late(earlier.size());

  // Follow every track into this frame from its previous landmarks.
  const cv::Mat grey = Grey(image);
  std::vector<Step> steps;
  for (auto it = tracks_.begin(); it != tracks_.end();) {
    std::optional<Step> step = Follow(*it, grey);
    if (!step) {
      it = tracks_.erase(it);
      continue;
    }
    steps.push_back(*step);
    ++it;
  }

  std::vector<bool> confirmed;
  if (detect_now) {
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<Detection> detections, detector_.Detect(image, options_.min_score));
    const std::size_t known = tracks_.size();
    confirmed.assign(known, false);
    for (const Detection& detection : detections) {
      int best = -1;
      float best_iou = kMatchIou;
      for (std::size_t t = 0; t < known; ++t) {
        const float iou = Iou(steps[t].box, detection.box);
        if (!confirmed[t] && iou >= best_iou) {
          best = static_cast<int>(t);
          best_iou = iou;
        }
      }
      if (best >= 0) {
        const auto t = static_cast<std::size_t>(best);
        Confirm(tracks_[t], steps[t], detection, best_iou);
        confirmed[t] = true;
        continue;
      }
      // A new face: its track starts in the first earlier frame it shows in, if any.
      SWAPLINE_ASSIGN_OR_RETURN(auto begun,
                                Begin(detection, grey, earlier, returned_.size() - earlier.size(), found_late));
      tracks_.push_back(std::move(begun.first));
      steps.push_back(begun.second);
    }
  } else if (confirm_now) {
    SWAPLINE_ASSIGN_OR_RETURN(confirmed, ConfirmNear(image, steps));
  }
  for (std::size_t t = 0; t < confirmed.size(); ++t) {
    if (!confirmed[t]) ++tracks_[t].missed;
  }

  std::vector<TrackedFace> faces;
  std::vector<FaceTrack> kept;
  for (std::size_t t = 0; t < tracks_.size(); ++t) {
    FaceTrack& track = tracks_[t];
    if (track.missed > options_.max_missed_detections) continue;
    SWAPLINE_ASSIGN_OR_RETURN(const bool found, Fit(track, image, grey, steps[t]));
    if (!found) continue;
    faces.push_back({track.id, track.face});
    kept.push_back(std::move(track));
  }
  tracks_ = std::move(kept);

  // What was returned, for the look-back of the frames to come.
  const std::size_t offset = returned_.size() - earlier.size();
  for (std::size_t i = 0; i < found_late.size(); ++i) {
    for (const TrackedFace& f : found_late[i]) returned_[offset + i].push_back(f.face.box);
  }
  std::vector<cv::Rect2f>& now = returned_.emplace_back();
  for (const TrackedFace& f : faces) now.push_back(f.face.box);
  while (returned_.size() > lookback) returned_.pop_front();
  if (late != nullptr) *late = std::move(found_late);
  return faces;
}

Result<std::vector<std::vector<TrackedFace>>> FaceTracker::Finish(std::span<const cv::Mat> frames) {
  std::vector<std::vector<TrackedFace>> late(frames.size());
  if (frames.empty() || returned_.empty() || searched_) return late;
  searched_ = true;
  // The frames of returned_ among them, the last one last.
  const std::size_t n = std::min(frames.size(), returned_.size());
  const std::size_t skip = frames.size() - n;
  const cv::Mat& last = frames.back();
  const cv::Mat grey = Grey(last);
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<Detection> detections, detector_.Detect(last, options_.min_score));
  std::vector<std::vector<TrackedFace>> found(n);
  for (const Detection& detection : detections) {
    if (AnyMatches(returned_.back(), detection.box)) continue;
    SWAPLINE_ASSIGN_OR_RETURN(auto begun,
                              Begin(detection, grey, frames.subspan(skip, n - 1), returned_.size() - n, found));
    SWAPLINE_ASSIGN_OR_RETURN(const bool fitted, Fit(begun.first, last, grey, begun.second));
    if (fitted) found[n - 1].push_back({begun.first.id, begun.first.face});
  }
  for (std::size_t i = 0; i < n; ++i) late[skip + i] = std::move(found[i]);
  return late;
}

}  // namespace swapline::vision
