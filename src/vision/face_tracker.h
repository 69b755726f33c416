// FaceTracker: faces across the frames of a video, steady and cheap.
//
// Track() is fed consecutive frames (8-bit luma or BGR) and returns the faces of each,
// each with a stable track id. Detection of the whole frame, the expensive step (~40 ms
// for the HOG scan of a 960 px frame), runs every `detect_interval` frames. A face it
// finds may have been in the frames before: the caller may hand Track() the frames
// before the current one it can still revise (up to `lookback`, e.g. frames not yet
// encoded), and the face is followed back into them for as long as the detector finds
// it near its box there (FaceDetector::DetectNear, a few percent of a whole scan). Its
// track starts in the first of them and is followed forward as any other, its faces
// there returned as late faces. With a look-back of `detect_interval` - 1 frames, a
// face is found from the frame it first shows in (Finish() searches the last frame);
// with less, a face appearing while none is tracked has the detector look in every
// frame, so it is found within `detect_interval` - `lookback` frames.
//
// Between detections, each face's landmarks are re-fitted by the landmarker (under 1
// ms) in a box carried from the last frame by the motion of the face's own pixels
// (FaceMotion: corners followed by optical flow, one similarity fitted to them) while
// the fit finds it within 5 % of its width of the face; else, and where that motion
// cannot be measured, in a box predicted from its previous landmarks, kept in the
// detector's own box convention. While that prediction stays within 1 % of the box's
// width of the last fit's box (2 % in size), that box is kept: a fit's noise is not fed
// back into the next fit's box, so a face holding still is fitted in the same box and
// stays still. Every `confirm_interval` frames each track is checked by a detection
// (near its box, or the whole frame's when one runs). A track that no detection
// confirms for `max_missed_detections` checks in a row is dropped, as is one whose
// predicted box leaves the frame. The landmarker's fit follows its box's scale a
// little, and the box follows the fit, so a fit can run away (eye corners sliding onto
// a glasses frame): a face whose scale jumps between frames has the detector look
// again in the next frame, and a track whose scale has drifted from its detection's is
// re-anchored on it.
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
#include <deque>
#include <optional>
#include <span>
#include <utility>
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
  int detect_interval = 5;        // frames between detections of the whole frame
  int lookback = 0;               // earlier frames the caller hands Track(), at most
  int confirm_interval = 5;       // frames between the checks of each track
  int max_missed_detections = 1;  // checks in a row a track may go unconfirmed
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

  // The faces of `image`, the next frame. `earlier`: the frames just before it that
  // may still be revised, oldest first, at most `lookback`; with `late` given, the
  // faces of new tracks followed back into them, one list per frame of `earlier`.
  Result<std::vector<TrackedFace>> Track(const cv::Mat& image, std::span<const cv::Mat> earlier = {},
                                         std::vector<std::vector<TrackedFace>>* late = nullptr);

  // After the last frame: searches it once more, unless Track() just did, for faces
  // not returned yet, each followed back as Track() follows a new face. `frames`: the
  // frames that may still be revised, the last one last. The faces found, one list
  // per frame of `frames`.
  Result<std::vector<std::vector<TrackedFace>>> Finish(std::span<const cv::Mat> frames);

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

  // A track's way into a frame: its box there, whether a detection (re)defined it,
  // and the motion of its pixels since the frame before.
  struct Step {
    cv::Rect2f box;
    bool anchor = false;
    std::optional<cv::Matx23d> motion;
  };

  FaceTrack NewTrack(const Detection& detection);
  // `track` carried into the frame `grey`; nullopt when its box leaves the frame.
  std::optional<Step> Follow(FaceTrack& track, const cv::Mat& grey) const;
  // `detection` confirms `track`, whose box `step` overlaps it by `iou`.
  static void Confirm(FaceTrack& track, Step& step, const Detection& detection, float iou);
  // Whether a detection near each track confirms it.
  Result<std::vector<bool>> ConfirmNear(const cv::Mat& image, std::vector<Step>& steps);
  // `track`'s landmarks fitted in `step`'s box of `image`; false when the face has gone.
  Result<bool> Fit(FaceTrack& track, const cv::Mat& image, const cv::Mat& grey, const Step& step);
  // The new face `detection` followed back into `earlier` (the frames of returned_,
  // from `offset` on) and forward again; its faces there go to `late`. The track ready
  // for the frame after them, or nullopt when the face is not found in the one before.
  Result<std::optional<FaceTrack>> TrackBack(const Detection& detection, std::span<const cv::Mat> earlier,
                                             std::size_t offset, std::vector<std::vector<TrackedFace>>& late);
  // A track for the new face `detection` in the frame `grey`, and its step there:
  // begun in `earlier` where it shows there (TrackBack).
  Result<std::pair<FaceTrack, Step>> Begin(const Detection& detection, const cv::Mat& grey,
                                           std::span<const cv::Mat> earlier, std::size_t offset,
                                           std::vector<std::vector<TrackedFace>>& late);
  void RememberBox(FaceTrack& track, const cv::Rect2f& box) const;
  cv::Rect2f PredictBox(const FaceTrack& track, const std::optional<cv::Matx23d>& motion) const;
  void Smooth(FaceTrack& track, const std::optional<cv::Matx23d>& motion);

  FaceDetector& detector_;
  FaceLandmarker& landmarker_;
  FaceTrackerOptions options_;
  std::vector<FaceTrack> tracks_;
  // The boxes of the faces returned for the last `lookback` frames, oldest first: a
  // face followed back stops where one is already.
  std::deque<std::vector<cv::Rect2f>> returned_;
  std::int64_t frame_ = 0;
  bool searched_ = false;     // the last frame was searched whole
  bool detect_next_ = false;  // a face's scale jumped: detect in the next frame
  int next_id_ = 1;
};

}  // namespace swapline::vision
