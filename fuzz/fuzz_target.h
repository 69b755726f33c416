// libFuzzer entry point shared by the targets in this folder. Each target defines
// LLVMFuzzerTestOneInput; built with SWAPLINE_FUZZ=ON (clang) it links libFuzzer,
// otherwise replay_main.cc, which runs it over files so the kept corpus and crash
// inputs replay in every build (see fuzz/CMakeLists.txt).
//
// A target aborts (FUZZ_CHECK) when an invariant of the code under test breaks; any
// other way of ending than returning 0 is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

#define FUZZ_CHECK(condition)                                                            \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)

namespace swapline::fuzz {

inline std::string_view AsText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace swapline::fuzz
