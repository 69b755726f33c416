// AWS credentials and the chain that finds them, in the AWS SDKs' order:
//   1. explicit options (--access-key-id/--secret-access-key[/--session-token])
//   2. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
//   3. shared files: ~/.aws/credentials then ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE,
//      AWS_CONFIG_FILE), profile from the option, AWS_PROFILE, or "default"
//   4. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME)
//      exchanged at STS (AssumeRoleWithWebIdentity) and refreshed 5 minutes before
//      they expire; the token file is re-read each time (Kubernetes rotates it).
// The first source that has credentials wins and is kept.
//
// Secrets (secret key, session token, web identity token) never appear in a
// Status message or a log line; Credentials has no printing support on purpose.
//
// Thread safety: a CredentialsProvider may be used from many threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"

namespace swapline::storage {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
  std::optional<std::chrono::system_clock::time_point> expiration;
  std::string source;  // "explicit", "environment", "profile NAME", "web identity": for messages
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Current credentials; kFailedPrecondition when no source has any.
  virtual Result<Credentials> Get() = 0;
};

struct CredentialsOptions {
  std::string access_key_id;      // explicit keys, both or neither
  std::string secret_access_key;
  std::string session_token;
  std::string profile;            // empty: AWS_PROFILE, then "default"
  std::string region = "us-east-1";  // for the STS endpoint
  std::string sts_endpoint;       // empty: AWS_ENDPOINT_URL_STS, then https://sts.REGION.amazonaws.com
  bool verify_tls = true;
  std::string ca_bundle;
};

// Reads an environment variable; tests substitute their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

std::unique_ptr<CredentialsProvider> NewCredentialsChain(const CredentialsOptions& options,
                                                         EnvLookup env = {});

// Parses an STS AssumeRoleWithWebIdentity (or AssumeRole) response document.
Result<Credentials> ParseStsCredentials(const std::string& xml);

}  // namespace swapline::storage
