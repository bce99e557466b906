// SPDX-License-Identifier: Apache-2.0
// A failed system call as plain data: built on a worker thread, turned into a JS error
// (errno_error.h) on the main thread.
#pragma once

#include <string>

namespace emp {

struct SysError {
  int err = 0;             // positive errno; 0 means "no error"
  std::string syscall;     // what failed, e.g. "bpf_iter_create"
  std::string detail;      // extra text, e.g. the verifier log's tail
  std::string hint;        // how to fix it, when known

  explicit operator bool() const { return err != 0; }
};

inline SysError MakeSysError(int err, std::string syscall, std::string hint = {},
                             std::string detail = {}) {
  return SysError{err < 0 ? -err : err, std::move(syscall), std::move(detail), std::move(hint)};
}

}  // namespace emp
