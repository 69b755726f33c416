// Bucket lifecycle rules: the JSON form the AWS CLI takes
// (`put-bucket-lifecycle-configuration --lifecycle-configuration file://…`, our
// deploy/lifecycle.json) turned into the S3 XML that PutBucketLifecycleConfiguration
// takes. Field order is kept; a JSON array "Xs" becomes repeated <X> elements
// (Rules → Rule, Transitions → Transition, Tags → Tag).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace swapline::storage {

// InvalidArgument when the text is not JSON or has no "Rules" array.
Result<std::string> LifecycleJsonToXml(std::string_view json);

}  // namespace swapline::storage
