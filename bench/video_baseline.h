// Baseline for `swapline bench video`: a bare decode + encode of a video through the
// same VideoReader/VideoWriter (and so the same encoder settings) the swap pipeline
// uses, with no face work. The swap's FPS is reported as a ratio to this one.
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/status.h"
#include "media/video.h"

namespace swapline::bench {

struct TranscodeStats {
  std::int64_t frames = 0;  // frames read and written
  double seconds = 0;       // wall time from opening the input to the output's rename
  double fps = 0;           // frames / seconds
};

// Decodes every frame of `input` on one thread and encodes it into `output` with
// `options` (audio, if any, as options.audio_source says). Decoder threads: auto.
Result<TranscodeStats> BareTranscode(const std::filesystem::path& input, const std::filesystem::path& output,
                                     const media::VideoWriterOptions& options);

}  // namespace swapline::bench
