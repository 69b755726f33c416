// RecentlyUsed: a small most-recently-used cache kept in a vector.
//
// For caches of a handful of entries (a swapper's face geometries, sharpened source
// textures, the box masks of the settings in use), where a linear search costs less
// than hashing a key and the entries are large. `kept` holds the most recently used
// entry first; the caller owns it and, where threads share it, locks around the call.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace swapline {

// The entry of `kept` that `same` accepts, moved to the front; without one, what
// `make` returns is put there, and beyond `capacity` the least recently used entry
// goes. `reused`, when given, says which happened. The reference stays valid until
// the next call on `kept`.
template <typename T, typename Same, typename Make>
T& RecentlyUsed(std::vector<T>& kept, std::size_t capacity, Same same, Make make, bool* reused = nullptr) {
  const auto found = std::find_if(kept.begin(), kept.end(), same);
  if (reused) *reused = found != kept.end();
  if (found != kept.end()) {
    std::rotate(kept.begin(), found, found + 1);
    return kept.front();
  }
  if (kept.size() == capacity) kept.pop_back();
  kept.insert(kept.begin(), make());
  return kept.front();
}

}  // namespace swapline
