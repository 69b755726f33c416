// Face enhancer: FaceFusion's face_enhancer processor with GFPGAN (1.2, 1.3, 1.4;
// TencentARC, Apache-2.0), a network that restores a 512 px aligned face. Its weights
// have no published checksum to pin, so users bring them (README: Models you bring).
//
// As FaceFusion runs it, per target face (after the swap when both processors run):
//   crop   the face aligned on its five landmarks to the ffhq_512 template at 512×512,
//          fed as `input` 1×3×512×512 RGB scaled to −1..1;
//   output 1×3×512×512 in −1..1, clipped, back to 0..255 BGR;
//   paste  mapped back into the face's working frame through the inverse alignment,
//          under the crop's box mask (--face-mask-blur, no padding), narrowed by the
//          occlusion mask when --face-mask-types has it, times --face-enhancer-blend
//          / 100 (FaceFusion's default 80): the enhanced face is laid over the frame at
//          that weight.
// The enhancer implements the FaceSwapper interface, the processors' shared one
// (Region, Render to a SwapPatch); it takes no source, so SetSource() is ignored.
//
// Thread safety: one shared network (infer::SharedSession) serves every enhancer.
#pragma once

#include <filesystem>
#include <memory>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "infer/session.h"
#include "vision/face_swapper.h"

namespace swapline::vision {

inline constexpr int kEnhancerSide = 512;

// The enhancer's network, checked: input `input` 1×3×512×512, one output of that shape.
Result<std::shared_ptr<infer::SharedSession>> LoadEnhancerModel(const std::filesystem::path& onnx);

// Uses options.mask (blur; occlusion when its types have it) and options.enhancer_blend.
std::unique_ptr<FaceSwapper> NewFaceEnhancer(std::shared_ptr<infer::SharedSession> model,
                                             const SwapperOptions& options);

}  // namespace swapline::vision
