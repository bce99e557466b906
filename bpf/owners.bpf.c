// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Who owns each map, found in the kernel:
 *   - iter/task_file: every open file of every process; one struct owner_fd_record for each
 *     that is a BPF map, program or link (or a perf event running a program);
 *   - iter/bpf_prog: every program; one struct owner_prog_record with the maps it uses.
 * User space loads each program on its own (a kernel may lack or refuse one) and joins the
 * records with the maps of iter/bpf_map by id.
 */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "owners.h"

/* include/uapi/linux/magic.h: the pseudo file system of anonymous inodes. */
#define ANON_INODE_FS_MAGIC 0x09041934

/* Map pointers read at once by owner_progs: what its stack has room for. */
#define OWNERS_PTR_CHUNK 16

/*
 * What a file is. A BPF object's fd is an anonymous inode named by kernel/bpf/syscall.c
 * ("bpf-map", "bpf-prog", "bpf_link" or "bpf-link"), and a perf event's "[perf_event]". The name alone is
 * not enough (any directory may hold a file called bpf-map): the inode must be on the
 * anonymous-inode file system too, which only kernel code can put a file on. bpftool compares
 * file->f_op with the bpf_map_fops ksym instead; that needs the ksym's address from
 * /proc/kallsyms, which reads as 0 without CAP_SYSLOG (kptr_restrict), and the agent runs with
 * CAP_SYS_ADMIN alone, or CAP_BPF + CAP_PERFMON.
 */
static __always_inline __u32 kind_of(struct file *file)
{
	const unsigned char *name;
	char buf[16];

	if (BPF_CORE_READ(file, f_inode, i_sb, s_magic) != ANON_INODE_FS_MAGIC)
		return 0;
	name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	if (!name)
		return 0;
	__builtin_memset(buf, 0, sizeof(buf));
	if (bpf_probe_read_kernel_str(buf, sizeof(buf), name) < 0)
		return 0;
	/* Whole names, with their NUL. */
	if (buf[0] == 'b' && buf[1] == 'p' && buf[2] == 'f') {
		if (buf[3] == '-' && buf[4] == 'm' && buf[5] == 'a' && buf[6] == 'p' && !buf[7])
			return OWNER_FD_MAP;
		if (buf[3] == '-' && buf[4] == 'p' && buf[5] == 'r' && buf[6] == 'o' && buf[7] == 'g' &&
		    !buf[8])
			return OWNER_FD_PROG;
		/* "bpf_link" when created, "bpf-link" when opened from a pin or by id. */
		if ((buf[3] == '_' || buf[3] == '-') && buf[4] == 'l' && buf[5] == 'i' &&
		    buf[6] == 'n' && buf[7] == 'k' && !buf[8])
			return OWNER_FD_LINK;
		return 0;
	}
	if (buf[0] == '[' && buf[1] == 'p' && buf[2] == 'e' && buf[3] == 'r' && buf[4] == 'f' &&
	    buf[5] == '_' && buf[6] == 'e' && buf[7] == 'v' && buf[8] == 'e' && buf[9] == 'n' &&
	    buf[10] == 't' && buf[11] == ']' && !buf[12])
		return OWNER_FD_PERF_EVENT;
	return 0;
}

