#include "pipeline/frame_pipeline.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "pipeline/bounded_queue.h"

namespace swapline::pipeline {
namespace {

struct Item {
  std::int64_t sequence = 0;
  FrameWork work;
};

// Shared state of one run: the first error, the in-flight budget and the reorder
// buffer in front of the sink.
class RunState {
 public:
  explicit RunState(int max_in_flight) : free_slots_(max_in_flight) {}

  // Records the first error and wakes every waiter.
  void Fail(const Status& status) {
    std::lock_guard lock(mutex_);
    if (error_.ok()) error_ = status;
    stopped_ = true;
    changed_.notify_all();
  }
  void Stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    changed_.notify_all();
  }
  bool stopped() {
    std::lock_guard lock(mutex_);
    return stopped_;
  }
  Status error() {
    std::lock_guard lock(mutex_);
    return error_;
  }

  // Blocks until a frame may enter the pipeline; false once stopped.
  bool AcquireSlot() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return stopped_ || free_slots_ > 0; });
    if (stopped_) return false;
    --free_slots_;
    return true;
  }
  void ReleaseSlot() {
    std::lock_guard lock(mutex_);
    ++free_slots_;
    changed_.notify_all();
  }

  void Finished(Item item) {
    std::lock_guard lock(mutex_);
    done_.emplace(item.sequence, std::move(item));
    changed_.notify_all();
  }
  // Marks the total frame count once the source is exhausted.
  void SourceEnded(std::int64_t total) {
    std::lock_guard lock(mutex_);
    total_ = total;
    changed_.notify_all();
  }
  // The item with `sequence`, in order; nullopt at the end or when stopped.
  std::optional<Item> NextInOrder(std::int64_t sequence) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return stopped_ || done_.count(sequence) > 0 || (total_ && sequence >= *total_); });
    auto it = done_.find(sequence);
    if (stopped_ || it == done_.end()) return std::nullopt;
    Item item = std::move(it->second);
    done_.erase(it);
    return item;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  Status error_;                        // guarded by mutex_
  bool stopped_ = false;                // guarded by mutex_
  int free_slots_;                      // guarded by mutex_
  std::map<std::int64_t, Item> done_;   // guarded by mutex_
  std::optional<std::int64_t> total_;   // guarded by mutex_
};

// Runs Open/Process*/Close of one stage over a queue, as the stage contract says.
void RunStage(FrameStage& stage, BoundedQueue<Item>& input, RunState& state,
              const std::function<void(Item)>& forward) {
  Status status = stage.Open();
  if (!status.ok()) {
    state.Fail(status);
    return;
  }
  while (auto item = input.Pop()) {
    status = stage.Process(item->work);
    if (!status.ok()) {
      state.Fail(status);
      break;
    }
    forward(std::move(*item));
  }
  status = stage.Close();
  if (!status.ok()) state.Fail(status);
}

// The sequential stage's run: each frame goes on once Lookback() later frames have been
// processed, or at the end of the input, after Finish().
void RunSequential(SequentialStage& stage, BoundedQueue<Item>& input, RunState& state, BoundedQueue<Item>& output) {
  Status status = stage.Open();
  if (!status.ok()) {
    state.Fail(status);
    return;
  }
  const auto lookback = static_cast<std::size_t>(std::max(0, stage.Lookback()));
  std::deque<Item> held;
  std::vector<FrameWork*> view;
  while (auto item = input.Pop()) {
    view.clear();
    for (Item& h : held) view.push_back(&h.work);
    status = stage.Process(item->work, view);
    if (!status.ok()) {
      state.Fail(status);
      break;
    }
    held.push_back(std::move(*item));
    if (held.size() > lookback) {
      output.Push(std::move(held.front()));
      held.pop_front();
    }
  }
  if (status.ok() && !state.stopped()) {
    view.clear();
    for (Item& h : held) view.push_back(&h.work);
    status = stage.Finish(view);
    if (status.ok()) {
      for (Item& h : held) output.Push(std::move(h));
    } else {
      state.Fail(status);
    }
  }
  status = stage.Close();
  if (!status.ok()) state.Fail(status);
}

}  // namespace

Status FrameRunner::Run(FrameSource& source, SequentialStage* sequential,
                        const std::function<std::unique_ptr<FrameStage>()>& make_worker, FrameSink& sink) {
  const int workers = std::max(1, options_.workers);
  // Frames held for the sequential stage's look-back come on top: without them the
  // source would wait for a slot the held frames never free.
  const int lookback = sequential ? std::max(0, sequential->Lookback()) : 0;
  RunState state(std::max(options_.max_in_flight, workers + 1) + lookback);
  BoundedQueue<Item> to_sequential(static_cast<std::size_t>(workers));
  BoundedQueue<Item> to_workers(static_cast<std::size_t>(workers) * 2);

  std::vector<std::unique_ptr<FrameStage>> worker_stages;
  for (int i = 0; i < workers; ++i) worker_stages.push_back(make_worker());

  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    std::int64_t sequence = 0;
    while (state.AcquireSlot()) {
      Item item;
      auto more = source.Next(item.work.frame);
      if (!more.ok()) {
        state.Fail(more.status());
        break;
      }
      if (!*more) {
        state.ReleaseSlot();
        break;
      }
      item.sequence = sequence++;
      if (!to_sequential.Push(std::move(item))) break;
    }
    state.SourceEnded(sequence);
    to_sequential.Close();
  });
  threads.emplace_back([&] {
    if (sequential) {
      RunSequential(*sequential, to_sequential, state, to_workers);
    } else {
      while (auto item = to_sequential.Pop()) to_workers.Push(std::move(*item));
    }
    to_workers.Close();
  });
  for (auto& stage : worker_stages) {
    threads.emplace_back([&, s = stage.get()] {
      RunStage(*s, to_workers, state, [&](Item item) { state.Finished(std::move(item)); });
    });
  }

  // The sink runs here, writing strictly in order.
  std::int64_t written = 0;
  while (auto item = state.NextInOrder(written)) {
    Status status = sink.Write(item->work);
    if (!status.ok()) {
      state.Fail(status);
      break;
    }
    ++written;
    state.ReleaseSlot();
    if (options_.on_progress) options_.on_progress(written);
  }
  // Whatever ended the loop, let every thread finish.
  state.Stop();
  to_sequential.Close();
  to_workers.Close();
  for (auto& t : threads) t.join();
  return state.error();
}

}  // namespace swapline::pipeline
