// ShapeForest: dlib's shape predictor (a cascade of regression-tree forests, Kazemi and
// Sullivan 2014) laid out for evaluation.
//
// A fit of the 68-point model adds 7 500 leaves (15 cascades of 500 trees) of 136 floats
// each, chosen by the image. dlib keeps every leaf in a heap block of its own, 120 000
// blocks spread over 65 MB, so nearly each addition waits on a cache and TLB miss. Here
// a cascade's leaves lie in one array, the 16 of a tree together, and a cascade chooses
// all its leaves before it adds any, so the next leaves are fetched while one is added.
//
// Fit() returns exactly what dlib::shape_predictor::operator() returns for the same
// model, image and box: the features are dlib's own code's, the same leaves are added in
// the same order, element by element (tests/vision/shape_forest_test.cc).
//
// Read() takes dlib's file format (version 1) and decodes the trees straight into this
// layout (vision/dlib_decoder.h), the leaves on huge pages (core/huge_page_memory.h).
// dlib's own reading, a heap block per leaf and a virtual call per byte run, took
// ~0.6 s of CPU for the 68-point model; this takes ~0.13 s. A model whose trees are not
// full and alike, whose leaves are not one shape long, or whose indices point outside
// it, is refused with InvalidArgument.
//
// Thread safety: immutable once read; Fit() may run on any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <vector>

#include <dlib/image_processing/shape_predictor.h>

#include "core/huge_page_memory.h"
#include "core/status.h"

namespace swapline::vision {

class ShapeForest {
 public:
  static Result<ShapeForest> Read(std::istream& in);

  std::size_t num_parts() const { return static_cast<std::size_t>(initial_shape_.size()) / 2; }

  // The shape of the object in `box` of `image` (any image dlib's shape predictor takes).
  template <typename Image>
  dlib::full_object_detection Fit(const Image& image, const dlib::rectangle& box) const;

 private:
  // dlib::impl::split_feature, packed: features are per-cascade indices (500 in dlib's models).
  struct Split {
    std::uint16_t first;
    std::uint16_t second;
    float threshold;
  };
  struct Cascade {
    std::vector<unsigned long> anchors;          // the part each feature pixel hangs on (dlib's type)
    std::vector<dlib::vector<float, 2>> deltas;  // its offset from that part, in the mean shape
    std::vector<Split> splits;                   // [tree][node], in heap order
  };

  ShapeForest() = default;

  // The leaf each tree of `cascade` reaches on `features`.
  void ChooseLeaves(const Cascade& cascade, const std::vector<float>& features,
                    std::vector<std::uint32_t>& chosen) const;

  // The floats of one cascade's leaves, and those of cascade `c`: [tree][leaf][coordinate].
  std::size_t CascadeFloats() const;
  const float* Leaves(std::size_t c) const;

  dlib::matrix<float, 0, 1> initial_shape_;  // x0, y0, x1, y1, … in the unit box
  std::vector<Cascade> cascades_;
  HugePageMemory leaves_;  // [cascade][tree][leaf][coordinate] floats: read at random, hence huge pages
  std::size_t trees_ = 0;   // per cascade
  std::size_t splits_ = 0;  // per tree; a tree has splits_ + 1 leaves
};

template <typename Image>
dlib::full_object_detection ShapeForest::Fit(const Image& image, const dlib::rectangle& box) const {
  const std::size_t coordinates = static_cast<std::size_t>(initial_shape_.size());
  const std::size_t leaves_per_tree = splits_ + 1;
  // How many trees ahead a leaf is fetched: far enough to cover a miss, near enough
  // that it is still cached when its turn comes.
  constexpr std::size_t kFetchAhead = 4;
  dlib::matrix<float, 0, 1> shape = initial_shape_;
  std::vector<float> features;
  std::vector<std::uint32_t> chosen;
  for (std::size_t c = 0; c < cascades_.size(); ++c) {
    const Cascade& cascade = cascades_[c];
    dlib::impl::extract_feature_pixel_values(image, box, shape, initial_shape_, cascade.anchors, cascade.deltas, features);
    ChooseLeaves(cascade, features, chosen);
    float* sum = &shape(0);
    const float* leaves = Leaves(c);
    auto leaf = [&](std::size_t tree) { return leaves + (tree * leaves_per_tree + chosen[tree]) * coordinates; };
    for (std::size_t tree = 0; tree < trees_; ++tree) {
      if (tree + kFetchAhead < trees_) {
        const char* next = reinterpret_cast<const char*>(leaf(tree + kFetchAhead));
        for (std::size_t byte = 0; byte < coordinates * sizeof(float); byte += 64) __builtin_prefetch(next + byte);
      }
      const float* values = leaf(tree);
      for (std::size_t i = 0; i < coordinates; ++i) sum[i] += values[i];
    }
  }
  const dlib::point_transform_affine to_image = dlib::impl::unnormalizing_tform(box);
  std::vector<dlib::point> parts(num_parts());
  for (std::size_t i = 0; i < parts.size(); ++i) parts[i] = to_image(dlib::impl::location(shape, i));
  return dlib::full_object_detection(box, parts);
}

}  // namespace swapline::vision
