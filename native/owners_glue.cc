// SPDX-License-Identifier: Apache-2.0
// Node-API glue of the owners reader: OwnersReader({btfPath, bpffs, procfs, pins, maxPins}),
// read(pinsBudgetMs) -> Promise (a worker thread does the kernel and bpffs I/O), close(), and
// `support` (why each iterator program is not loaded).
#include <napi.h>

#include <memory>

#include "errno_error.h"
#include "owners.h"
#include "owners_reader.h"

namespace emp {
namespace {

// OwnersReader's options, each read by its name: src/native.ts declares and checks the same
// names (OWNERS_OPTIONS); InitOwners exports these (ownersReaderOptions) for the test that
// holds the two lists equal. A value of the wrong type is left at its default.
struct OwnersOption {
  const char* name;
  void (*read)(const Napi::Value& value, OwnersOptions* options);
};

const OwnersOption kOwnersOptions[] = {
    {"btfPath",
     [](const Napi::Value& v, OwnersOptions* o) {
       if (v.IsString()) o->btf_path = v.As<Napi::String>();
     }},
    {"bpffs",
     [](const Napi::Value& v, OwnersOptions* o) {
       if (v.IsString()) o->bpffs = v.As<Napi::String>();
     }},
    {"procfs",
     [](const Napi::Value& v, OwnersOptions* o) {
       if (v.IsString()) o->procfs = v.As<Napi::String>();
     }},
    {"pins",
     [](const Napi::Value& v, OwnersOptions* o) {
       if (v.IsBoolean()) o->pins = v.As<Napi::Boolean>();
     }},
    {"maxPins",
     [](const Napi::Value& v, OwnersOptions* o) {
       if (v.IsNumber()) o->max_pins = v.As<Napi::Number>().Uint32Value();
     }},
};

class OwnersWorker : public Napi::AsyncWorker {
 public:
  OwnersWorker(Napi::Env env, std::shared_ptr<OwnersReader> reader, double pins_budget_ms)
      : Napi::AsyncWorker(env, "ebpf-map-pressure:owners"),
        deferred_(Napi::Promise::Deferred::New(env)),
        reader_(std::move(reader)),
        pins_budget_ms_(pins_budget_ms) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    reader_->Read(&read_, std::chrono::microseconds(static_cast<int64_t>(pins_budget_ms_ * 1000)));
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("fds", Napi::Buffer<uint8_t>::Copy(env, read_.fds.data(), read_.fds.size()));
    if (read_.fds_error) o.Set("fdsError", ToJsError(env, read_.fds_error).Value());
    o.Set("progs", Napi::Buffer<uint8_t>::Copy(env, read_.progs.data(), read_.progs.size()));
    if (read_.progs_error) o.Set("progsError", ToJsError(env, read_.progs_error).Value());
    o.Set("progsById", Napi::Boolean::New(env, read_.progs_by_id));
    o.Set("pinsWalked", Napi::Boolean::New(env, read_.pins_walked));
    Napi::Array pins = Napi::Array::New(env, read_.pins.pins.size());
    for (size_t i = 0; i < read_.pins.pins.size(); i++) {
      const PinEntry& p = read_.pins.pins[i];
      Napi::Object e = Napi::Object::New(env);
      // A path is bytes: handed over as a Buffer, escaped in TypeScript like map names.
      e.Set("path", Napi::Buffer<char>::Copy(env, p.path.data(), p.path.size()));
      e.Set("kind", p.kind);
      e.Set("id", p.id);
      e.Set("progId", p.prog_id);
      pins.Set(i, e);
    }
    o.Set("pins", pins);
    if (read_.pins.error) o.Set("pinsError", ToJsError(env, read_.pins.error).Value());
    o.Set("pinsUnreadable", read_.pins.unreadable);
    if (read_.pins.first_unreadable)
      o.Set("pinsUnreadableError", ToJsError(env, read_.pins.first_unreadable).Value());
    o.Set("pinsTruncated", Napi::Boolean::New(env, read_.pins.truncated));
    o.Set("pinsOpened", read_.pins.opened);
    o.Set("fdsMs", read_.fds_ms);
    o.Set("progsMs", read_.progs_ms);
    o.Set("pinsMs", read_.pins_ms);
    deferred_.Resolve(o);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<OwnersReader> reader_;  // kept alive even if closed meanwhile
  double pins_budget_ms_;
  OwnersRead read_;
};

class OwnersReaderWrap : public Napi::ObjectWrap<OwnersReaderWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "OwnersReader",
                       {InstanceMethod<&OwnersReaderWrap::Read>("read"),
                        InstanceMethod<&OwnersReaderWrap::Close>("close"),
                        InstanceAccessor<&OwnersReaderWrap::Support>("support")});
  }

  explicit OwnersReaderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<OwnersReaderWrap>(info) {
    OwnersOptions options;
    if (info.Length() > 0 && info[0].IsObject()) {
      // src/native.ts checks the keys and types.
      Napi::Object o = info[0].As<Napi::Object>();
      for (const OwnersOption& option : kOwnersOptions) option.read(o.Get(option.name), &options);
    }
    reader_ = std::make_shared<OwnersReader>(options);
  }

 private:
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!reader_) {
      auto closed = Napi::Promise::Deferred::New(env);
      SysError e = MakeSysError(ErrorKind::kSystem, EBADF, "owners", "the reader was closed");
      closed.Reject(ToJsError(env, e).Value());
      return closed.Promise();
    }
    double budget = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 1e9;
    auto* worker = new OwnersWorker(env, reader_, budget);
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (reader_) reader_->Close();  // waits for a pass in flight
    reader_.reset();
    return info.Env().Undefined();
  }

  // {processes, programs}: null where the iterator program is loaded, else why it is not.
  Napi::Value Support(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    auto put = [&](const char* key, const SysError* e) {
      out.Set(key, e && *e ? ToJsError(env, *e).Value() : env.Null());
    };
    put("processes", reader_ ? &reader_->fds_load_error() : nullptr);
    put("programs", reader_ ? &reader_->progs_load_error() : nullptr);
    return out;
  }

  std::shared_ptr<OwnersReader> reader_;
};

}  // namespace

Napi::Object InitOwners(Napi::Env env, Napi::Object exports) {
  exports.Set("OwnersReader", OwnersReaderWrap::Define(env));
  Napi::Object sizes = Napi::Object::New(env);
  sizes.Set("fd", Napi::Number::New(env, sizeof(owner_fd_record)));
  sizes.Set("prog", Napi::Number::New(env, sizeof(owner_prog_record)));
  sizes.Set("version", Napi::Number::New(env, OWNERS_VERSION));
  exports.Set("ownerRecords", sizes);
  Napi::Array names = Napi::Array::New(env);
  for (const OwnersOption& option : kOwnersOptions) names.Set(names.Length(), option.name);
  exports.Set("ownersReaderOptions", names);
  return exports;
}

}  // namespace emp
