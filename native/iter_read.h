// SPDX-License-Identifier: Apache-2.0
// Reads one session of a BPF iterator: a new iterator fd from the link, read to EOF in chunks
// of whole records, closed. Every iterator of ours writes fixed-size binary records; output
// that is not a whole number of them is an error (EPROTO), never a guess.
#pragma once

#include <bpf/bpf.h>
#include <errno.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sys_error.h"

namespace emp {

inline SysError ReadIteratorRecords(int link_fd, size_t record_size, const char* what,
                                    std::vector<uint8_t>* out, uint64_t* bytes) {
  int iter_fd = bpf_iter_create(link_fd);
  if (iter_fd < 0) return MakeSysError(ErrorKind::kSystem, errno, "bpf_iter_create");
  // A whole number of records per read; the kernel may still hand back less.
  const size_t chunk = 512 * record_size;
  out->clear();
  SysError error;
  for (;;) {
    size_t used = out->size();
    out->resize(used + chunk);
    ssize_t n = read(iter_fd, out->data() + used, chunk);
    if (n < 0) {
      out->resize(used);
      if (errno == EINTR || errno == EAGAIN) continue;
      error = MakeSysError(ErrorKind::kSystem, errno, "read",
                           std::string("reading the ") + what + " iterator failed");
      break;
    }
    out->resize(used + static_cast<size_t>(n));
    if (n == 0) break;
  }
  close(iter_fd);
  *bytes = out->size();
  if (!error && out->size() % record_size != 0)
    error = MakeSysError(ErrorKind::kRecord, EPROTO, "read",
                         std::string("the ") + what + " iterator ended with a partial record (" +
                             std::to_string(out->size() % record_size) + " bytes)");
  return error;
}

}  // namespace emp
