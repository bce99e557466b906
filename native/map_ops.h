// SPDX-License-Identifier: Apache-2.0
// Small synchronous wrappers over map syscalls, for the demo, the tests and the benchmarks
// (which build real maps to observe). The agent itself never creates or changes a map.
#pragma once

#include <napi.h>

namespace emp {

Napi::Object InitMapOps(Napi::Env env, Napi::Object exports);

}  // namespace emp
