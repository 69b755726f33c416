#include "core/random_text.h"

#include <random>

namespace swapline {

std::string RandomText(std::string_view alphabet, std::size_t length) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string text(length, '\0');
  for (char& c : text) c = alphabet[pick(rng)];
  return text;
}

}  // namespace swapline
