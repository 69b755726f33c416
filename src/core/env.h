// Environment variables read as settings.
#pragma once

#include <string>

namespace swapline {

// The value of environment variable `name`, or `fallback` when it is unset or empty.
std::string EnvOr(const char* name, const std::string& fallback);

}  // namespace swapline
