#include "vision/face_selector.h"

#include <algorithm>
#include <string>

namespace swapline::vision {

Result<SelectorMode> ParseSelectorMode(std::string_view name) {
  if (name == "one") return SelectorMode::kOne;
  if (name == "many") return SelectorMode::kMany;
  if (name == "reference") return SelectorMode::kReference;
  return InvalidArgument("unknown --face-selector-mode '" + std::string(name) + "' (one, many, reference)");
}

Result<SelectorOrder> ParseSelectorOrder(std::string_view name) {
  if (name == "left-right") return SelectorOrder::kLeftRight;
  if (name == "right-left") return SelectorOrder::kRightLeft;
  if (name == "top-bottom") return SelectorOrder::kTopBottom;
  if (name == "bottom-top") return SelectorOrder::kBottomTop;
  if (name == "small-large") return SelectorOrder::kSmallLarge;
  if (name == "large-small") return SelectorOrder::kLargeSmall;
  if (name == "best-worst") return SelectorOrder::kBestWorst;
  if (name == "worst-best") return SelectorOrder::kWorstBest;
  return InvalidArgument("unknown --face-selector-order '" + std::string(name) +
                         "' (left-right, right-left, top-bottom, bottom-top, small-large, large-small, "
                         "best-worst, worst-best)");
}

void SortFaces(std::vector<Face>& faces, SelectorOrder order) {
  auto by = [&faces](auto key, bool ascending) {
    std::stable_sort(faces.begin(), faces.end(), [&](const Face& a, const Face& b) {
      return ascending ? key(a) < key(b) : key(a) > key(b);
    });
  };
  auto left = [](const Face& f) { return f.box.x; };
  auto top = [](const Face& f) { return f.box.y; };
  auto area = [](const Face& f) { return f.box.area(); };
  auto score = [](const Face& f) { return f.score; };
  switch (order) {
    case SelectorOrder::kLeftRight: by(left, true); break;
    case SelectorOrder::kRightLeft: by(left, false); break;
    case SelectorOrder::kTopBottom: by(top, true); break;
    case SelectorOrder::kBottomTop: by(top, false); break;
    case SelectorOrder::kSmallLarge: by(area, true); break;
    case SelectorOrder::kLargeSmall: by(area, false); break;
    case SelectorOrder::kBestWorst: by(score, false); break;
    case SelectorOrder::kWorstBest: by(score, true); break;
  }
}

Result<std::vector<Face>> SelectFaces(std::vector<Face> faces, const std::vector<Face>& reference_faces,
                                      const FaceSelectorOptions& options, const FaceRecognizer* recognizer) {
  SortFaces(faces, options.order);
  switch (options.mode) {
    case SelectorMode::kMany:
      return faces;
    case SelectorMode::kOne:
      if (faces.size() > 1) faces.resize(1);
      return faces;
    case SelectorMode::kReference:
      break;
  }
  if (recognizer == nullptr) {
    return FailedPrecondition(
        "--face-selector-mode reference compares identities and needs a face recognizer model: pass "
        "--face-recognizer-model PATH (e.g. dlib's face_recognition_densenet_model_v1.dat) or use "
        "--face-selector-mode one|many");
  }
  if (options.reference_face_position < 0) {
    return InvalidArgument("--reference-face-position must be 0 or more");
  }
  std::vector<Face> references = reference_faces;
  SortFaces(references, options.order);
  if (references.empty()) return std::vector<Face>{};
  if (static_cast<std::size_t>(options.reference_face_position) >= references.size()) {
    return InvalidArgument("--reference-face-position " + std::to_string(options.reference_face_position) +
                           " but the reference image has " + std::to_string(references.size()) + " face(s)");
  }
  const Face& reference = references[static_cast<std::size_t>(options.reference_face_position)];
  if (!reference.embedding) return Internal("reference face has no embedding");
  const float max_distance = options.reference_face_distance.value_or(recognizer->SameIdentityThreshold());
  std::vector<Face> selected;
  for (Face& face : faces) {
    if (!face.embedding) return Internal("target face has no embedding");
    if (recognizer->Distance(*face.embedding, *reference.embedding) < max_distance) {
      selected.push_back(std::move(face));
    }
  }
  return selected;
}

}  // namespace swapline::vision
