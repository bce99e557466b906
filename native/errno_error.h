// SPDX-License-Identifier: Apache-2.0
// A SysError as an Error shaped like Node's own system errors:
//   message "EPERM: operation not permitted, bpf_iter_create", code, errno (negative, as in
//   Node), syscall, the kind of failure (sys_error.h), plus hint and detail where we have them.
#pragma once

#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "sys_error.h"

namespace emp {

inline const char* ErrnoName(int err) {
  switch (err) {
#define EMP_ERRNO(name) \
  case name:            \
    return #name;
    EMP_ERRNO(EPERM) EMP_ERRNO(ENOENT) EMP_ERRNO(ESRCH) EMP_ERRNO(EINTR) EMP_ERRNO(EIO)
    EMP_ERRNO(E2BIG) EMP_ERRNO(EBADF) EMP_ERRNO(EAGAIN) EMP_ERRNO(ENOMEM) EMP_ERRNO(EACCES)
    EMP_ERRNO(EFAULT) EMP_ERRNO(EBUSY) EMP_ERRNO(EEXIST) EMP_ERRNO(EINVAL) EMP_ERRNO(ENOSPC)
    EMP_ERRNO(ENOSYS) EMP_ERRNO(ENODATA) EMP_ERRNO(EPROTO) EMP_ERRNO(EOPNOTSUPP)
    EMP_ERRNO(ENOTDIR) EMP_ERRNO(EMFILE) EMP_ERRNO(ENFILE)
#undef EMP_ERRNO
    default:
      return "EUNKNOWN";
  }
}

inline Napi::Error ToJsError(Napi::Env env, const SysError& e) {
  std::string code = ErrnoName(e.err);
  std::string message = code + ": " + strerror(e.err);
  if (!message.empty()) message[code.size() + 2] = static_cast<char>(tolower(message[code.size() + 2]));
  message += ", " + e.syscall;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", code);
  error.Set("errno", Napi::Number::New(env, -e.err));
  error.Set("syscall", e.syscall);
  error.Set("kind", ErrorKindName(e.kind));
  if (!e.hint.empty()) error.Set("hint", e.hint);
  if (!e.detail.empty()) error.Set("detail", e.detail);
  return error;
}

}  // namespace emp
