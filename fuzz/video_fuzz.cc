// Untrusted video containers: probing and the first frames, through the reader the
// pipeline uses (the bytes are handed over as a memory-backed file).
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "fuzz/fuzz_target.h"
#include "media/video.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace m = swapline::media;
  const int fd = ::memfd_create("video", MFD_CLOEXEC);
  FUZZ_CHECK(fd >= 0);
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd, data + written, size - written);
    FUZZ_CHECK(n > 0);
    written += static_cast<std::size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  m::VideoReaderOptions options;
  options.threads = 1;
  options.max_frame_pixels = 1 << 20;
  if (auto reader = m::VideoReader::Open(path, options); reader.ok()) {
    FUZZ_CHECK((*reader)->info().width > 0 && (*reader)->info().height > 0);
    m::VideoFrame frame;
    for (int i = 0; i < 4; ++i) {
      const auto got = (*reader)->Read(frame);
      if (!got.ok() || !*got) break;
      FUZZ_CHECK(frame.y.cols > 0 && frame.y.rows > 0);
    }
  }
  ::close(fd);
  return 0;
}
