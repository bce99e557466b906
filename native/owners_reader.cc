// SPDX-License-Identifier: Apache-2.0
#include "owners_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <unistd.h>

#include <cstring>

#include "core_btf.h"
#include "iter_read.h"
#include "libbpf_log.h"
#include "owners.h"
#include "owners.skel.h"

namespace emp {
namespace {

enum class Part { kFds, kProgs };

const char* SectionOf(Part p) { return p == Part::kFds ? "iter/task_file" : "iter/bpf_prog"; }

std::string LoadHint(Part p, int err) {
  std::string section = SectionOf(p);
  if (err == EPERM || err == EACCES)
    return "this kernel refuses " + section +
           " programs (EPERM at load, with the privileges that loaded iter/bpf_map)";
  return "this kernel has no " + section + " iterator (" +
         (p == Part::kFds ? "Linux >= 5.8" : "Linux >= 5.9") + ")";
}

double MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// One skeleton with only `part`'s program loaded and attached.
owners* LoadOne(const std::string& btf_path, Part part, bpf_link** link, SysError* error) {
  LibbpfLog log;  // a refused program is reported as data, not as noise on stderr
  LIBBPF_OPTS(bpf_object_open_opts, open_opts);
  open_opts.btf_custom_path = CoreBtfPath(btf_path);
  owners* skel = owners__open_opts(&open_opts);
  if (!skel) {
    *error = MakeSysError(ErrorKind::kOpen, errno, "bpf_object__open",
                          "cannot open the owner programs");
    return nullptr;
  }
  bool fds = part == Part::kFds;
  bpf_program__set_autoload(fds ? skel->progs.owner_progs : skel->progs.owner_fds, false);
  int err = owners__load(skel);
  if (!err) {
    *link = bpf_program__attach_iter(fds ? skel->progs.owner_fds : skel->progs.owner_progs, nullptr);
    if (*link) return skel;
    err = -errno;
    owners__destroy(skel);
    *error = MakeSysError(ErrorKind::kLoad, err, "bpf_link_create", LoadHint(part, -err));
    return nullptr;
  }
  owners__destroy(skel);
  err = err < 0 ? -err : err;
  if (err >= __LIBBPF_ERRNO__START) err = EINVAL;  // libbpf's own codes are no errno
  *error = MakeSysError(ErrorKind::kLoad, err, "bpf_prog_load", LoadHint(part, err), log.Tail());
  return nullptr;
}

void CopyName(char* dst, size_t n, const char* src) {
  memset(dst, 0, n);
  strncpy(dst, src, n);  // not NUL-terminated when full, like the kernel's names
}

}  // namespace

OwnersReader::OwnersReader(const OwnersOptions& options) : options_(options) {
  fds_skel_ = LoadOne(options_.btf_path, Part::kFds, &fds_link_, &fds_error_);
  progs_skel_ = LoadOne(options_.btf_path, Part::kProgs, &progs_link_, &progs_error_);
  if (options_.pins) pins_ = std::make_unique<PinWalker>(options_.bpffs, options_.procfs, options_.max_pins);
}

OwnersReader::~OwnersReader() { Close(); }

void OwnersReader::Close() {
  std::lock_guard<std::mutex> lock(mu_);  // waits for a pass in flight
  if (fds_link_) bpf_link__destroy(fds_link_);
  if (progs_link_) bpf_link__destroy(progs_link_);
  if (fds_skel_) owners__destroy(fds_skel_);
  if (progs_skel_) owners__destroy(progs_skel_);
  fds_link_ = progs_link_ = nullptr;
  fds_skel_ = progs_skel_ = nullptr;
  pins_.reset();
  closed_ = true;
}

// Where the kernel has no iter/bpf_prog: what `bpftool prog show` does, one program at a time.
// BPF_PROG_GET_NEXT_ID and BPF_PROG_GET_FD_BY_ID need CAP_SYS_ADMIN.
SysError OwnersReader::ReadProgsById(std::vector<uint8_t>* out) {
  out->clear();
  __u32 id = 0;
  for (;;) {
    if (bpf_prog_get_next_id(id, &id) != 0) {
      if (errno == ENOENT) return {};
      return MakeSysError(ErrorKind::kSystem, errno, "bpf_prog_get_next_id",
                          "listing programs needs iter/bpf_prog (Linux >= 5.9) or CAP_SYS_ADMIN");
    }
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) {
      if (errno == ENOENT) continue;  // unloaded meanwhile
      return MakeSysError(ErrorKind::kSystem, errno, "bpf_prog_get_fd_by_id",
                          "listing programs needs iter/bpf_prog (Linux >= 5.9) or CAP_SYS_ADMIN");
    }
    owner_prog_record rec = {};
    struct bpf_prog_info info = {};
    info.nr_map_ids = OWNERS_MAX_MAPS;
    info.map_ids = reinterpret_cast<__u64>(rec.map_ids);
    __u32 len = sizeof(info);
    int err = bpf_obj_get_info_by_fd(fd, &info, &len);
    close(fd);
    if (err) continue;
    rec.size = sizeof(rec);
    rec.version = OWNERS_VERSION;
    rec.id = info.id;
    rec.type = info.type;
    rec.map_count = info.nr_map_ids;
    CopyName(rec.name, sizeof(rec.name), info.name);
    auto* bytes = reinterpret_cast<const uint8_t*>(&rec);
    out->insert(out->end(), bytes, bytes + sizeof(rec));
  }
}

void OwnersReader::Read(OwnersRead* out, std::chrono::microseconds pins_budget) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    out->fds_error = out->progs_error =
        MakeSysError(ErrorKind::kSystem, EBADF, "owners", "the reader was closed");
    return;
  }
  uint64_t bytes = 0;
  auto t = std::chrono::steady_clock::now();
  if (fds_link_)
    out->fds_error = ReadIteratorRecords(bpf_link__fd(fds_link_), sizeof(owner_fd_record), "task_file", &out->fds, &bytes);
  else
    out->fds_error = fds_error_;
  out->fds_ms = MsSince(t);

  t = std::chrono::steady_clock::now();
  if (progs_link_) {
    out->progs_error = ReadIteratorRecords(bpf_link__fd(progs_link_), sizeof(owner_prog_record), "bpf_prog", &out->progs, &bytes);
  } else {
    out->progs_by_id = true;
    out->progs_error = ReadProgsById(&out->progs);
  }
  out->progs_ms = MsSince(t);

  // Records of another size or version are the wrong build, not data.
  auto check = [](const std::vector<uint8_t>& buf, size_t size, SysError* error) {
    for (size_t off = 0; !*error && off + size <= buf.size(); off += size) {
      uint16_t s, v;
      memcpy(&s, buf.data() + off, 2);
      memcpy(&v, buf.data() + off + 2, 2);
      if (s != size || v != OWNERS_VERSION)
        *error = MakeSysError(ErrorKind::kRecord, EPROTO, "read",
                              "owner record at byte " + std::to_string(off) + " has size " +
                                  std::to_string(s) + ", version " + std::to_string(v));
    }
  };
  check(out->fds, sizeof(owner_fd_record), &out->fds_error);
  check(out->progs, sizeof(owner_prog_record), &out->progs_error);
  if (out->fds_error) out->fds.clear();
  if (out->progs_error) out->progs.clear();

  if (pins_) {
    t = std::chrono::steady_clock::now();
    out->pins = pins_->Walk(t + pins_budget);
    out->pins_walked = true;
    out->pins_ms = MsSince(t);
  }
}

}  // namespace emp
