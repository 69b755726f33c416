#include "vision/shape_forest.h"

#include <cstring>
#include <limits>
#include <string>

#include <dlib/serialize.h>

namespace swapline::vision {
namespace {

// More cascades than any trained model has (dlib's default is 10, its 68-point model 15):
// a count beyond this is a damaged file, not a model to make room for.
constexpr unsigned long kMostCascades = 1000;

Status Refuse(const std::string& why) { return InvalidArgument("not a usable dlib shape predictor: " + why); }

}  // namespace

Result<ShapeForest> ShapeForest::Read(std::istream& in) {
  ShapeForest model;
  try {
    int version = 0;
    dlib::deserialize(version, in);
    if (version != 1) return Refuse("format version " + std::to_string(version) + ", 1 is read");
    dlib::deserialize(model.initial_shape_, in);
    const std::size_t coordinates = static_cast<std::size_t>(model.initial_shape_.size());
    if (coordinates == 0 || coordinates % 2 != 0) return Refuse("its mean shape is not a list of points");
    // dlib writes std::vector<std::vector<regression_tree>> as a count and the cascades:
    // read so, each is laid out and dropped before the next is read.
    unsigned long cascades = 0;
    dlib::deserialize(cascades, in);
    if (cascades == 0 || cascades > kMostCascades) return Refuse(std::to_string(cascades) + " cascades");
    model.cascades_.resize(cascades);
    for (Cascade& cascade : model.cascades_) {
      std::vector<dlib::impl::regression_tree> forest;
      dlib::deserialize(forest, in);
      if (model.trees_ == 0 && !forest.empty()) {
        model.trees_ = forest.size();
        model.splits_ = forest.front().splits.size();
      }
      const std::size_t leaves = model.splits_ + 1;
      if (forest.empty() || forest.size() != model.trees_ || (leaves & model.splits_) != 0) {
        return Refuse("its cascades differ in size or their trees are not full");
      }
      cascade.splits.reserve(model.trees_ * model.splits_);
      cascade.leaves.resize(model.trees_ * leaves * coordinates);
      float* out = cascade.leaves.data();
      for (const dlib::impl::regression_tree& tree : forest) {
        if (tree.splits.size() != model.splits_ || tree.leaf_values.size() != leaves) {
          return Refuse("its trees differ in depth");
        }
        for (const dlib::impl::split_feature& split : tree.splits) {
          if (split.idx1 > std::numeric_limits<std::uint16_t>::max() ||
              split.idx2 > std::numeric_limits<std::uint16_t>::max()) {
            return Refuse("a split reads a feature beyond 65535");
          }
          cascade.splits.push_back(
              {static_cast<std::uint16_t>(split.idx1), static_cast<std::uint16_t>(split.idx2), split.thresh});
        }
        for (const dlib::matrix<float, 0, 1>& leaf : tree.leaf_values) {
          if (static_cast<std::size_t>(leaf.size()) != coordinates) return Refuse("a leaf is not a whole shape");
          std::memcpy(out, &leaf(0), coordinates * sizeof(float));
          out += coordinates;
        }
      }
    }
    std::vector<std::vector<unsigned long>> anchors;
    std::vector<std::vector<dlib::vector<float, 2>>> deltas;
    dlib::deserialize(anchors, in);
    dlib::deserialize(deltas, in);
    if (anchors.size() != cascades || deltas.size() != cascades) return Refuse("its feature lists miss cascades");
    for (std::size_t c = 0; c < cascades; ++c) {
      Cascade& cascade = model.cascades_[c];
      cascade.anchors = std::move(anchors[c]);
      cascade.deltas = std::move(deltas[c]);
      if (cascade.anchors.size() != cascade.deltas.size()) return Refuse("a cascade's features are half given");
      for (unsigned long anchor : cascade.anchors) {
        if (anchor >= model.num_parts()) return Refuse("a feature hangs on a point the shape lacks");
      }
      for (const Split& split : cascade.splits) {
        if (split.first >= cascade.deltas.size() || split.second >= cascade.deltas.size()) {
          return Refuse("a split reads a feature its cascade lacks");
        }
      }
    }
  } catch (const std::exception& e) {
    return Refuse(e.what());
  }
  return model;
}

void ShapeForest::ChooseLeaves(const Cascade& cascade, const std::vector<float>& features,
                               std::vector<std::uint32_t>& chosen) const {
  chosen.resize(trees_);
  const Split* tree = cascade.splits.data();
  for (std::size_t t = 0; t < trees_; ++t, tree += splits_) {
    // dlib's regression_tree::operator(): left child when the difference exceeds the threshold.
    std::size_t node = 0;
    while (node < splits_) {
      const Split& split = tree[node];
      node = features[split.first] - features[split.second] > split.threshold ? 2 * node + 1 : 2 * node + 2;
    }
    chosen[t] = static_cast<std::uint32_t>(node - splits_);
  }
}

}  // namespace swapline::vision
