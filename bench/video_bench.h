// `swapline bench video`: the swap pipeline against a bare transcode of the same video.
//
// For each preset (ultrafast, medium) on the 1920x1080 test video: (a) bare decode +
// encode through the same reader, writer and encoder settings, (b) the full swap
// pipeline; prints both FPS and the ratio b/a, and the per-stage cost of the first
// ultrafast swap (ms per frame); with several rounds, a row for each and their
// medians. Then the same swap on a 4x longer concatenation of the clip, with peak RSS
// after each, to show memory stays flat.
// With face models given (`--models-dir` holding YuNet and Face Mesh), the ultrafast
// swap again with each chain of detector and landmarker, against HOG + dlib's.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/image_job.h"

namespace swapline::bench {

// A detector and landmarker to time the swap with.
struct FaceModelChain {
  std::string name;  // "yunet 640 + face_mesh"
  int detect_side = 0;
  pipeline::FaceModelPaths models;
};

struct VideoBenchOptions {
  std::filesystem::path source;
  std::filesystem::path video;
  bool long_run = true;  // also the 4x concatenation
  int rounds = 1;         // transcode-and-swap rounds per preset; several print medians
  std::vector<FaceModelChain> chains;
};

int RunVideoBench(const VideoBenchOptions& options);

}  // namespace swapline::bench
