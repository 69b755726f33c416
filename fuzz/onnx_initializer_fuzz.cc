// Model files: the ONNX initializer reader (inswapper's emap) scans a file it has
// never seen as protobuf wire format. Whatever the bytes, it returns a tensor within
// its size limit or an error, never reading out of bounds.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz/fuzz_target.h"
#include "infer/onnx_initializer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("swapline_fuzz_onnx_" + std::to_string(::getpid()) + ".onnx");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const auto tensor = swapline::infer::ReadLastInitializer(path);
  if (tensor.ok()) {
    FUZZ_CHECK(tensor->type() == CV_32F);
    FUZZ_CHECK(tensor->total() * sizeof(float) <= (256u << 20));
    FUZZ_CHECK(tensor->total() * sizeof(float) <= size * 2 + 64);  // every value came from the file
  }
  return 0;
}
