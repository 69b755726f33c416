#include "pipeline/frame_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <random>
#include <span>
#include <thread>

namespace swapline::pipeline {
namespace {

// Emits `count` tiny frames and counts how many are alive at once.
class CountingSource final : public FrameSource {
 public:
  CountingSource(std::int64_t count, std::atomic<int>& alive, std::atomic<int>& peak)
      : count_(count), alive_(alive), peak_(peak) {}
  Result<bool> Next(media::VideoFrame& frame) override {
    if (next_ == count_) return false;
    if (fail_at_ == next_) return UnsupportedInput("decode failed at frame " + std::to_string(next_));
    frame.index = next_++;
    frame.y = cv::Mat(4, 4, CV_8U, cv::Scalar(static_cast<double>(frame.index % 256)));
    const int now = ++alive_;
    int seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
    return true;
  }
  std::int64_t fail_at_ = -1;

 private:
  std::int64_t count_, next_ = 0;
  std::atomic<int>& alive_;
  std::atomic<int>& peak_;
};

// Sleeps a random few ms so workers finish out of order; marks the frame.
class JitterStage final : public FrameStage {
 public:
  explicit JitterStage(int seed, std::int64_t fail_at = -1) : rng_(seed), fail_at_(fail_at) {}
  Status Open() override {
    opened_ = true;
    return Status::Ok();
  }
  Status Process(FrameWork& work) override {
    if (work.frame.index == fail_at_) return Internal("stage failed");
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 2000)(rng_)));
    if (work.faces.empty()) work.faces.resize(1);
    return Status::Ok();
  }
  Status Close() override {
    closed_ = true;
    return Status::Ok();
  }
  bool opened_ = false, closed_ = false;

 private:
  std::mt19937 rng_;
  std::int64_t fail_at_;
};

// The sequential stage: a JitterStage on each frame in order. With a look-back, it
// also adds a face to every frame it is handed back, checking they are the ones just
// before the current frame, oldest first; and one more to each frame held at the end.
class SequentialJitter final : public SequentialStage {
 public:
  explicit SequentialJitter(int seed, std::int64_t fail_at = -1, int lookback = 0)
      : stage_(seed, fail_at), lookback_(lookback) {}
  int Lookback() const override { return lookback_; }
  Status Open() override { return stage_.Open(); }
  Status Process(FrameWork& work, std::span<FrameWork* const> held) override {
    EXPECT_EQ(held.size(), static_cast<std::size_t>(std::min<std::int64_t>(lookback_, work.frame.index)));
    for (std::size_t i = 0; i < held.size(); ++i) {
      EXPECT_EQ(held[i]->frame.index, work.frame.index - static_cast<std::int64_t>(held.size() - i));
      held[i]->faces.emplace_back();
    }
    return stage_.Process(work);
  }
  Status Finish(std::span<FrameWork* const> held) override {
    EXPECT_LE(held.size(), static_cast<std::size_t>(lookback_));
    for (FrameWork* h : held) h->faces.emplace_back();
    return Status::Ok();
  }
  Status Close() override { return stage_.Close(); }
  bool opened() const { return stage_.opened_; }
  bool closed() const { return stage_.closed_; }

 private:
  JitterStage stage_;
  int lookback_;
};

// Checks frames arrive in order, each with the faces the stages gave it: one, plus
// one from each later frame the sequential stage processed while holding it back, and
// one when it was held at the end.
class OrderCheckingSink final : public FrameSink {
 public:
  explicit OrderCheckingSink(std::atomic<int>& alive, std::int64_t frames = 0, int lookback = 0)
      : alive_(alive), frames_(frames), lookback_(lookback) {}
  Status Write(const FrameWork& work) override {
    EXPECT_EQ(work.frame.index, written_);
    const std::int64_t later = std::min<std::int64_t>(lookback_, frames_ - 1 - work.frame.index);
    const bool held_at_end = lookback_ > 0 && frames_ - 1 - work.frame.index < lookback_;
    const std::int64_t expected = 1 + std::max<std::int64_t>(later, 0) + (held_at_end ? 1 : 0);
    EXPECT_EQ(work.faces.size(), static_cast<std::size_t>(expected));
    ++written_;
    --alive_;
    return Status::Ok();
  }
  std::int64_t written_ = 0;

 private:
  std::atomic<int>& alive_;
  std::int64_t frames_;
  int lookback_;
};

TEST(FrameRunnerTest, KeepsOrderAndBoundsFramesInFlight) {
  std::atomic<int> alive{0}, peak{0};
  CountingSource source(500, alive, peak);
  OrderCheckingSink sink(alive);
  SequentialJitter sequential(1);
  std::vector<JitterStage*> workers;
  FrameRunner runner({.workers = 4, .max_in_flight = 10, .on_progress = {}});
  int seed = 2;
  Status status = runner.Run(source, &sequential, [&] {
    auto stage = std::make_unique<JitterStage>(seed++);
    workers.push_back(stage.get());
    return stage;
  }, sink);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(sink.written_, 500);
  EXPECT_LE(peak.load(), 10);
  EXPECT_TRUE(sequential.opened() && sequential.closed());
}

TEST(FrameRunnerTest, SequentialStageRevisesTheFramesItHoldsBack) {
  for (const int lookback : {1, 14}) {
    std::atomic<int> alive{0}, peak{0};
    CountingSource source(300, alive, peak);
    OrderCheckingSink sink(alive, 300, lookback);
    SequentialJitter sequential(1, -1, lookback);
    // Fewer slots than the look-back: the held frames come on top, or the source would wait forever.
    FrameRunner runner({.workers = 2, .max_in_flight = 4, .on_progress = {}});
    Status status = runner.Run(source, &sequential, [] { return std::make_unique<JitterStage>(5); }, sink);
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(sink.written_, 300) << "look-back " << lookback;
    EXPECT_LE(peak.load(), 4 + lookback);
  }
}

TEST(FrameRunnerTest, StageErrorStopsTheRunAndClosesStages) {
  std::atomic<int> alive{0}, peak{0};
  CountingSource source(1000, alive, peak);
  OrderCheckingSink sink(alive);
  SequentialJitter sequential(1, /*fail_at=*/100);
  FrameRunner runner({.workers = 2, .max_in_flight = 6, .on_progress = {}});
  Status status = runner.Run(source, &sequential, [] { return std::make_unique<JitterStage>(3); }, sink);
  EXPECT_EQ(status.code(), Code::kInternal);
  EXPECT_LE(sink.written_, 100);
  EXPECT_TRUE(sequential.closed());
}

TEST(FrameRunnerTest, SourceErrorIsReturned) {
  std::atomic<int> alive{0}, peak{0};
  CountingSource source(1000, alive, peak);
  source.fail_at_ = 50;
  OrderCheckingSink sink(alive);
  FrameRunner runner({.workers = 3, .max_in_flight = 8, .on_progress = {}});
  Status status = runner.Run(source, nullptr, [] { return std::make_unique<JitterStage>(4); }, sink);
  EXPECT_EQ(status.code(), Code::kUnsupportedInput);
  EXPECT_LE(sink.written_, 50);  // frames in flight at the error are dropped
}

}  // namespace
}  // namespace swapline::pipeline
