// SPDX-License-Identifier: Apache-2.0
// libbpf reports through one process-wide print callback. While one of these lives, what it
// says is kept (the tail goes into errors, e.g. the verifier log) instead of reaching the
// agent's stderr; one at a time, process-wide.
#pragma once

#include <bpf/libbpf.h>

#include <mutex>
#include <string>

namespace emp {

class LibbpfLog {
 public:
  LibbpfLog();
  ~LibbpfLog();
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;

  // The last lines: enough to see why, short enough for an error.
  std::string Tail(size_t max_lines = 20) const;

 private:
  static int Print(enum libbpf_print_level level, const char* fmt, va_list args);

  std::unique_lock<std::mutex> lock_;
  std::string log_;
  libbpf_print_fn_t previous_;
};

}  // namespace emp
