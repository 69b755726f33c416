// `swapline bench detectors`: which face detector finds which test face, and what
// one detection costs on a 1920x1080 frame.
//
// Runs every detector (HOG at 640 and 960, and each YuNet or BlazeFace model given) on every photo
// of the test data (photos/ and derived/: portraits, tilted, small, partial, two
// faces, no face, letterboxed stills) and prints the faces found at score 0.5. Then
// times one detection on the 1080p still, median of `runs` after a warm-up, with the
// ratio to the default detector (HOG at 640) measured in the same run.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace swapline::bench {

// A detector model from the manifest, resolved by the caller.
struct DetectorModel {
  std::string name;          // "yunet_s_640"
  std::string architecture;  // "yunet" or "blazeface"
  int input_size = 0;        // side of its square input
  std::filesystem::path path;
};

struct DetectorBenchOptions {
  std::filesystem::path testdata;
  std::vector<DetectorModel> models;
  int runs = 20;
};

// Prints the tables to stdout; returns a process exit code.
int RunDetectorBench(const DetectorBenchOptions& options);

}  // namespace swapline::bench
