// SPDX-License-Identifier: Apache-2.0
// A failed system call as plain data: built on a worker thread, turned into a JS error
// (errno_error.h) on the main thread.
#pragma once

#include <string>

namespace emp {

// What kind of failure, said where it happens: src/native.ts maps each kind to an error code
// (NATIVE_ERROR_KINDS), so a code never depends on the text of `syscall`. The names are the
// contract; the addon exports them (errorKinds) and test/native.test.ts holds both sides to it.
enum class ErrorKind {
  kSystem,  // a system call failed (the default: EMP_COLLECT_FAILED, or EMP_PERMISSION)
  kBtf,     // the BTF file of paths.btf cannot be read or parsed
  kOpen,    // libbpf cannot open a BPF object (the kernel's BTF is missing)
  kLoad,    // the kernel refused to load or attach a program
  kClosed,  // the reader was closed
  kRecord,  // a record from the kernel has the wrong size or version
};

inline const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kSystem:
      return "system";
    case ErrorKind::kBtf:
      return "btf";
    case ErrorKind::kOpen:
      return "open";
    case ErrorKind::kLoad:
      return "load";
    case ErrorKind::kClosed:
      return "closed";
    case ErrorKind::kRecord:
      return "record";
  }
  return "system";
}

inline constexpr ErrorKind kErrorKinds[] = {ErrorKind::kSystem, ErrorKind::kBtf,
                                            ErrorKind::kOpen,   ErrorKind::kLoad,
                                            ErrorKind::kClosed, ErrorKind::kRecord};

struct SysError {
  int err = 0;             // positive errno; 0 means "no error"
  ErrorKind kind = ErrorKind::kSystem;  // decides the error code (src/native.ts)
  std::string syscall;     // what failed, e.g. "bpf_iter_create"; for people, not for codes
  std::string detail;      // extra text, e.g. the verifier log's tail
  std::string hint;        // how to fix it, when known

  explicit operator bool() const { return err != 0; }
};

inline SysError MakeSysError(ErrorKind kind, int err, std::string syscall, std::string hint = {},
                             std::string detail = {}) {
  return SysError{err < 0 ? -err : err, kind, std::move(syscall), std::move(detail),
                  std::move(hint)};
}

}  // namespace emp
