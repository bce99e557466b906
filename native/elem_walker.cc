// SPDX-License-Identifier: Apache-2.0
#include "elem_walker.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <unistd.h>

#include "core_btf.h"
#include "elem_count.skel.h"
#include "libbpf_log.h"

namespace emp {
namespace {

const char* SectionOf(WalkProgram p) {
  return p == WalkProgram::kElems ? "iter/bpf_map_elem" : "iter/sockmap";
}

std::string RefusalHint(WalkProgram p, int err) {
  std::string section = SectionOf(p);
  if (err == EPERM || err == EACCES)
    return "this kernel refuses " + section +
           " programs (EPERM at load, with the privileges that loaded iter/bpf_map): a "
           "hardened kernel or a security policy that disallows the program type";
  return "this kernel has no " + section + " iterator (" +
         (p == WalkProgram::kElems ? "Linux >= 5.9" : "Linux >= 5.10") + ")";
}

// One skeleton with only `program` loaded; nullptr and *error when the kernel will not load it.
elem_count* LoadOne(const std::string& btf_path, WalkProgram program, SysError* error) {
  LibbpfLog log;  // a refused program is reported as data, not as noise on stderr
  LIBBPF_OPTS(bpf_object_open_opts, open_opts);
  open_opts.btf_custom_path = CoreBtfPath(btf_path);
  elem_count* skel = elem_count__open_opts(&open_opts);
  if (!skel) {
    *error = MakeSysError(ErrorKind::kOpen, errno, "bpf_object__open",
                          "cannot open the element-walk programs");
    return nullptr;
  }
  bool elems = program == WalkProgram::kElems;
  bpf_program__set_autoload(elems ? skel->progs.count_socks : skel->progs.count_elems, false);
  int err = elem_count__load(skel);
  if (!err) return skel;
  elem_count__destroy(skel);
  err = err < 0 ? -err : err;
  if (err >= __LIBBPF_ERRNO__START) err = EINVAL;  // libbpf's own codes are no errno
  *error = MakeSysError(ErrorKind::kLoad, err, "bpf_prog_load", RefusalHint(program, err),
                        log.Tail());
  return nullptr;
}

}  // namespace

ElemWalker::ElemWalker(const std::string& btf_path) {
  elems_ = LoadOne(btf_path, WalkProgram::kElems, &elems_error_);
  socks_ = LoadOne(btf_path, WalkProgram::kSocks, &socks_error_);
}

ElemWalker::~ElemWalker() {
  if (elems_) elem_count__destroy(elems_);
  if (socks_) elem_count__destroy(socks_);
}

bool ElemWalker::ProgramFor(uint32_t map_type, WalkProgram* program) {
  switch (map_type) {
    // kernel/bpf/map_iter.c, bpf_iter_attach_map(): the types of iter/bpf_map_elem.
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
      *program = WalkProgram::kElems;
      return true;
    // net/core/sock_map.c, sock_map_iter_attach_target(): iter/sockmap.
    case BPF_MAP_TYPE_SOCKMAP:
    case BPF_MAP_TYPE_SOCKHASH:
      *program = WalkProgram::kSocks;
      return true;
    default:
      return false;
  }
}

const SysError& ElemWalker::LoadError(WalkProgram program) const {
  return program == WalkProgram::kElems ? elems_error_ : socks_error_;
}

int ElemWalker::Count(uint32_t map_id, uint32_t map_type, uint64_t* count) {
  WalkProgram program;
  if (!ProgramFor(map_type, &program) || !Loaded(program)) return -EOPNOTSUPP;
  struct bpf_program* prog =
      program == WalkProgram::kElems ? elems_->progs.count_elems : socks_->progs.count_socks;
  int map_fd = bpf_map_get_fd_by_id(map_id);
  if (map_fd < 0) return -errno;

  // bpf_link_create, not bpf_program__attach_iter: libbpf would print a failure to stderr.
  union bpf_iter_link_info link_info = {};
  link_info.map.map_fd = static_cast<__u32>(map_fd);
  LIBBPF_OPTS(bpf_link_create_opts, link_opts, .iter_info = &link_info,
              .iter_info_len = sizeof(link_info));
  int link_fd = bpf_link_create(bpf_program__fd(prog), 0, BPF_TRACE_ITER, &link_opts);
  int err = link_fd < 0 ? -errno : 0;
  close(map_fd);  // the link holds its own reference to the map
  if (err) return err;

  int iter_fd = bpf_iter_create(link_fd);
  if (iter_fd < 0) {
    err = -errno;
    close(link_fd);
    return err;
  }
  // One __u64 at the end. Reads may return nothing for a while: the kernel hands a read
  // back (EAGAIN) after a million elements with no output, and the next read resumes.
  uint8_t buf[64];
  size_t got = 0;
  uint64_t value = 0;
  for (;;) {
    ssize_t n = read(iter_fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      err = -errno;
      break;
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; i++, got++)
      if (got < sizeof(value)) reinterpret_cast<uint8_t*>(&value)[got] = buf[i];
  }
  close(iter_fd);
  close(link_fd);
  if (err) return err;
  if (got != sizeof(value)) return -EPROTO;
  *count = value;
  return 0;
}

}  // namespace emp
