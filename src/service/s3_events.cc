#include "service/s3_events.h"

#include <string>

#include "core/random_text.h"
#include "core/time_text.h"
#include "storage/hashing.h"
#include "storage/s3_xml.h"

namespace swapline::service {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "2025-04-05T14:23:01.123Z" (fraction optional). The date and its range check are
// the storage layer's; only the milliseconds are read here.
std::optional<std::chrono::system_clock::time_point> ParseIsoTime(const std::string& text) {
  const auto whole_seconds = ParseIso8601(text);
  if (!whole_seconds) return std::nullopt;
  int millis = 0;
  const std::size_t dot = text.find('.');
  if (dot != std::string::npos) {
    int digits = 0;
    for (std::size_t i = dot + 1; i < text.size() && digits < 3 && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
      millis = millis * 10 + (text[i] - '0');
    }
    for (; digits < 3; ++digits) millis *= 10;
  }
  return *whole_seconds + std::chrono::milliseconds(millis);
}

}  // namespace

std::string DecodeFormComponent(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

namespace {

// The string `name` of `object`, "" when absent; kInvalidArgument for another type
// (json::value() would throw).
Result<std::string> OptionalString(const nlohmann::json& object, const char* name, const std::string& where) {
  const auto it = object.find(name);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return InvalidArgument(where + "." + name + ": must be a string");
  return it->get<std::string>();
}

}  // namespace

Result<BucketNotification> ParseBucketNotification(const nlohmann::json& body) {
  if (!body.is_object() || !body.contains("Records") || !body["Records"].is_array()) {
    return InvalidArgument("Records: must be an array of event records");
  }
  BucketNotification out;
  const auto& records = body["Records"];
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& record = records[i];
    const std::string where = "Records[" + std::to_string(i) + "]";
    if (!record.is_object()) return InvalidArgument(where + ": must be an object");
    SWAPLINE_ASSIGN_OR_RETURN(const std::string name, OptionalString(record, "eventName", where));
    if (name.find("ObjectCreated:") == std::string::npos) {
      ++out.ignored;
      continue;
    }
    const auto s3 = record.find("s3");
    if (s3 == record.end() || !s3->is_object()) return InvalidArgument(where + ".s3: missing");
    CreatedObject object;
    const auto bucket = s3->find("bucket");
    if (bucket == s3->end() || !bucket->is_object() || !bucket->contains("name") || !(*bucket)["name"].is_string()) {
      return InvalidArgument(where + ".s3.bucket.name: must be a string");
    }
    object.bucket = (*bucket)["name"].get<std::string>();
    const auto obj = s3->find("object");
    if (obj == s3->end() || !obj->is_object() || !obj->contains("key") || !(*obj)["key"].is_string()) {
      return InvalidArgument(where + ".s3.object.key: must be a string");
    }
    object.key = DecodeFormComponent((*obj)["key"].get<std::string>());
    if (object.key.empty()) return InvalidArgument(where + ".s3.object.key: empty");
    const std::string at = where + ".s3.object";
    SWAPLINE_ASSIGN_OR_RETURN(object.etag, OptionalString(*obj, obj->contains("eTag") ? "eTag" : "etag", at));
    SWAPLINE_ASSIGN_OR_RETURN(object.sequencer, OptionalString(*obj, "sequencer", at));
    if (obj->contains("size") && (*obj)["size"].is_number_unsigned()) object.size = (*obj)["size"].get<std::uint64_t>();
    if (record.contains("eventTime") && record["eventTime"].is_string()) {
      object.event_time = ParseIsoTime(record["eventTime"].get<std::string>());
    }
    out.created.push_back(std::move(object));
  }
  return out;
}

std::string EventJobId(const CreatedObject& object, std::chrono::system_clock::time_point now) {
  const std::string identity = object.bucket + "\n" + object.key + "\n" + object.etag + "\n" + object.sequencer;
  const storage::Sha256Digest digest = storage::Sha256(storage::AsBytes(identity));
  const auto when = object.event_time.value_or(now);
  const std::uint64_t ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count()) &
      ((1ull << 48) - 1);
  // 128 bits: 48 of time, 80 of hash, big-endian; as 26 base32 digits the first
  // holds only 3 bits (2 leading zero bits).
  unsigned char bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  for (int i = 0; i < 10; ++i) bytes[6 + i] = digest[i];
  auto bit = [&](int position) {  // position 0 = most significant of 130 bits
    const int index = position - 2;
    if (index < 0) return 0;
    return (bytes[index / 8] >> (7 - index % 8)) & 1;
  };
  std::string id(26, '0');
  for (int c = 0; c < 26; ++c) {
    int digit = 0;
    for (int b = 0; b < 5; ++b) digit = (digit << 1) | bit(c * 5 + b);
    id[static_cast<std::size_t>(c)] = kCrockfordBase32[static_cast<std::size_t>(digit)];
  }
  return id;
}

}  // namespace swapline::service
