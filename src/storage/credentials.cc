#include "storage/credentials.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <pugixml.hpp>

#include "core/time_text.h"
#include "storage/http_client.h"
#include "storage/s3_xml.h"

namespace swapline::storage {
namespace {

using IniSections = std::map<std::string, std::map<std::string, std::string>>;

std::string Trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

// The AWS shared-file INI dialect: [section], key = value, # or ; comments.
IniSections ReadIni(const std::string& path) {
  IniSections sections;
  std::ifstream in(path);
  std::string line, section;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(line.substr(1, line.size() - 2));
      continue;
    }
    const auto eq = line.find('=');
    if (eq != std::string::npos && !section.empty()) {
      sections[section][Trim(line.substr(0, eq))] = Trim(line.substr(eq + 1));
    }
  }
  return sections;
}

class ChainProvider final : public CredentialsProvider {
 public:
  ChainProvider(CredentialsOptions options, EnvLookup env)
      : options_(std::move(options)), env_(std::move(env)) {}

  Result<Credentials> Get() override {
    std::lock_guard lock(mutex_);
    if (cached_ && !ExpiresSoon(*cached_)) return *cached_;
    Result<Credentials> found = Find();
    if (!found.ok()) return found.status();
    cached_ = *found;
    return found;
  }

 private:
  static bool ExpiresSoon(const Credentials& credentials) {
    return credentials.expiration &&
           *credentials.expiration - std::chrono::minutes(5) < std::chrono::system_clock::now();
  }

  std::string Env(const std::string& name) const {
    const std::optional<std::string> value = env_(name);
    return value ? *value : std::string();
  }

  Result<Credentials> Find() {
    if (!options_.access_key_id.empty() || !options_.secret_access_key.empty()) {
      if (options_.access_key_id.empty() || options_.secret_access_key.empty()) {
        return InvalidArgument("give both the access key id and the secret access key, or neither");
      }
      return Credentials{options_.access_key_id, options_.secret_access_key,
                         options_.session_token, std::nullopt, "explicit"};
    }
    if (!Env("AWS_ACCESS_KEY_ID").empty() && !Env("AWS_SECRET_ACCESS_KEY").empty()) {
      return Credentials{Env("AWS_ACCESS_KEY_ID"), Env("AWS_SECRET_ACCESS_KEY"),
                         Env("AWS_SESSION_TOKEN"), std::nullopt, "environment"};
    }
    std::optional<Credentials> from_files = FromSharedFiles();
    if (from_files) return *from_files;
    if (!Env("AWS_WEB_IDENTITY_TOKEN_FILE").empty() && !Env("AWS_ROLE_ARN").empty()) {
      return FromWebIdentity();
    }
    return FailedPrecondition(
        "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, give a "
        "profile in ~/.aws/credentials (AWS_PROFILE), or AWS_WEB_IDENTITY_TOKEN_FILE and "
        "AWS_ROLE_ARN");
  }

  std::optional<Credentials> FromSharedFiles() const {
    std::string profile = options_.profile;
    if (profile.empty()) profile = Env("AWS_PROFILE");
    if (profile.empty()) profile = "default";
    const std::string home = Env("HOME");
    std::string credentials_file = Env("AWS_SHARED_CREDENTIALS_FILE");
    if (credentials_file.empty() && !home.empty()) credentials_file = home + "/.aws/credentials";
    std::string config_file = Env("AWS_CONFIG_FILE");
    if (config_file.empty() && !home.empty()) config_file = home + "/.aws/config";

    // In the config file every profile but "default" is spelled "[profile NAME]".
    const std::pair<std::string, std::string> places[] = {
        {credentials_file, profile},
        {config_file, profile == "default" ? profile : "profile " + profile}};
    for (const auto& [file, section_name] : places) {
      if (file.empty()) continue;
      const IniSections sections = ReadIni(file);
      const auto section = sections.find(section_name);
      if (section == sections.end()) continue;
      const auto& values = section->second;
      const auto key = values.find("aws_access_key_id");
      const auto secret = values.find("aws_secret_access_key");
      if (key == values.end() || secret == values.end()) continue;
      const auto token = values.find("aws_session_token");
      return Credentials{key->second, secret->second,
                         token == values.end() ? std::string() : token->second, std::nullopt,
                         "profile " + profile};
    }
    return std::nullopt;
  }

  Result<Credentials> FromWebIdentity() {
    const std::string token_file = Env("AWS_WEB_IDENTITY_TOKEN_FILE");
    std::ifstream in(token_file);
    if (!in) return PermissionDenied("cannot read the web identity token file '" + token_file + "'");
    std::stringstream token;
    token << in.rdbuf();
    std::string session_name = Env("AWS_ROLE_SESSION_NAME");
    if (session_name.empty()) session_name = "swapline";
    std::string endpoint = options_.sts_endpoint;
    if (endpoint.empty()) endpoint = Env("AWS_ENDPOINT_URL_STS");
    if (endpoint.empty()) endpoint = "https://sts." + options_.region + ".amazonaws.com";

    const std::string form = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&" +
                             CanonicalQueryString({{"RoleArn", Env("AWS_ROLE_ARN")},
                                                   {"RoleSessionName", session_name},
                                                   {"WebIdentityToken", Trim(token.str())}});
    HttpOptions http_options;
    http_options.verify_tls = options_.verify_tls;
    http_options.ca_bundle = options_.ca_bundle;
    HttpClient http(http_options);
    HttpRequest request;
    request.method = "POST";
    request.url = endpoint + "/";
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    request.body = AsBytes(form);
    SWAPLINE_ASSIGN_OR_RETURN(HttpResponse response, http.Send(request));
    if (response.status != 200) {
      const S3Error error = ParseS3Error(response.body);
      return PermissionDenied("STS AssumeRoleWithWebIdentity for role '" + Env("AWS_ROLE_ARN") +
                              "' failed: HTTP " + std::to_string(response.status) + " " +
                              error.code + " " + error.message);
    }
    SWAPLINE_ASSIGN_OR_RETURN(Credentials credentials, ParseStsCredentials(response.body));
    credentials.source = "web identity";
    return credentials;
  }

  const CredentialsOptions options_;
  const EnvLookup env_;
  std::mutex mutex_;
  std::optional<Credentials> cached_;  // guarded by mutex_
};

}  // namespace

std::unique_ptr<CredentialsProvider> NewCredentialsChain(const CredentialsOptions& options,
                                                         EnvLookup env) {
  if (!env) {
    env = [](const std::string& name) -> std::optional<std::string> {
      const char* value = std::getenv(name.c_str());
      if (value == nullptr) return std::nullopt;
      return std::string(value);
    };
  }
  return std::make_unique<ChainProvider>(options, std::move(env));
}

Result<Credentials> ParseStsCredentials(const std::string& xml) {
  pugi::xml_document doc;
  if (!doc.load_string(xml.c_str())) return Unavailable("STS answered with a document that is not XML");
  const pugi::xml_node node = doc.select_node("//Credentials").node();
  if (!node) return Unavailable("STS answer holds no Credentials");
  Credentials credentials;
  credentials.access_key_id = node.child_value("AccessKeyId");
  credentials.secret_access_key = node.child_value("SecretAccessKey");
  credentials.session_token = node.child_value("SessionToken");
  const std::optional<std::chrono::system_clock::time_point> expiration =
      ParseIso8601(node.child_value("Expiration"));
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty() || !expiration) {
    return Unavailable("STS answer lacks AccessKeyId, SecretAccessKey or Expiration");
  }
  credentials.expiration = expiration;
  return credentials;
}

}  // namespace swapline::storage
