// `swapline bench image`: warm per-stage times of an image swap at 1920x1080.
//
// Runs decode → detect → landmarks → warp → colour → blend → encode on one target
// (default: the letterboxed 1080p test photo) `runs` times after two warm-up runs,
// and prints median and p90 per stage and in total. The baseline, measured in the
// same run, is a bare decode + encode of the same image; the table ends with the
// ratio of the full swap to it. With a Face Mesh model, its landmarks are timed on
// the same faces in the same runs and shown per face next to dlib's.
#pragma once

#include <filesystem>
#include <optional>

namespace swapline::bench {

struct ImageBenchOptions {
  std::filesystem::path source;
  std::filesystem::path target;
  int runs = 30;
  std::optional<std::filesystem::path> face_mesh;  // the face_mesh model, when installed
};

// Prints the table to stdout; returns a process exit code.
int RunImageBench(const ImageBenchOptions& options);

}  // namespace swapline::bench
