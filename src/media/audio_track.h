// The audio of an output video (internal to media/, used by the writer): the packets
// of the first audio stream of a source file within [start, end), copied packet for
// packet when the output container accepts the codec, re-encoded otherwise (AAC;
// Opus, else Vorbis, for WebM). Other audio, subtitle and data streams are dropped
// with a log line. Times are measured like VideoReader's pts_us: from the source's
// video stream start.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/status.h"

struct AVFormatContext;

namespace swapline::media {

class AudioTrack {
 public:
  virtual ~AudioTrack() = default;

  // Opens `source` and adds the output stream to `out` (before its header is
  // written). Null when `source` has no audio stream.
  static Result<std::unique_ptr<AudioTrack>> Open(const std::filesystem::path& source, std::int64_t start_us,
                                                  std::optional<std::int64_t> end_us, AVFormatContext* out);

  // Writes the packets whose output time is before `limit_us` (video-relative).
  virtual Status PumpUntil(std::int64_t limit_us) = 0;
  // Writes the rest, flushing the encoder when re-encoding.
  virtual Status Finish() = 0;
};

}  // namespace swapline::media
