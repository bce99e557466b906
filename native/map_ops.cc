// SPDX-License-Identifier: Apache-2.0
#include "map_ops.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "errno_error.h"

namespace emp {
namespace {

[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall) {
  throw ToJsError(env, MakeSysError(ErrorKind::kSystem, err, syscall));
}

int FdArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be an fd");
  return info[i].As<Napi::Number>().Int32Value();
}

// Key or value bytes: a Buffer, or null for "none" (queue/stack keys).
const void* BytesArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  if (!info[i].IsBuffer())
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>().Data();
}

uint32_t U32(const Napi::Object& o, const char* key, uint32_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : fallback;
}

// A BTF object with an `int` key type and a value type of value_size bytes, for map types
// the kernel only creates with BTF (task, inode, sk and cgroup storage). Returns the BTF fd
// and sets the type ids; the map keeps its own reference, so the caller closes the fd.
int LoadKeyValueBtf(uint32_t value_size, uint32_t* key_type_id, uint32_t* value_type_id) {
  struct btf* btf = btf__new_empty();
  if (!btf) return -errno;
  int int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
  int byte_id = btf__add_int(btf, "unsigned char", 1, 0);
  int value_id = int_id > 0 && byte_id > 0 ? btf__add_array(btf, int_id, byte_id, value_size) : -EINVAL;
  int err = value_id > 0 ? btf__load_into_kernel(btf) : value_id;
  int fd = err ? err : dup(btf__fd(btf));
  if (fd < 0 && !err) err = -errno;
  btf__free(btf);
  if (err) return err;
  *key_type_id = static_cast<uint32_t>(int_id);
  *value_type_id = static_cast<uint32_t>(value_id);
  return fd;
}

// createMap({type, keySize, valueSize, maxEntries, flags, name, innerMapFd, btf}) -> fd
Napi::Value CreateMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject())
    throw Napi::TypeError::New(env, "createMap expects an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string name = o.Get("name").IsString() ? o.Get("name").As<Napi::String>().Utf8Value() : "";
  Napi::Value raw = o.Get("rawName");  // bytes, for names that are not ASCII
  if (raw.IsBuffer()) {
    auto b = raw.As<Napi::Buffer<char>>();
    name.assign(b.Data(), b.Length());
  }
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = U32(o, "flags", 0));
  int inner = o.Get("innerMapFd").IsNumber() ? o.Get("innerMapFd").As<Napi::Number>().Int32Value() : -1;
  if (inner >= 0) opts.inner_map_fd = inner;
  int btf_fd = -1;
  if (o.Get("btf").IsBoolean() && o.Get("btf").As<Napi::Boolean>()) {
    btf_fd = LoadKeyValueBtf(U32(o, "valueSize", 0), &opts.btf_key_type_id, &opts.btf_value_type_id);
    if (btf_fd < 0) ThrowErrno(env, -btf_fd, "btf_load");
    opts.btf_fd = btf_fd;
  }
  int fd = bpf_map_create(static_cast<enum bpf_map_type>(U32(o, "type", 0)),
                          name.empty() ? nullptr : name.c_str(), U32(o, "keySize", 0),
                          U32(o, "valueSize", 0), U32(o, "maxEntries", 0), &opts);
  int err = errno;
  if (btf_fd >= 0) close(btf_fd);
  if (fd < 0) ThrowErrno(env, err, "bpf_map_create");
  return Napi::Number::New(env, fd);
}

Napi::Value Update(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  uint64_t flags = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : 0;
  if (bpf_map_update_elem(fd, BytesArg(info, 1), BytesArg(info, 2), flags) != 0)
    ThrowErrno(info.Env(), errno, "bpf_map_update_elem");
  return info.Env().Undefined();
}

Napi::Value Delete(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  if (bpf_map_delete_elem(fd, BytesArg(info, 1)) != 0)
    ThrowErrno(info.Env(), errno, "bpf_map_delete_elem");
  return info.Env().Undefined();
}

// lookupAndDelete(fd, key|null, valueSize) -> the value (a queue or stack pop)
Napi::Value LookupAndDelete(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  uint32_t value_size = info[2].As<Napi::Number>().Uint32Value();
  auto value = Napi::Buffer<uint8_t>::New(info.Env(), value_size);
  if (bpf_map_lookup_and_delete_elem(fd, BytesArg(info, 1), value.Data()) != 0)
    ThrowErrno(info.Env(), errno, "bpf_map_lookup_and_delete_elem");
  return value;
}

// fill(fd, keySize, valueSize, first, count): keys first..first+count-1 as little-endian
// integers in the first bytes of the key; returns how many went in before the first error.
Napi::Value Fill(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  uint32_t key_size = info[1].As<Napi::Number>().Uint32Value();
  uint32_t value_size = info[2].As<Napi::Number>().Uint32Value();
  uint64_t first = info[3].As<Napi::Number>().Int64Value();
  uint64_t count = info[4].As<Napi::Number>().Int64Value();
  std::vector<uint8_t> key(key_size), value(value_size, 0x5a);
  uint64_t done = 0;
  int err = 0;
  for (; done < count; done++) {
    uint64_t k = first + done;
    for (uint32_t b = 0; b < key_size && b < 8; b++) key[b] = static_cast<uint8_t>(k >> (8 * b));
    if (bpf_map_update_elem(fd, key.data(), value.data(), BPF_ANY) != 0) {
      err = errno;
      break;
    }
  }
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("inserted", Napi::Number::New(info.Env(), static_cast<double>(done)));
  result.Set("errno", Napi::Number::New(info.Env(), err));
  return result;
}

// countKeys(fd, keySize): a get-next-key walk from user space, as peers count.
Napi::Value CountKeys(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  uint32_t key_size = info[1].As<Napi::Number>().Uint32Value();
  std::vector<uint8_t> key(key_size), next(key_size);
  double count = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    count++;
    key.swap(next);
    prev = key.data();
  }
  if (errno != ENOENT) ThrowErrno(info.Env(), errno, "bpf_map_get_next_key");
  return Napi::Number::New(info.Env(), count);
}

Napi::Value MapId(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  struct bpf_map_info map_info = {};
  __u32 len = sizeof(map_info);
  if (bpf_obj_get_info_by_fd(fd, &map_info, &len) != 0)
    ThrowErrno(info.Env(), errno, "bpf_obj_get_info_by_fd");
  return Napi::Number::New(info.Env(), map_info.id);
}

Napi::Value Pin(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  std::string path = info[1].As<Napi::String>().Utf8Value();
  if (bpf_obj_pin(fd, path.c_str()) != 0) ThrowErrno(info.Env(), errno, "bpf_obj_pin");
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  if (close(FdArg(info, 0)) != 0) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

}  // namespace

Napi::Object InitMapOps(Napi::Env env, Napi::Object exports) {
  Napi::Object ops = Napi::Object::New(env);
  ops.Set("createMap", Napi::Function::New(env, CreateMap, "createMap"));
  ops.Set("update", Napi::Function::New(env, Update, "update"));
  ops.Set("delete", Napi::Function::New(env, Delete, "delete"));
  ops.Set("lookupAndDelete", Napi::Function::New(env, LookupAndDelete, "lookupAndDelete"));
  ops.Set("fill", Napi::Function::New(env, Fill, "fill"));
  ops.Set("countKeys", Napi::Function::New(env, CountKeys, "countKeys"));
  ops.Set("mapId", Napi::Function::New(env, MapId, "mapId"));
  ops.Set("pin", Napi::Function::New(env, Pin, "pin"));
  ops.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("mapOps", ops);
  return exports;
}

}  // namespace emp
