// FaceTracker: faces across the frames of a video, steady and cheap.
//
// Track() is fed consecutive frames (8-bit luma or BGR) and returns the faces of each,
// each with a stable track id. Detection, the expensive step (~25 ms for the HOG scan
// of a 960 px frame), runs every `detect_interval` frames and whenever no face is
// tracked, so a face entering the frame is found within `detect_interval` frames. In
// between, each face's landmarks are re-fitted by the landmarker (under 1 ms) in a box
// carried from the last frame by the motion of the face's own pixels (FaceMotion:
// corners followed by optical flow, one similarity fitted to them) while the fit finds
// it within 5 % of its width of the face; else, and where that motion cannot be
// measured, in a box predicted from its previous landmarks, kept in the detector's own
// box convention. While that prediction stays within 1 % of the box's width of the last fit's box (2 %
// in size), that box is kept: a fit's noise is not fed back into the next fit's box,
// so a face holding still is fitted in the same box and stays still. A track that no
// detection confirms for `max_missed_detections` detection rounds is dropped, as is
// one whose predicted box leaves the frame. The landmarker's fit follows its box's
// scale a little, and the box follows the fit, so a fit can run away (eye corners
// sliding onto a glasses frame): a face whose scale jumps between frames has the
// detector look again in the next frame, and a track whose scale has drifted from its
// detection's is re-anchored on it.
//
// Landmarks are smoothed over time. Motion is split first: the pose (a similarity:
// position, scale, rotation, fitted to all 68 points) and the shape (the points in the
// face's own frame: expression, plus most of the landmarker's per-point noise). The
// pose is the last one carried by the pixels' measured motion, drawn part of the way
// toward the new fit: the swapped face moves as the head's pixels do, shake included,
// and a fit's pixels of noise (±4 px on a large face sliding sideways by whole pixels)
// are damped without lag. The shape, and the pose where no motion was measured, are
// smoothed with One Euro filters (Casiez et al. 2012): slow movements are filtered hard
// (no jitter), fast ones lightly (no lag); the shape much harder. Speed sensitivity is
// relative to the face's width, so small and large faces behave the same.
//
// Thread safety: one tracker per video, used by one thread; frames in order.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "vision/face.h"
#include "vision/face_detector.h"
#include "vision/face_landmarker.h"
#include "vision/face_motion.h"

namespace swapline::vision {

struct FaceTrackerOptions {
  float min_score = 0.5f;
  int detect_interval = 5;        // frames between detections
  int max_missed_detections = 1;  // detection rounds a track may go unconfirmed
  double frame_rate = 30.0;
  // One Euro parameters: cutoff (Hz) at rest, and its growth with speed in face
  // widths per second; for the pose, then for the shape. The pose's: a still face
  // passes 60 % of the fit's noise it did at 8 Hz and 2, while a face crossing the frame
  // (3 widths per second) is followed as closely.
  double pose_min_cutoff_hz = 3.0;
  double pose_speed_coefficient = 5.0;
  double shape_min_cutoff_hz = 0.4;
  double shape_speed_coefficient = 0.5;
  bool smooth = true;
};

struct TrackedFace {
  int track_id = 0;
  Face face;
};

// One Euro filter of a scalar signal sampled at a fixed rate.
class OneEuroFilter {
 public:
  OneEuroFilter() = default;
  OneEuroFilter(double rate_hz, double min_cutoff_hz, double beta, double derivative_cutoff_hz = 1.0);
  double Filter(double value);

 private:
  double rate_ = 30, min_cutoff_ = 1, beta_ = 0, derivative_cutoff_ = 1;
  bool initialised_ = false;
  double value_ = 0, derivative_ = 0;
};

class FaceTracker {
 public:
  FaceTracker(FaceDetector& detector, FaceLandmarker& landmarker, const FaceTrackerOptions& options);

  Result<std::vector<TrackedFace>> Track(const cv::Mat& image);

 private:
  struct FaceTrack {
    int id = 0;
    int missed = 0;
    int angle = 0;  // the turn it is marked upright at (its last detection's)
    Face face;            // smoothed, as returned
    Landmarks68 raw{};    // unsmoothed, for prediction
    cv::Point2f box_offset;  // detector box centre - landmark centre, in face widths
    cv::Size2f box_size;     // detector box size, in face widths
    Landmarks68 reference{};             // first landmarks, centred: the shape's own frame
    std::vector<OneEuroFilter> pose_filters;   // a, b (scaled rotation), tx, ty
    std::vector<OneEuroFilter> shape_filters;  // x and y of each landmark in the face's frame
    FaceMotion motion;                    // the pixels' own motion since the last frame
    std::optional<cv::Vec4d> pose;        // the returned pose: a, b, tx, ty
  };

  void StartTrack(const Detection& detection);
  void RememberBox(FaceTrack& track, const cv::Rect2f& box) const;
  cv::Rect2f PredictBox(const FaceTrack& track, const std::optional<cv::Matx23d>& motion) const;
  void Smooth(FaceTrack& track, const std::optional<cv::Matx23d>& motion);

  FaceDetector& detector_;
  FaceLandmarker& landmarker_;
  FaceTrackerOptions options_;
  std::vector<FaceTrack> tracks_;
  std::int64_t frame_ = 0;
  bool detect_next_ = false;  // a face's scale jumped: detect in the next frame
  int next_id_ = 1;
};

}  // namespace swapline::vision
