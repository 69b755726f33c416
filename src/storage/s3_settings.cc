#include "storage/s3_settings.h"

#include <algorithm>
#include <chrono>

#include "core/env.h"

namespace swapline::storage {

Result<std::uint64_t> ParseSize(const std::string& text) {
  std::size_t used = 0;
  double number = 0;
  try {
    number = std::stod(text, &used);
  } catch (const std::exception&) {
    return InvalidArgument("'" + text + "' is not a size (e.g. 8MiB)");
  }
  std::string unit = text.substr(used);
  if (!unit.empty() && unit.back() == 'B') unit.pop_back();
  if (!unit.empty() && unit.back() == 'i') unit.pop_back();
  const std::uint64_t scale = unit.empty() ? 1 : unit == "K" || unit == "k" ? 1ull << 10
                              : unit == "M" ? 1ull << 20 : unit == "G" ? 1ull << 30 : 0;
  if (scale == 0 || number < 0) return InvalidArgument("'" + text + "' is not a size (e.g. 8MiB)");
  return static_cast<std::uint64_t>(number * static_cast<double>(scale));
}

Result<S3Options> MakeS3Options(const S3Settings& settings) {
  S3Options options;
  options.endpoint_url = settings.endpoint_url.empty() ? EnvOr("AWS_ENDPOINT_URL", "") : settings.endpoint_url;
  options.region = !settings.region.empty() ? settings.region
                                            : EnvOr("AWS_REGION", EnvOr("AWS_DEFAULT_REGION", "us-east-1"));
  options.credentials.profile = settings.profile;
  options.credentials.region = options.region;
  if (settings.addressing == "path") {
    options.addressing = S3Options::Addressing::kPath;
  } else if (settings.addressing == "virtual") {
    options.addressing = S3Options::Addressing::kVirtualHosted;
  } else if (settings.addressing == "auto") {
    options.addressing = S3Options::Addressing::kAuto;
  } else {
    return InvalidArgument("addressing style '" + settings.addressing + "': expected auto, path or virtual");
  }
  options.http.verify_tls = !settings.no_verify_ssl;
  options.http.ca_bundle = settings.ca_bundle;
  options.http.connect_timeout =
      std::chrono::milliseconds(static_cast<std::int64_t>(settings.connect_timeout_s * 1000));
  options.http.read_timeout =
      std::chrono::seconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(settings.read_timeout_s)));
  options.http.resolve = settings.resolve;
  auto part_size = ParseSize(settings.part_size);
  if (!part_size.ok()) return part_size.status().WithContext("part size");
  options.part_size = *part_size;
  auto threshold = ParseSize(settings.multipart_threshold);
  if (!threshold.ok()) return threshold.status().WithContext("multipart threshold");
  options.multipart_threshold = *threshold;
  options.concurrency = settings.concurrency;
  options.max_attempts = settings.max_attempts;
  return options;
}

}  // namespace swapline::storage
