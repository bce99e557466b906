// SPDX-License-Identifier: Apache-2.0
#include "map_stats_reader.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "core_btf.h"
#include "iter_read.h"
#include "libbpf_log.h"
#include "map_stats.h"
#include "map_stats.skel.h"
#include "map_stats_nokfunc.skel.h"

namespace emp {
namespace {

std::string HintFor(int err, ErrorKind kind, const ReaderOptions& options) {
  if (kind == ErrorKind::kBtf)
    return (err == ENOENT ? "no file at " : "not a BTF file: ") + options.btf_path +
           ": point paths.btf at the kernel's BTF (/sys/kernel/btf/vmlinux on a kernel built "
           "with CONFIG_DEBUG_INFO_BTF=y)";
  switch (err) {
    case EPERM:
    case EACCES:
      // No hint: the agent gives EMP_PERMISSION's (src/errors.ts), the README's capability
      // advice, so the two cannot drift apart.
      return {};
    case ENOENT:
    case ESRCH:
      if (kind == ErrorKind::kOpen)
        return "the kernel's BTF was not found at " +
               (options.btf_path.empty() ? std::string("/sys/kernel/btf/vmlinux")
                                         : options.btf_path) +
               ": the kernel must be built with CONFIG_DEBUG_INFO_BTF=y (or set paths.btf)";
      return "the kernel lacks BPF iterators (needs Linux >= 5.8 with BTF)";
    case EINVAL:
    case E2BIG:
      return "the kernel rejected the iterator program; --log.level debug shows the verifier log";
    case ENOMEM:
      return "raise RLIMIT_MEMLOCK (ulimit -l) on kernels before 5.11";
    default:
      return {};
  }
}

// A paths.btf that is not BTF would otherwise fail later, in CO-RE relocation, looking like
// a verifier rejection.
bool ParsesAsBtf(const std::string& path) {
  struct btf* btf = btf__parse(path.c_str(), nullptr);
  if (!btf) return false;
  btf__free(btf);
  return true;
}

// The kfunc is looked up in the running kernel's BTF, not guessed from a version string:
// stable kernels carry backports.
bool KernelHasKfunc(const std::string& btf_path) {
  struct btf* btf = btf_path.empty() ? btf__load_vmlinux_btf() : btf__parse(btf_path.c_str(), nullptr);
  if (!btf) return false;
  bool found = btf__find_by_name_kind(btf, "bpf_map_sum_elem_count", BTF_KIND_FUNC) >= 0;
  btf__free(btf);
  return found;
}

// The step of opening the iterator that failed: what kind of failure, and its call.
struct Stage {
  ErrorKind kind = ErrorKind::kSystem;
  const char* syscall = "";
};

// Opens and loads one build of the skeleton with the tunables set; 0 or a negative errno,
// with *stage the step that failed.
template <typename Skel>
int OpenAndLoad(Skel* (*open)(const struct bpf_object_open_opts*), int (*load)(Skel*),
                void (*destroy)(Skel*), const struct bpf_object_open_opts* opts,
                const ReaderOptions& options, bpf_program** prog, std::function<void()>* free,
                Stage* stage) {
  Skel* skel = open(opts);
  if (!skel) {
    *stage = {ErrorKind::kOpen, "bpf_object__open"};
    return -errno;
  }
  *free = [skel, destroy] { destroy(skel); };
  // Tunables, seen by the verifier as constants.
  skel->rodata->use_kfunc = options.use_kfunc;
  skel->rodata->use_kernel_state = options.use_kernel_state;
  int err = load(skel);  // the verifier runs here
  if (err) {
    *stage = {ErrorKind::kLoad, "bpf_prog_load"};
    return err;
  }
  *prog = skel->progs.dump_map_stats;
  return 0;
}

}  // namespace

MapStatsReader::MapStatsReader(const ReaderOptions& options, SysError* error)
    : options_(options), memlock_(options.procfs), walks_(options.walk, options.btf_path) {
  Open(error);
  // 4. The walk programs, once the iterator works (they capture libbpf's log themselves).
  if (!*error) walks_.Load();
}

void MapStatsReader::Open(SysError* error) {
  LibbpfLog log;  // what libbpf says while we open and load goes into the error
  auto fail = [&](int err, Stage stage) {
    std::string detail = log.Tail();
    err = err < 0 ? -err : err;
    if (err >= __LIBBPF_ERRNO__START) err = EINVAL;  // libbpf's own codes are no errno
    *error =
        MakeSysError(stage.kind, err, stage.syscall, HintFor(err, stage.kind, options_), detail);
    Close();
  };

  // 1. Open: parse the embedded object, resolve BTF.
  LIBBPF_OPTS(bpf_object_open_opts, open_opts);
  open_opts.btf_custom_path = CoreBtfPath(options_.btf_path);
  if (!options_.btf_path.empty() && !ParsesAsBtf(options_.btf_path)) {
    fail(-errno, {ErrorKind::kBtf, "btf__parse"});
  } else {
    // 2. Open and load the build that fits the kernel: the one calling the kfunc only where
    //    the kernel's BTF has it (see MAP_STATS_NO_KFUNC in bpf/map_stats.bpf.c).
    bool has_kfunc = KernelHasKfunc(options_.btf_path);
    Stage stage;
    std::function<void()> destroy;
    int err = has_kfunc ? OpenAndLoad(map_stats__open_opts, map_stats__load, map_stats__destroy,
                                      &open_opts, options_, &prog_, &destroy, &stage)
                        : OpenAndLoad(map_stats_nokfunc__open_opts, map_stats_nokfunc__load,
                                      map_stats_nokfunc__destroy, &open_opts, options_, &prog_,
                                      &destroy, &stage);
    destroy_ = std::move(destroy);
    if (err) {
      prog_ = nullptr;
      fail(err, stage);
    } else {
      // 3. Attach the iterator.
      link_ = bpf_program__attach_iter(prog_, nullptr);
      if (!link_) {
        fail(-errno, {ErrorKind::kLoad, "bpf_link_create"});
      } else {
        kfunc_available_ = options_.use_kfunc && has_kfunc;
        if (options_.read_memory && options_.memory_estimate != ReaderOptions::Estimate::kNever)
          estimator_ = std::make_unique<MemoryEstimator>(options_.btf_path);
      }
    }
  }
}

MapStatsReader::~MapStatsReader() { Close(); }

void MapStatsReader::Close() {
  std::lock_guard<std::mutex> lock(mu_);  // waits for a collection in flight
  if (link_) bpf_link__destroy(link_);
  link_ = nullptr;
  prog_ = nullptr;
  if (destroy_) destroy_();
  destroy_ = nullptr;
}

SysError MapStatsReader::ReadIterator(std::vector<uint8_t>* out, uint64_t* bytes) {
  SysError error = ReadIteratorRecords(bpf_link__fd(link_), sizeof(map_stats_record), "bpf_map", out, bytes);
  if (error.syscall == "bpf_iter_create") error.hint = HintFor(error.err, error.kind, options_);
  return error;
}

SysError MapStatsReader::Collect(Collection* out) {
  SysError error = Read(out);
  return error ? error : Complete(out, {});
}

SysError MapStatsReader::Read(Collection* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!prog_) return MakeSysError(ErrorKind::kClosed, EBADF, "collect", "the reader was closed");

