// SPDX-License-Identifier: Apache-2.0
// The owners reader's Node-API class (owners_glue.cc).
#pragma once

#include <napi.h>

namespace emp {

Napi::Object InitOwners(Napi::Env env, Napi::Object exports);

}  // namespace emp
