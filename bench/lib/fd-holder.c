// SPDX-License-Identifier: Apache-2.0
// Benchmark helper: a small process that holds fds, so that 1,000 of them cost megabytes, not
// the gigabytes as many node processes would. Usage: fd-holder N_OTHER MAP_ID... — opens each
// map by id (BPF_MAP_GET_FD_BY_ID, root) and N_OTHER fds of /dev/null, prints "ok", and waits
// until killed.
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  int other = atoi(argv[1]);
  for (int i = 2; i < argc; i++) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_id = (unsigned)strtoul(argv[i], NULL, 10);
    if (syscall(SYS_bpf, BPF_MAP_GET_FD_BY_ID, &attr, sizeof(attr)) < 0) {
      perror("BPF_MAP_GET_FD_BY_ID");
      return 1;
    }
  }
  for (int i = 0; i < other; i++)
    if (open("/dev/null", O_RDONLY) < 0) {
      perror("open");
      return 1;
    }
  printf("ok\n");
  fflush(stdout);
  for (;;) pause();
}
