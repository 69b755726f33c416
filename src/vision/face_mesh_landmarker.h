// Face Mesh landmarker: MediaPipe Face Mesh (468 points) reduced to the 68 iBUG points,
// a landmarker whose model and training terms allow commercial use (Apache-2.0).
//
// Model: the folded Face Mesh ONNX (models.json `face_mesh`): input `input_1`
// 1×3×192×192 RGB 0..1 face crop; outputs `conv2d_20` 1×1404×1×1 (468 × x, y, z in
// crop pixels) and `conv2d_30` 1×1×1×1 (face-presence logit). Loading checks that
// signature; any other file fails with Code::kFailedPrecondition naming it.
//
// Mark() crops a square around the face and runs the network on it, then again on
// squares re-fitted to the last mesh as MediaPipe's tracking does: the first is
// upright, 1.6 × the detector box's longer side around its centre; each next one is
// 1.5 × the mesh's extent, rotated so that the mesh's eyes lie level. Detectors give
// no roll, and the network underestimates the roll of a rolled crop, so passes repeat
// until the roll moves less than 2° (an upright face takes two passes, one rolled by
// 45° about eight; at most eight). The last mesh is mapped back to image pixels and
// reduced to 68 points through FaceMeshToIbug68(). When the last pass's presence
// logit is negative (probability below 0.5) the box holds no face: Code::kNoFace.
//
// Thread safety: an instance is used by one thread at a time. Clone() loads another
// inference session of the same file (nothing mutable is shared); a clone whose load
// fails reports that error from Mark().
#pragma once

#include <array>
#include <filesystem>
#include <memory>

#include "core/status.h"
#include "vision/face_landmarker.h"

namespace swapline::vision {

// Face Mesh index of each iBUG 68 point (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes,
// 48-67 mouth), as drawn on the canonical Face Mesh topology.
const std::array<int, 68>& FaceMeshToIbug68();

Result<std::unique_ptr<FaceLandmarker>> LoadFaceMeshLandmarker(const std::filesystem::path& onnx);

}  // namespace swapline::vision
