#include "cli/s3_flags.h"

namespace swapline::cli {

void AddS3Flags(CLI::App* cmd, storage::S3Settings& s, const std::string& prefix) {
  const std::string p = "--" + prefix;
  cmd->add_option(p + "endpoint-url", s.endpoint_url, "S3 endpoint for non-AWS servers (default: AWS_ENDPOINT_URL)");
  cmd->add_option(p + "region", s.region, "S3 region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)");
  cmd->add_option(p + "profile", s.profile, "profile in ~/.aws/credentials and ~/.aws/config");
  cmd->add_option(p + "addressing-style", s.addressing, "S3 addressing: auto, path or virtual")
      ->check(CLI::IsMember({"auto", "path", "virtual"}))
      ->capture_default_str();
  cmd->add_flag(p + "no-verify-ssl", s.no_verify_ssl, "do not verify the S3 endpoint's TLS certificate");
  cmd->add_option(p + "ca-bundle", s.ca_bundle, "PEM file of CA certificates to trust for S3");
  cmd->add_option(p + "connect-timeout", s.connect_timeout_s, "seconds to establish an S3 connection")
      ->capture_default_str();
  cmd->add_option(p + "read-timeout", s.read_timeout_s, "seconds without a byte moving before an S3 request fails")
      ->capture_default_str();
  cmd->add_option(p + "max-attempts", s.max_attempts, "attempts per S3 request, with backoff")
      ->check(CLI::Range(1, 20))
      ->capture_default_str();
  cmd->add_option(p + "part-size", s.part_size, "multipart part size (min 5MiB)")->capture_default_str();
  cmd->add_option(p + "multipart-threshold", s.multipart_threshold, "multipart above this size")->capture_default_str();
  cmd->add_option(p + "resolve", s.resolve, "HOST:PORT:ADDRESS, pin a name to an address (as curl --resolve)");
}

}  // namespace swapline::cli
