// Video jobs: swap a source identity into the faces of every frame of a target video.
//
// One pass, no frames on disk: a decoder thread, a tracking stage (faces followed
// from frame to frame, detection every few frames, landmarks smoothed), N swap workers
// that touch only the face regions, and an encoder that writes frames in order into a
// temporary file renamed into place only when the whole video is done. The target's
// audio is kept (copied when the container allows, trimmed with the video). Frames
// without a selected face pass through unchanged.
//
// Errors from any stage stop the run and are returned; no output is left behind.
//
// Thread safety: one job per engine at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "core/cancellation.h"
#include "core/status.h"
#include "media/video.h"
#include "pipeline/image_job.h"
#include "vision/face_tracker.h"

namespace swapline::pipeline {

struct VideoJobSpec {
  std::vector<std::filesystem::path> sources;
  std::filesystem::path target;
  std::filesystem::path output;

  float face_detector_score = 0.5f;
  vision::FaceSelectorOptions selector;
  vision::SwapperOptions swapper;
  int face_detector_interval = 30;  // frames between detections of the whole frame
  // Reference mode: the reference face is taken from this frame of the target (or the
  // first later frame with faces).
  std::int64_t reference_frame_number = 0;
  bool smooth_landmarks = true;

  std::int64_t trim_frame_start = 0;
  std::optional<std::int64_t> trim_frame_end;  // exclusive
  media::VideoWriterOptions output_video;      // encoder, quality, preset, fps, resolution
  int execution_thread_count = 0;              // swap workers; 0 = one per core
  std::int64_t max_source_pixels = media::kDefaultMaxImagePixels;
};

// Milliseconds spent per stage over the whole job, summed over threads.
struct VideoStageTimes {
  double track_ms = 0;   // detection, landmarks, tracking, selection
  vision::SwapTimings swap;
};

struct VideoJobReport {
  std::filesystem::path output;
  std::filesystem::path source_used;
  std::int64_t frames = 0;
  std::int64_t frames_with_faces = 0;
  std::int64_t swapped_faces = 0;
  double seconds = 0;
  VideoStageTimes stages;
};

Status ValidateVideoJobSpec(const VideoJobSpec& spec);

// Progress of a running job, reported about once per second.
struct VideoProgress {
  std::int64_t frames_done = 0;
  std::int64_t frames_total = 0;  // estimate; 0 when unknown
  double fps = 0;
  double eta_s = 0;
};

// `cancel` (may be null) is polled before each frame: a cancelled job stops with
// Code::kCancelled and leaves no output.
Result<VideoJobReport> RunVideoJob(ImageSwapEngine& engine, const VideoJobSpec& spec,
                                   const std::function<void(const VideoProgress&)>& on_progress = {},
                                   const Cancellation* cancel = nullptr);

}  // namespace swapline::pipeline
