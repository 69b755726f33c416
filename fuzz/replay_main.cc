// Runs a fuzz target over files and folders given as arguments (the regression run
// of the kept corpus and crash inputs in ordinary builds, which have no libFuzzer).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include "fuzz/fuzz_target.h"

namespace {

int ReplayFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
  if (!in.good() && !in.eof()) {
    std::cerr << "cannot read " << file << "\n";
    return 1;
  }
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg = argv[i];
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
        if (!entry.is_regular_file()) continue;
        if (ReplayFile(entry.path()) != 0) return 1;
        ++files;
      }
    } else {
      if (ReplayFile(arg) != 0) return 1;
      ++files;
    }
  }
  if (files == 0) {
    std::cerr << "no inputs to replay\n";
    return 1;
  }
  std::cout << "replayed " << files << " input(s)\n";
  return 0;
}
