// S3 / MinIO bucket-notification payloads (POST /v1/events/s3).
#include <chrono>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_target.h"
#include "job/job_spec.h"
#include "service/s3_events.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace svc = swapline::service;
  const std::string_view text = swapline::fuzz::AsText(data, size);
  svc::DecodeFormComponent(text);
  const nlohmann::json body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return 0;
  const auto notification = svc::ParseBucketNotification(body);
  if (!notification.ok()) return 0;
  for (const svc::CreatedObject& object : notification->created) {
    FUZZ_CHECK(swapline::job::IsValidJobId(svc::EventJobId(object, std::chrono::system_clock::now())));
  }
  return 0;
}
