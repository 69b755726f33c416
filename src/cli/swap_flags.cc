#include "cli/swap_flags.h"

#include <type_traits>

namespace swapline::cli {

void AddSwapOptionFlags(CLI::App* cmd, pipeline::SwapOptions& options) {
  for (const pipeline::SwapOptionField& field : pipeline::SwapOptionFields()) {
    const std::string flag = std::string("--") + field.name;
    std::visit(
        [&](auto member) {
          auto& target = options.*member;
          using T = std::decay_t<decltype(target)>;
          if constexpr (std::is_same_v<T, bool>) {
            cmd->add_flag(flag, target, field.help);
          } else {
            CLI::Option* opt = cmd->add_option(flag, target, field.help);
            if constexpr (!std::is_same_v<T, std::vector<std::string>> && !std::is_same_v<T, std::vector<float>> &&
                          !std::is_same_v<T, std::vector<int>>) {
              opt->capture_default_str();
            } else if (field.max_values > 0) {
              opt->expected(field.min_values, field.max_values);
            }
          }
        },
        field.member);
  }
}

std::vector<std::string> GivenSwapOptionNames(const CLI::App* cmd) {
  std::vector<std::string> names;
  for (const pipeline::SwapOptionField& field : pipeline::SwapOptionFields()) {
    const CLI::Option* opt = cmd->get_option_no_throw(std::string("--") + field.name);
    if (opt != nullptr && opt->count() > 0) names.emplace_back(field.name);
  }
  return names;
}

}  // namespace swapline::cli