SEC("iter/task_file")
int owner_fds(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct task_struct *leader;
	struct owner_fd_record rec;
	const unsigned char *exe;
	void *obj;
	__u32 kind;

	if (!task || !file)
		return 0;
	/* A thread sharing its leader's file table would repeat the leader's fds (the kernel
	 * skips those itself from 5.9; 5.8 does not). */
	leader = BPF_CORE_READ(task, group_leader);
	if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid) &&
	    BPF_CORE_READ(task, files) == BPF_CORE_READ(leader, files))
		return 0;
	kind = kind_of(file);
	if (!kind)
		return 0;

	__builtin_memset(&rec, 0, sizeof(rec));
	rec.size = sizeof(rec);
	rec.version = OWNERS_VERSION;
	rec.kind = kind;
	rec.pid = BPF_CORE_READ(task, tgid);
	rec.fd = ctx->fd;
	obj = BPF_CORE_READ(file, private_data);
	switch (kind) {
	case OWNER_FD_MAP:
		rec.id = BPF_CORE_READ((struct bpf_map *)obj, id);
		break;
	case OWNER_FD_PROG:
		rec.id = BPF_CORE_READ((struct bpf_prog *)obj, aux, id);
		break;
	case OWNER_FD_LINK:
		rec.id = BPF_CORE_READ((struct bpf_link *)obj, id);
		rec.link_type = BPF_CORE_READ((struct bpf_link *)obj, type);
		if (BPF_CORE_READ((struct bpf_link *)obj, prog))
			rec.prog_id = BPF_CORE_READ((struct bpf_link *)obj, prog, aux, id);
		break;
	case OWNER_FD_PERF_EVENT:
		if (!bpf_core_field_exists(((struct perf_event *)obj)->prog))
			return 0;
		if (!BPF_CORE_READ((struct perf_event *)obj, prog))
			return 0; /* a perf event without a program: not ours to report */
		rec.prog_id = BPF_CORE_READ((struct perf_event *)obj, prog, aux, id);
		break;
	}
	if (bpf_core_field_exists(task->cgroups))
		rec.cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	rec.start_time = BPF_CORE_READ(leader, start_time);
	bpf_probe_read_kernel_str(rec.comm, sizeof(rec.comm), leader->comm);
	exe = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
	if (exe)
		bpf_probe_read_kernel_str(rec.exe, sizeof(rec.exe), exe);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

SEC("iter/bpf_prog")
int owner_progs(struct bpf_iter__bpf_prog *ctx)
{
	struct bpf_map *chunk[OWNERS_PTR_CHUNK];
	struct bpf_prog *prog = ctx->prog;
	struct owner_prog_record rec;
	struct bpf_prog_aux *aux;
	struct bpf_map **maps;
	const char *attach;
	__u32 c, j, n, left, size;

	if (!prog)
		return 0;
	aux = BPF_CORE_READ(prog, aux);
	__builtin_memset(&rec, 0, sizeof(rec));
	rec.size = sizeof(rec);
	rec.version = OWNERS_VERSION;
	rec.id = BPF_CORE_READ(aux, id);
	rec.type = BPF_CORE_READ(prog, type);
	rec.attach_type = BPF_CORE_READ(prog, expected_attach_type);
	bpf_probe_read_kernel(rec.name, sizeof(rec.name), aux->name);
	attach = BPF_CORE_READ(aux, attach_func_name);
	if (attach)
		bpf_probe_read_kernel_str(rec.attach_to, sizeof(rec.attach_to), attach);
	n = BPF_CORE_READ(aux, used_map_cnt);
	rec.map_count = n;
	maps = BPF_CORE_READ(aux, used_maps);
	/*
	 * The map pointers a chunk at a time, then one id read a slot, with no branch in the
	 * slot loop: the verifiers of 5.10 and 6.1 walk every path of a loop body (a branch a
	 * slot took them past 1M instructions, and the program was refused there). A slot past
	 * the maps holds NULL, whose read fails and leaves 0.
	 */
	for (c = 0; c < OWNERS_MAX_MAPS; c += OWNERS_PTR_CHUNK) {
		left = n > c ? n - c : 0;
		size = (left < OWNERS_PTR_CHUNK ? left : OWNERS_PTR_CHUNK) * sizeof(chunk[0]);
		__builtin_memset(chunk, 0, sizeof(chunk));
		if (maps && size > 0 && size <= sizeof(chunk))
			bpf_probe_read_kernel(chunk, size, maps + c);
		for (j = 0; j < OWNERS_PTR_CHUNK; j++)
			bpf_core_read(&rec.map_ids[c + j], sizeof(rec.map_ids[0]), &chunk[j]->id);
	}
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
