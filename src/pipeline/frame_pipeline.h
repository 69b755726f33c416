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
// order. Queues are bounded and at most `max_in_flight` frames exist between source
// and sink, so memory does not grow with video length.
//
// The first error from any stage (or the source) stops all stages and is returned;
// a source that sees a cancellation returns Code::kCancelled, which stops the run the
// same way. Stages run on the runner's threads and must not throw.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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
  int max_in_flight = 8;  // frames between source and sink
  // Called from the sink thread after each frame is written.
  std::function<void(std::int64_t frames_written)> on_progress;
};

class FrameRunner {
 public:
  explicit FrameRunner(FrameRunnerOptions options) : options_(std::move(options)) {}

  // `sequential` may be null. `make_worker` is called once per worker.
  Status Run(FrameSource& source, FrameStage* sequential,
             const std::function<std::unique_ptr<FrameStage>()>& make_worker, FrameSink& sink);

 private:
  FrameRunnerOptions options_;
};

}  // namespace swapline::pipeline