  SysError error = ReadIterator(&out->records, &out->bytes_read);
  if (error) return error;

  auto* records = reinterpret_cast<map_stats_record*>(out->records.data());
  size_t n = out->records.size() / sizeof(map_stats_record);
  for (size_t i = 0; i < n; i++) {
    if (records[i].size != sizeof(map_stats_record) || records[i].version != MAP_STATS_VERSION)
      return MakeSysError(ErrorKind::kRecord, EPROTO, "read",
                          "record " + std::to_string(i) + " has size " +
                              std::to_string(records[i].size) + ", version " +
                              std::to_string(records[i].version));
  }
  return {};
}

SysError MapStatsReader::Complete(Collection* out, const std::vector<uint8_t>& wanted) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!prog_) return MakeSysError(ErrorKind::kClosed, EBADF, "collect", "the reader was closed");

  auto* records = reinterpret_cast<map_stats_record*>(out->records.data());
  size_t n = out->records.size() / sizeof(map_stats_record);
  if (!wanted.empty() && wanted.size() != n)
    return MakeSysError(ErrorKind::kSystem, EINVAL, "collect",
                        "the selection has " + std::to_string(wanted.size()) + " entries for " +
                            std::to_string(n) + " records");
  auto skipped = [&](size_t i) { return !wanted.empty() && !wanted[i]; };
  // A map the caller does not report is not touched: no walk, no fd, no fdinfo read.
  for (size_t i = 0; i < n; i++)
    if (skipped(i)) records[i].flags &= ~MAP_STATS_F_NEEDS_WALK;

  // Walks first: the memlock cache follows the counts they produce.
  out->walk_error = walks_.Fill(records, n, &out->count_age_ms, &out->walks);
  std::vector<double> estimates(n, -1);
  bool estimate = estimator_ && (options_.memory_estimate == ReaderOptions::Estimate::kAlways ||
                                 !estimator_->fdinfo_exact());
  for (size_t i = 0; estimate && i < n; i++)
    if (!skipped(i)) estimates[i] = estimator_->Estimate(records[i]);
  out->memory_estimated.assign(n, 0);
  for (size_t i = 0; i < n; i++) out->memory_estimated[i] = estimates[i] >= 0;
  if (options_.read_memory)
    out->memory_error = memlock_.Fill(records, n, estimates, wanted, &out->memlock, &out->memlock_reads);
  else
    out->memlock.assign(n, -1);
  return {};
}

}  // namespace emp
