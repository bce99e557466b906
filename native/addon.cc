// SPDX-License-Identifier: Apache-2.0
// Node-API glue only: the Reader class (collect() -> Promise, close()), the OwnersReader
// (owners_glue.cc) and mapOps.
#include <malloc.h>
#include <napi.h>

#include <memory>

#include "collect_worker.h"
#include "map_ops.h"
#include "map_stats.h"
#include "map_stats_reader.h"
#include "owners_glue.h"

namespace emp {
namespace {

// Reader's options, each read by its name: src/native.ts declares and checks the same names
// (READER_OPTIONS), and Init exports these (readerOptions) for the test that holds the two
// lists equal. A value of the wrong type is left at its default.
struct ReaderOption {
  const char* name;
  void (*read)(const Napi::Value& value, ReaderOptions* options);
};

const ReaderOption kReaderOptions[] = {
    {"useKfunc",
     [](const Napi::Value& v, ReaderOptions* o) {
       if (v.IsBoolean()) o->use_kfunc = v.As<Napi::Boolean>();
     }},
    {"useKernelState",
     [](const Napi::Value& v, ReaderOptions* o) {
       if (v.IsBoolean()) o->use_kernel_state = v.As<Napi::Boolean>();
     }},
    {"readMemory",
     [](const Napi::Value& v, ReaderOptions* o) {
       if (v.IsBoolean()) o->read_memory = v.As<Napi::Boolean>();
     }},
    {"memoryEstimate",
     [](const Napi::Value& v, ReaderOptions* o) {
       if (!v.IsString()) return;
       std::string mode = v.As<Napi::String>();
       if (mode == "always") o->memory_estimate = ReaderOptions::Estimate::kAlways;
       if (mode == "never") o->memory_estimate = ReaderOptions::Estimate::kNever;
     }},
    {"btfPath",
     [](const Napi::Value& v, ReaderOptions* o) {
       if (v.IsString()) o->btf_path = v.As<Napi::String>();
     }},
    {"procfs",
     [](const Napi::Value& v, ReaderOptions* o) {
       if (v.IsString()) o->procfs = v.As<Napi::String>();
     }},
    // Element walks (src/native.ts checks the ranges).
    {"walk",
     [](const Napi::Value& v, ReaderOptions* o) {
       if (v.IsBoolean()) o->walk.enabled = v.As<Napi::Boolean>();
     }},
    {"walkMaxEntries",
     [](const Napi::Value& v, ReaderOptions* o) {
       if (v.IsNumber())
         o->walk.max_entries = static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
     }},
    {"walkBudgetMs",
     [](const Napi::Value& v, ReaderOptions* o) {
       if (v.IsNumber()) o->walk.budget_ms = v.As<Napi::Number>().DoubleValue();
     }},
};

class Reader : public Napi::ObjectWrap<Reader> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Reader",
                       {InstanceMethod<&Reader::Collect>("collect"),
                        InstanceMethod<&Reader::Close>("close"),
                        InstanceAccessor<&Reader::KfuncAvailable>("kfuncAvailable"),
                        InstanceAccessor<&Reader::WalkSupport>("walkSupport")});
  }

  explicit Reader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Reader>(info) {
    Napi::Env env = info.Env();
    ReaderOptions options;
    if (info.Length() > 0 && info[0].IsObject()) {
      Napi::Object o = info[0].As<Napi::Object>();
      for (const ReaderOption& option : kReaderOptions) option.read(o.Get(option.name), &options);
    }
    SysError error;
    reader_ = std::make_shared<MapStatsReader>(options, &error);
    if (error) {
      reader_.reset();
      throw ToJsError(env, error);
    }
  }

 private:
  Napi::Value Collect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!reader_) {
      // A rejected promise, not a throw: callers of a promise API handle one path.
      auto closed = Napi::Promise::Deferred::New(env);
      SysError e = MakeSysError(ErrorKind::kClosed, EBADF, "collect", "the reader was closed");
      closed.Reject(ToJsError(env, e).Value());
      return closed.Promise();
    }
    Napi::Function select;
    if (info.Length() > 0 && info[0].IsFunction()) select = info[0].As<Napi::Function>();
    auto* worker = new CollectWorker(env, reader_, select);
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (reader_) reader_->Close();  // waits for a collection in flight
    reader_.reset();
    return info.Env().Undefined();
  }

  Napi::Value KfuncAvailable(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), reader_ && reader_->kfunc_available());
  }

  // {elements, sockets}: null where the walk program is loaded, else why it is not.
  Napi::Value WalkSupport(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    auto put = [&](const char* key, WalkProgram program) {
      SysError e = reader_ ? reader_->walk_load_error(program) : SysError{};
      out.Set(key, e ? ToJsError(env, e).Value() : env.Null());
    };
    put("elements", WalkProgram::kElems);
    put("sockets", WalkProgram::kSocks);
    return out;
  }

  std::shared_ptr<MapStatsReader> reader_;
};

// Bytes malloc has handed out and not had back, every arena and mmapped chunk included: the
// leak test's gauge of native memory. RSS is no such gauge: arena pages freed but kept swing
// it by tens of MiB. -1 where the C library has no mallinfo2 (glibc < 2.33, musl).
Napi::Value MallocInUse(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  return Napi::Number::New(info.Env(), static_cast<double>(mi.uordblks + mi.hblkhd));
#else
  return Napi::Number::New(info.Env(), -1);
#endif
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Reader", Reader::Define(env));
  exports.Set("recordSize", Napi::Number::New(env, sizeof(map_stats_record)));
  exports.Set("recordVersion", Napi::Number::New(env, MAP_STATS_VERSION));
  // The record's flag bits, so src/records.ts can be checked against the header it mirrors.
  Napi::Object flags = Napi::Object::New(env);
  flags.Set("needsWalk", MAP_STATS_F_NEEDS_WALK);
  flags.Set("countStale", MAP_STATS_F_COUNT_STALE);
  flags.Set("walkSkipped", MAP_STATS_F_WALK_SKIPPED);
  flags.Set("walkUnsupported", MAP_STATS_F_WALK_UNSUPPORTED);
  exports.Set("recordFlags", flags);
  // The kinds of failure an error's `kind` names (sys_error.h), for the test that keeps
  // src/native.ts's table of codes in step.
  Napi::Array kinds = Napi::Array::New(env);
  for (ErrorKind kind : kErrorKinds) kinds.Set(kinds.Length(), ErrorKindName(kind));
  exports.Set("errorKinds", kinds);
  Napi::Array names = Napi::Array::New(env);
  for (const ReaderOption& option : kReaderOptions) names.Set(names.Length(), option.name);
  exports.Set("readerOptions", names);
  exports.Set("mallocInUse", Napi::Function::New(env, MallocInUse, "mallocInUse"));
  InitOwners(env, exports);
  return InitMapOps(env, exports);
}

}  // namespace emp

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return emp::Init(env, exports);
}

NODE_API_MODULE(ebpf_map_pressure, InitAddon)
