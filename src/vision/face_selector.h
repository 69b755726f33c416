// Face selection: which target faces get swapped, FaceFusion's --face-selector-* options.
//
// SortFaces() orders faces by `order`. SelectFaces() then applies the mode:
//   one        the first face after sorting;
//   many       every face;
//   reference  every face whose identity is within `reference_face_distance` of the
//              reference face, the face at `reference_face_position` of the sorted
//              reference faces. Needs a recognizer: faces must carry embeddings.
// Without a recognizer, reference mode fails with Code::kFailedPrecondition naming
// the missing --face-recognizer-model. Selecting from no faces gives no faces.
//
// Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "vision/face.h"
#include "vision/face_recognizer.h"

namespace swapline::vision {

enum class SelectorMode { kOne, kMany, kReference };
enum class SelectorOrder {
  kLeftRight, kRightLeft, kTopBottom, kBottomTop, kSmallLarge, kLargeSmall, kBestWorst, kWorstBest,
};

Result<SelectorMode> ParseSelectorMode(std::string_view name);
Result<SelectorOrder> ParseSelectorOrder(std::string_view name);

struct FaceSelectorOptions {
  // FaceFusion defaults to reference; swapline embeds no recognizer, so it defaults to
  // many (every face), which needs no model.
  SelectorMode mode = SelectorMode::kMany;
  SelectorOrder order = SelectorOrder::kLargeSmall;
  int reference_face_position = 0;
  // In the recognizer's distance units; unset means its SameIdentityThreshold().
  std::optional<float> reference_face_distance;
};

void SortFaces(std::vector<Face>& faces, SelectorOrder order);

// `reference_faces` are the faces of the reference image (for a still image, the
// target itself). `recognizer` may be null unless mode is reference.
Result<std::vector<Face>> SelectFaces(std::vector<Face> faces, const std::vector<Face>& reference_faces,
                                      const FaceSelectorOptions& options, const FaceRecognizer* recognizer);

}  // namespace swapline::vision
