#include "vision/shape_forest.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>

#include <dlib/serialize.h>

#include "vision/dlib_decoder.h"

namespace swapline::vision {
namespace {

// More cascades than any trained model has (dlib's default is 10, its 68-point model 15):
// a count beyond this is a damaged file, not a model to make room for.
constexpr unsigned long kMostCascades = 1000;
// Likewise trees per cascade (dlib's default 500) and splits per tree (its default depth
// 5 has 31; 4095 is depth 12); they also keep the layout's size from overflowing.
constexpr unsigned long kMostTrees = 100000;
constexpr unsigned long kMostSplits = 4095;

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
    // dlib writes std::vector<std::vector<regression_tree>> as a count and the cascades,
    // each a count of trees and the trees: a count of splits and the splits (two
    // feature indices and a threshold each), a count of leaves and the leaves (each a
    // column matrix: minus its rows, minus one column, its floats). The leaves are
    // decoded into their place in the layout, on huge pages.
    unsigned long cascades = 0;
    dlib::deserialize(cascades, in);
    if (cascades == 0 || cascades > kMostCascades) return Refuse(std::to_string(cascades) + " cascades");
    model.cascades_.resize(cascades);
    // The first cascade's leaves, read before the room for all of them is taken: a
    // damaged count must not claim gigabytes before the file runs out.
    std::vector<float> first_leaves;
    DlibDecoder decoder(in);
    for (std::size_t c = 0; c < cascades; ++c) {
      Cascade& cascade = model.cascades_[c];
      const auto trees = decoder.Integer<unsigned long>();
      const bool first_cascade = c == 0;
      if (first_cascade) model.trees_ = trees;
      if (trees == 0 || trees > kMostTrees || trees != model.trees_) return Refuse("its cascades differ in size");
      if (!first_cascade) cascade.splits.reserve(trees * model.splits_);
      for (unsigned long t = 0; t < trees; ++t) {
        const auto splits = decoder.Integer<unsigned long>();
        if (first_cascade && t == 0) model.splits_ = splits;
        const std::size_t leaves = model.splits_ + 1;
        if (splits != model.splits_ || splits > kMostSplits || (leaves & model.splits_) != 0) {
          return Refuse("its trees differ in depth or are not full");
        }
        for (unsigned long n = 0; n < splits; ++n) {
          const auto first = decoder.Integer<unsigned long>();
          const auto second = decoder.Integer<unsigned long>();
          const float threshold = decoder.Float();
          if (first > std::numeric_limits<std::uint16_t>::max() || second > std::numeric_limits<std::uint16_t>::max()) {
            return Refuse("a split reads a feature beyond 65535");
          }
          cascade.splits.push_back({static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(second), threshold});
        }
        if (decoder.Integer<unsigned long>() != leaves) return Refuse("its trees differ in depth or are not full");
        const std::size_t tree_floats = leaves * coordinates;
        if (first_cascade) first_leaves.resize((t + 1) * tree_floats);
        float* out = first_cascade ? first_leaves.data() + t * tree_floats
                                   : static_cast<float*>(model.leaves_.data()) + c * model.CascadeFloats() + t * tree_floats;
        for (std::size_t leaf = 0; leaf < leaves; ++leaf) {
          const auto rows = decoder.Integer<long>(), columns = decoder.Integer<long>();
          if (static_cast<std::size_t>(std::abs(rows)) != coordinates || std::abs(columns) != 1) {
            return Refuse("a leaf is not a whole shape");
          }
          for (std::size_t i = 0; i < coordinates; ++i) *out++ = decoder.Float();
        }
      }
      if (first_cascade) {
        // Address space only: pages are given as the leaves are decoded into them.
        model.leaves_ = HugePageMemory(cascades * model.CascadeFloats() * sizeof(float));
        std::copy(first_leaves.begin(), first_leaves.end(), static_cast<float*>(model.leaves_.data()));
        std::vector<float>().swap(first_leaves);
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

std::size_t ShapeForest::CascadeFloats() const {
  return trees_ * (splits_ + 1) * static_cast<std::size_t>(initial_shape_.size());
}

const float* ShapeForest::Leaves(std::size_t c) const {
  return static_cast<const float*>(leaves_.data()) + c * CascadeFloats();
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
