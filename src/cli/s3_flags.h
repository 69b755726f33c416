// The S3 flags `store`, `serve` and `worker` share, filling storage::S3Settings.
// `prefix` is "" for `store` (--endpoint-url, --ca-bundle, … as the AWS CLI names
// them) and "s3-" for `serve` and `worker` (--s3-endpoint-url, --s3-ca-bundle, …),
// whose other flags are about the queue and the API.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "storage/s3_settings.h"

namespace swapline::cli {

void AddS3Flags(CLI::App* cmd, storage::S3Settings& settings, const std::string& prefix);

}  // namespace swapline::cli
