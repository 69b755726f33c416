// dlib's HOG frontal face detector in its plain serialization (dlib::serialize), 155 kB.
// The definitions are generated at build time by
// src/vision/tools/embed_frontal_face_detector.cc from the dlib the project builds
// against: dlib keeps the detector compressed and decoding it took ~0.4 s of CPU at
// every start; these bytes deserialize in ~3 ms.
#pragma once

#include <cstddef>

namespace swapline::vision {

extern const unsigned char kSerializedFrontalFaceDetector[];
extern const std::size_t kSerializedFrontalFaceDetectorSize;

}  // namespace swapline::vision
