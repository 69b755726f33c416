#include "service/auth.h"

#include <openssl/crypto.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "storage/hashing.h"

namespace swapline::service {
Status ValidateTenantName(std::string_view tenant) {
  if (tenant.empty() || tenant.size() > 64) return InvalidArgument("tenant name must be 1-64 characters");
  for (char c : tenant) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return InvalidArgument("tenant name '" + std::string(tenant) + "' may only contain a-z, 0-9, '_' and '-'");
    }
  }
  return Status::Ok();
}

Result<TokenTable> TokenTable::Load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read token file '" + path.string() + "'");
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path.string());
}

Result<TokenTable> TokenTable::Parse(std::string_view text, std::string_view origin) {
  TokenTable table;
  std::istringstream lines{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    std::istringstream fields(line);
    std::string token, tenant, extra;
    fields >> token;
    if (token.empty() || token[0] == '#') continue;
    fields >> tenant >> extra;
    const std::string where = std::string(origin) + ":" + std::to_string(number);
    if (tenant.empty() || !extra.empty()) return InvalidArgument(where + ": expected 'TOKEN TENANT'");
    if (token.size() < 16) return InvalidArgument(where + ": token is shorter than 16 characters");
    if (tenant != kEventTenant) {
      const Status valid = ValidateTenantName(tenant);
      if (!valid.ok()) return InvalidArgument(where + ": " + valid.message());
    }
    const auto digest = storage::Sha256(storage::AsBytes(token));
    for (const Entry& entry : table.entries_) {
      // Last-wins would silently move a token to another tenant.
      if (entry.digest == digest) return InvalidArgument(where + ": duplicate token (each token names one tenant)");
    }
    table.entries_.push_back(Entry{digest, tenant});
  }
  if (table.entries_.empty()) return InvalidArgument(std::string(origin) + ": no tokens");
  return table;
}

std::optional<std::string> TokenTable::Authenticate(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  const auto digest = storage::Sha256(storage::AsBytes(token));
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {  // no early exit: every entry is compared
    if (CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0) match = &entry;
  }
  if (match == nullptr) return std::nullopt;
  return match->tenant;
}

std::string_view TokenTable::BearerToken(std::string_view header) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (header.size() <= kPrefix.size()) return {};
  for (std::size_t i = 0; i < kPrefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != std::tolower(static_cast<unsigned char>(kPrefix[i]))) {
      return {};
    }
  }
  std::string_view token = header.substr(kPrefix.size());
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return token;
}

}  // namespace swapline::service
