// SPDX-License-Identifier: Apache-2.0
// Which BTF libbpf relocates our programs against (bpf_object_open_opts.btf_custom_path).
//
// Always a file, never libbpf's default search: when a type the program reads (say struct
// bpf_rhtab, 7.2+) is missing from vmlinux, libbpf 1.1 goes on to look through every
// module's BTF, and listing those (BPF_BTF_GET_NEXT_ID) needs CAP_SYS_ADMIN: without it the
// whole load fails, on every kernel that lacks the type. With a BTF file named, libbpf
// relocates against that file only, and a missing type is just a field that does not exist.
// Every type we read is in vmlinux.
#pragma once

#include <unistd.h>

#include <string>

namespace emp {

inline const char* CoreBtfPath(const std::string& configured) {
  if (!configured.empty()) return configured.c_str();
  static const char kVmlinux[] = "/sys/kernel/btf/vmlinux";
  return access(kVmlinux, R_OK) == 0 ? kVmlinux : nullptr;  // else libbpf's own search
}

}  // namespace emp
