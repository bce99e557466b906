// SPDX-License-Identifier: Apache-2.0
// One collection off the main thread: Execute() does the kernel I/O and touches no
// Napi::* value; OnOK()/OnError() build the result or the error on the main thread.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "errno_error.h"
#include "map_stats.h"
#include "map_stats_reader.h"

namespace emp {

// With a select function, a collection takes two turns off the main thread: Read() (the
// iterator), then select(records) on the main thread says which maps the caller reports, and
// Complete() walks and reads memory for those only. Without one, one turn does both.
class CollectWorker : public Napi::AsyncWorker {
 public:
  CollectWorker(Napi::Env env, std::shared_ptr<MapStatsReader> reader, Napi::Function select)
      : Napi::AsyncWorker(env, "ebpf-map-pressure:collect"),
        deferred_(Napi::Promise::Deferred::New(env)),
        reader_(std::move(reader)) {
    if (!select.IsEmpty()) {
      select_ = Napi::Persistent(select);
      turn_ = Turn::kRead;
    }
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    switch (turn_) {
      case Turn::kCollect: error_ = reader_->Collect(&collection_); break;
      case Turn::kRead: error_ = reader_->Read(&collection_); break;
      case Turn::kComplete: error_ = reader_->Complete(&collection_, wanted_); break;
    }
    if (error_) SetError(error_.syscall);  // the real error is built in OnError
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (turn_ == Turn::kRead) return Select(env);
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
  enum class Turn { kCollect, kRead, kComplete };

  // The second turn's worker, taking over this one's collection and promise.
  CollectWorker(Napi::Env env, const CollectWorker& first, std::vector<uint8_t> wanted)
      : Napi::AsyncWorker(env, "ebpf-map-pressure:collect"),
        deferred_(first.deferred_),
        reader_(first.reader_),
        turn_(Turn::kComplete),
        wanted_(std::move(wanted)) {}

  // Between the turns, on the main thread: select(records) -> one byte per record.
  void Select(Napi::Env env) {
    size_t n = collection_.records.size() / sizeof(map_stats_record);
    std::vector<uint8_t> wanted;
    try {
      Napi::Value picked = select_.Call({Napi::Buffer<uint8_t>::Copy(env, collection_.records.data(),
                                                                     collection_.records.size())});
      if (!picked.IsTypedArray() || picked.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
          picked.As<Napi::Uint8Array>().ElementLength() != n)
        throw Napi::TypeError::New(env, "select must return a Uint8Array of one byte per record");
      auto bytes = picked.As<Napi::Uint8Array>();
      wanted.assign(bytes.Data(), bytes.Data() + n);
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
      return;
    }
    auto* next = new CollectWorker(env, *this, std::move(wanted));
    next->collection_ = std::move(collection_);
    next->Queue();
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<MapStatsReader> reader_;  // kept alive even if closed meanwhile
  Napi::FunctionReference select_;  // the first turn's, when there are two
  Turn turn_ = Turn::kCollect;
  std::vector<uint8_t> wanted_;
  Collection collection_;
  SysError error_;
};

}  // namespace emp
