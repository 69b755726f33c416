// URIs from flags and job specs: storage (--store, s3://, file://), queue (--queue
// redis://, sqlite://) and the object references of a job; callback URLs arrive
// through JobSpec (job_spec_fuzz).
#include <string>

#include "fuzz/fuzz_target.h"
#include "job/queue_backends.h"
#include "storage/object_key.h"
#include "storage/storage_uri.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace s = swapline::storage;
  const std::string text(swapline::fuzz::AsText(data, size));
  if (const auto uri = s::ParseStorageUri(text); uri.ok()) {
    // The canonical spelling parses to the same thing.
    const auto again = s::ParseStorageUri(uri->ToString());
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->ToString() == uri->ToString());
  }
  static_cast<void>(swapline::job::internal::ParseRedisUri(text));
  if (s::ValidateObjectKey(text).ok()) {
    // A valid key never climbs out of the folder it is joined onto.
    FUZZ_CHECK(text.front() != '/');
    FUZZ_CHECK(text != ".." && !text.starts_with("../") && text.find("/../") == std::string::npos &&
               !text.ends_with("/.."));
  }
  return 0;
}
