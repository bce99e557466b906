/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The records of bpf/owners.bpf.c, written with bpf_seq_write() one after another. Shared by
 * bpf/ (writer), native/ (reader) and, through the sizes asserted below, src/owners/records.ts.
 * Plain fixed-width fields only.
 */
#ifndef OWNERS_H
#define OWNERS_H

#ifndef __VMLINUX_TYPES
#include <linux/types.h>
#endif

#define OWNERS_VERSION 1
#define OWNERS_COMM_LEN 16
#define OWNERS_EXE_LEN 32
#define OWNERS_NAME_LEN 16
#define OWNERS_ATTACH_LEN 32
/* MAX_USED_MAPS in the kernel: a program uses at most 64 maps. */
#define OWNERS_MAX_MAPS 64

/* What an fd of a process refers to. Keep in step with src/owners/records.ts. */
enum owner_fd_kind {
	OWNER_FD_MAP = 1,	 /* a map: `id` is the map id */
	OWNER_FD_PROG = 2,	 /* a program: `id` is the program id */
	OWNER_FD_LINK = 3,	 /* a link: `id` is the link id, `prog_id` its program */
	OWNER_FD_PERF_EVENT = 4, /* a perf event running a program (kprobes, tracepoints):
				  * `prog_id` is that program, `id` 0 */
};

/* iter/task_file: one per fd of a process that is a BPF map, program, link, or a perf event
 * with a program. Threads that share their leader's file table are not repeated. */
struct owner_fd_record {
	__u16 size;    /* sizeof(struct owner_fd_record) as the writer knew it */
	__u16 version; /* OWNERS_VERSION */
	__u32 kind;    /* enum owner_fd_kind */
	__u32 pid;     /* the process (tgid), in the initial pid namespace */
	__u32 fd;
	__u32 id;
	__u32 prog_id;
	__u32 link_type; /* links: enum bpf_link_type */
	__u32 pad;
	__u64 cgroup_id;  /* the process's cgroup v2 (default hierarchy) id: its directory's inode */
	__u64 start_time; /* the process's start, ns since boot: a pid reused is another process */
	char comm[OWNERS_COMM_LEN]; /* the process's (leader's) comm; not UTF-8 */
	char exe[OWNERS_EXE_LEN];   /* base name of its executable, cut at 31 bytes; not UTF-8 */
};

/* iter/bpf_prog (5.9+), or the BPF_PROG_GET_NEXT_ID walk where it is missing: one per program. */
struct owner_prog_record {
	__u16 size;
	__u16 version;
	__u32 id;
	__u32 type;	   /* enum bpf_prog_type */
	__u32 attach_type; /* enum bpf_attach_type (expected_attach_type) */
	__u32 map_count;   /* maps it uses; the first OWNERS_MAX_MAPS are in map_ids */
	__u32 pad;
	char name[OWNERS_NAME_LEN];
	char attach_to[OWNERS_ATTACH_LEN]; /* the kernel function of tracing/LSM/iterator programs */
	__u32 map_ids[OWNERS_MAX_MAPS];
};

#ifdef __cplusplus
static_assert(sizeof(struct owner_fd_record) == 96, "owner_fd_record layout changed");
static_assert(sizeof(struct owner_prog_record) == 328, "owner_prog_record layout changed");
#else
_Static_assert(sizeof(struct owner_fd_record) == 96, "owner_fd_record layout changed");
_Static_assert(sizeof(struct owner_prog_record) == 328, "owner_prog_record layout changed");
#endif

#endif /* OWNERS_H */
