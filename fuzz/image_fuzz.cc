// Untrusted images: header probing, then decoding under a pixel limit small enough
// that every input decodes in milliseconds.
#include <span>

#include "fuzz/fuzz_target.h"
#include "media/image_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace m = swapline::media;
  const std::span<const std::uint8_t> bytes(data, size);
  m::ReadSyntheticMark(bytes);
  const auto info = m::ProbeImage(bytes);
  const auto image = m::DecodeImage(bytes, "fuzz", 1 << 20);
  if (image.ok()) {
    FUZZ_CHECK(info.ok());
    FUZZ_CHECK(m::PixelCount(image->size()) <= (1 << 20));
    FUZZ_CHECK(image->type() == CV_8UC3);
  }
  return 0;
}
