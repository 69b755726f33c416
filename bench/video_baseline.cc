#include "bench/video_baseline.h"

#include <chrono>

namespace swapline::bench {

Result<TranscodeStats> BareTranscode(const std::filesystem::path& input, const std::filesystem::path& output,
                                     const media::VideoWriterOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  SWAPLINE_ASSIGN_OR_RETURN(auto reader, media::VideoReader::Open(input));
  SWAPLINE_ASSIGN_OR_RETURN(auto writer, media::VideoWriter::Create(output, reader->info(), options));
  TranscodeStats stats;
  media::VideoFrame frame;
  while (true) {
    SWAPLINE_ASSIGN_OR_RETURN(const bool got, reader->Read(frame));
    if (!got) break;
    SWAPLINE_RETURN_IF_ERROR(writer->Write(frame));
    ++stats.frames;
  }
  frame = {};  // release the decoder's buffer before finishing
  SWAPLINE_RETURN_IF_ERROR(writer->Finish());
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stats.fps = stats.seconds > 0 ? static_cast<double>(stats.frames) / stats.seconds : 0;
  return stats;
}

}  // namespace swapline::bench
