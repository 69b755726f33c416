// 2DFAN4 landmarker: FaceFusion's default 68-point model (a stacked-hourglass Face
// Alignment Network; MIT). Its weights are not shipped: users bring the file and list
// it in their own manifest with "architecture": "2dfan4" (README: Models you bring).
//
// Model I/O, as FaceFusion feeds it: input `input` 1×3×256×256, BGR / 255 (no channel
// swap) of the face's box scaled so its longer side is 195 px and centred; outputs,
// found by shape because exporters number them: 1×68×3 (x, y on the 64-cell heatmap
// grid, and a confidence) and 1×68×64×64 heatmaps. Points are ×4 in the crop and
// mapped back to image pixels. A crop whose mean lightness is below 30 (of 255) gets
// CLAHE on its lightness first, as FaceFusion does for dark faces.
//
// The heatmap score (the mean of each point's heatmap peak) does not drop a face:
// FaceFusion keeps a face whose score is low (it falls back to landmarks estimated
// from the detector's five points), and a detected face here is never lost for it.
//
// Thread safety: an instance is used by one thread at a time; Clone() loads another
// session of the same file, and a clone whose load fails reports that from Mark().
#pragma once

#include <filesystem>
#include <memory>

#include "core/status.h"
#include "vision/face_landmarker.h"

namespace swapline::vision {

Result<std::unique_ptr<FaceLandmarker>> LoadFan68Landmarker(const std::filesystem::path& onnx);

}  // namespace swapline::vision
