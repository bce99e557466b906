// SPDX-License-Identifier: Apache-2.0
#include "libbpf_log.h"

#include <cstdarg>
#include <cstdio>

namespace emp {
namespace {

std::mutex g_mu;
std::string* g_log = nullptr;  // the live capture's buffer, under g_mu

}  // namespace

LibbpfLog::LibbpfLog() : lock_(g_mu) {
  g_log = &log_;
  previous_ = libbpf_set_print(Print);
}

LibbpfLog::~LibbpfLog() {
  libbpf_set_print(previous_);
  g_log = nullptr;
}

int LibbpfLog::Print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), fmt, args);
  if (g_log != nullptr) {
    g_log->append(line);
    if (g_log->size() > 64 * 1024) g_log->erase(0, g_log->size() - 64 * 1024);
  }
  return n;
}

std::string LibbpfLog::Tail(size_t max_lines) const {
  if (log_.empty()) return log_;  // substr(1) of "" would throw
  size_t pos = log_.size();
  size_t lines = 0;
  while (pos > 0 && lines <= max_lines) {
    pos = log_.rfind('\n', pos - 1);
    if (pos == std::string::npos) return log_;
    lines++;
  }
  return log_.substr(pos + 1);
}

}  // namespace emp
