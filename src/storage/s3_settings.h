// S3 settings as a person gives them on the command line (`store`, `serve` and
// `worker` take the same ones), with the AWS CLI's environment defaults, and their
// translation into S3Options.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/s3_store.h"

namespace swapline::storage {

struct S3Settings {
  std::string endpoint_url;       // "": $AWS_ENDPOINT_URL, else AWS
  std::string region;             // "": $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1
  std::string profile;            // "": $AWS_PROFILE, then "default"
  std::string addressing = "auto";  // auto, path or virtual
  bool no_verify_ssl = false;
  std::string ca_bundle;          // PEM file; "": the system store
  double connect_timeout_s = 10;
  double read_timeout_s = 60;
  std::vector<std::string> resolve;  // HOST:PORT:ADDRESS, as curl --resolve
  int max_attempts = 5;
  // Transfers (defaults of the AWS CLI).
  std::string part_size = "8MiB";
  std::string multipart_threshold = "8MiB";
  int concurrency = 10;
};

// kInvalidArgument naming the setting for a bad addressing style or size.
Result<S3Options> MakeS3Options(const S3Settings& settings);

// "8MiB", "5M", "1048576" → bytes (K, M, G with or without "iB"; powers of 1024).
Result<std::uint64_t> ParseSize(const std::string& text);

}  // namespace swapline::storage
