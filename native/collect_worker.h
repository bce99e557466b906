// SPDX-License-Identifier: Apache-2.0
// One collection off the main thread: Execute() does the kernel I/O and touches no
// Napi::* value; OnOK()/OnError() build the result or the error on the main thread.
#pragma once

#include <napi.h>

#include <memory>

#include "errno_error.h"
#include "map_stats_reader.h"

namespace emp {

class CollectWorker : public Napi::AsyncWorker {
 public:
  CollectWorker(Napi::Env env, std::shared_ptr<MapStatsReader> reader)
      : Napi::AsyncWorker(env, "ebpf-map-pressure:collect"),
        deferred_(Napi::Promise::Deferred::New(env)),
        reader_(std::move(reader)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    error_ = reader_->Collect(&collection_);
    if (error_) SetError(error_.syscall);  // the real error is built in OnError
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object result = Napi::Object::New(env);
    auto records = Napi::Buffer<uint8_t>::Copy(env, collection_.records.data(),
                                               collection_.records.size());
    auto memory = Napi::Float64Array::New(env, collection_.memlock.size());
    std::copy(collection_.memlock.begin(), collection_.memlock.end(), memory.Data());
    result.Set("records", records);
    result.Set("memory", memory);
    auto estimated = Napi::Uint8Array::New(env, collection_.memory_estimated.size());
    std::copy(collection_.memory_estimated.begin(), collection_.memory_estimated.end(), estimated.Data());
    result.Set("memoryEstimated", estimated);
    result.Set("bytesRead", Napi::Number::New(env, static_cast<double>(collection_.bytes_read)));
    result.Set("memoryReads", Napi::Number::New(env, collection_.memlock_reads));
    if (collection_.memory_error)
      result.Set("memoryError", ToJsError(env, collection_.memory_error).Value());
    auto ages = Napi::Float64Array::New(env, collection_.count_age_ms.size());
    std::copy(collection_.count_age_ms.begin(), collection_.count_age_ms.end(), ages.Data());
    result.Set("countAgeMs", ages);
    result.Set("walks", Napi::Number::New(env, collection_.walks));
    if (collection_.walk_error)
      result.Set("walkError", ToJsError(env, collection_.walk_error).Value());
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error&) override {
    deferred_.Reject(ToJsError(Env(), error_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<MapStatsReader> reader_;  // kept alive even if closed meanwhile
  Collection collection_;
  SysError error_;
};

}  // namespace emp
