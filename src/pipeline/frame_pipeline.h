// FrameRunner: the ordered, bounded, multi-threaded frame pipeline.
//
//   source ──► sequential stage ──► N parallel workers ──► in-order sink
//   (decode)   (tracking: needs      (face processing,      (encode)
//              frames in order)      any order)
//
// Each stage follows one contract (as MediaPipe's calculators): Open() once before
// the first frame; Process() per frame; Close() once after the last frame, and only
// if Open() succeeded, also after an error. The sequential stage sees frames in index
// order on one thread; each parallel worker has its own stage instance (made by the
// factory) and sees frames in any order; the sink receives frames strictly in index
// order. Queues are bounded and at most `max_in_flight` frames, plus the sequential
// stage's look-back, exist between source and sink, so memory does not grow with video
// length.
//
// The sequential stage may look back: it declares how many frames before the current
// one it may still revise (Lookback()). The runner holds each frame that many frames
// after the stage processed it before passing it on, and hands the frames it holds to
// each Process(), oldest first, so what the stage learns late (a face found now that
// was already in the frames before) still reaches them. At the end of the input the
// stage has them once more (Finish()) before they go on.
//
// The first error from any stage (or the source) stops all stages and is returned;
// a source that sees a cancellation returns Code::kCancelled, which stops the run the
// same way. Stages run on the runner's threads and must not throw.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "media/video.h"
#include "vision/face.h"

namespace swapline::pipeline {

// One frame and what the stages learned about it.
struct FrameWork {
  media::VideoFrame frame;
  std::vector<vision::Face> faces;  // faces to process, in the frame's pixels
};

class FrameStage {
 public:
  virtual ~FrameStage() = default;
  virtual Status Open() { return Status::Ok(); }
  virtual Status Process(FrameWork& work) = 0;
  virtual Status Close() { return Status::Ok(); }
};

class SequentialStage {
 public:
  virtual ~SequentialStage() = default;
  // Frames before the current one that Process() may revise; fixed for the run.
  virtual int Lookback() const { return 0; }
  virtual Status Open() { return Status::Ok(); }
  // `held`: the up to Lookback() frames before `work` not yet passed on, oldest first;
  // their `faces` may be revised.
  virtual Status Process(FrameWork& work, std::span<FrameWork* const> held) = 0;
  // After the last frame, when the input ended without an error: the frames still
  // held, the last one last, for a final revision.
  virtual Status Finish(std::span<FrameWork* const> /*held*/) { return Status::Ok(); }
  virtual Status Close() { return Status::Ok(); }
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // Next frame; false at the end.
  virtual Result<bool> Next(media::VideoFrame& frame) = 0;
};

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual Status Write(const FrameWork& work) = 0;
};

struct FrameRunnerOptions {
  int workers = 2;
  int max_in_flight = 8;  // frames between source and sink, besides those held for look-back
  // Called from the sink thread after each frame is written.
  std::function<void(std::int64_t frames_written)> on_progress;
};

class FrameRunner {
 public:
  explicit FrameRunner(FrameRunnerOptions options) : options_(std::move(options)) {}

  // `sequential` may be null. `make_worker` is called once per worker.
  Status Run(FrameSource& source, SequentialStage* sequential,
             const std::function<std::unique_ptr<FrameStage>()>& make_worker, FrameSink& sink);

 private:
  FrameRunnerOptions options_;
};

}  // namespace swapline::pipeline
