// S3 response documents, as a hostile or broken server may send them: whatever
// the parsers answer, they must not crash.
#include <string>

#include "core/time_text.h"
#include "fuzz/fuzz_target.h"
#include "storage/credentials.h"
#include "storage/s3_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace s = swapline::storage;
  const std::string body(swapline::fuzz::AsText(data, size));
  s::ParseS3Error(body);
  swapline::ParseIso8601(body);
  if (const auto page = s::ParseListObjectsV2(body); page.ok()) {
    for (const auto& object : page->objects) FUZZ_CHECK(!object.key.empty());
  }
  static_cast<void>(s::ParseListParts(body));
  static_cast<void>(s::ParseListMultipartUploads(body));
  static_cast<void>(s::ParseElementText(body, "UploadId"));
  static_cast<void>(s::ParseStsCredentials(body));
  s::Unquote(body);
  return 0;
}
