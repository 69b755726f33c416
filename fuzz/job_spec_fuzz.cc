// Job specs as POST /v1/jobs bodies: parsing never crashes, and an accepted spec
// survives its own JSON round trip.
#include "fuzz/fuzz_target.h"
#include "job/job_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using swapline::job::JobSpec;
  const auto spec = JobSpec::Parse(swapline::fuzz::AsText(data, size));
  if (!spec.ok()) return 0;
  const auto again = JobSpec::FromJson(spec->ToJson());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->ToJson() == spec->ToJson());
  return 0;
}
