/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel-internal types the iterator reads, declared here instead of a vmlinux.h
 * generated from the build host's kernel, so a build needs no /sys/kernel/btf. Only the
 * fields we read are listed: preserve_access_index makes every access a CO-RE relocation
 * that libbpf resolves against the running kernel's BTF at load time.
 */
#ifndef KERNEL_TYPES_H
#define KERNEL_TYPES_H

#include <linux/types.h>
#include <linux/bpf.h> /* uapi: enum bpf_map_type and the BPF_F_* flags */

#define __VMLINUX_TYPES 1
#define __pai __attribute__((preserve_access_index))

typedef struct {
	int counter;
} atomic_t;

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __pai;

struct bpf_map {
	enum bpf_map_type map_type;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
	__u32 map_flags;
	__u32 id;
	char name[16];
} __pai;

struct bpf_iter__bpf_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
} __pai;

/* kernel/bpf/map_iter.c: one call per element, then one with key == NULL at the end. */
struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	void *value;
} __pai;

/* net/core/sock_map.c: one call per slot (sk NULL when empty), then one with key == NULL. */
struct sock;
struct bpf_iter__sockmap {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	struct sock *sk;
} __pai;

/* kernel/bpf/queue_stack_maps.c: a ring of max_entries + 1 slots. */
struct bpf_queue_stack {
	struct bpf_map map;
	__u32 head;
	__u32 tail;
	__u32 size;
} __pai;

/* kernel/bpf/lpm_trie.c */
struct lpm_trie {
	struct bpf_map map;
	unsigned long n_entries;
} __pai;

/* kernel/bpf/ringbuf.c */
struct bpf_ringbuf {
	__u64 mask;
	unsigned long consumer_pos;
	unsigned long producer_pos;
} __pai;

struct bpf_ringbuf_map {
	struct bpf_map map;
	struct bpf_ringbuf *rb;
} __pai;

/* kernel/bpf/hashtab.c: `count` is exact while use_percpu_counter is false (small maps,
 * and every kernel before 6.1); prealloc maps keep no counter before 6.6. */
struct bpf_htab {
	struct bpf_map map;
	atomic_t count;
	_Bool use_percpu_counter;
} __pai;

/* kernel/bpf/devmap.c: `items` is maintained for BPF_MAP_TYPE_DEVMAP_HASH only. */
struct bpf_dtab {
	struct bpf_map map;
	unsigned int items;
} __pai;

/* net/core/sock_map.c: sockhash. */
struct bpf_shtab {
	struct bpf_map map;
	atomic_t count;
} __pai;

/* lib/rhashtable.c keeps `nelems`, exact, under the table's own locking. */
struct rhashtable {
	atomic_t nelems;
} __pai;

/* kernel/bpf/rhashtab.c (7.2+): BPF_MAP_TYPE_RHASH, a resizable hash on rhashtable. */
struct bpf_rhtab {
	struct bpf_map map;
	struct rhashtable ht;
} __pai;

/* ---- owners (bpf/owners.bpf.c): who holds each map, which programs use it ---- */

/* kernel/bpf/prog_iter.c (5.9+): one call per program, then one with prog == NULL. */
struct bpf_prog_aux {
	__u32 id;
	char name[16];
	__u32 used_map_cnt;
	struct bpf_map **used_maps;
	const char *attach_func_name;
} __pai;

struct bpf_prog {
	enum bpf_prog_type type;
	enum bpf_attach_type expected_attach_type;
	struct bpf_prog_aux *aux;
} __pai;

struct bpf_iter__bpf_prog {
	struct bpf_iter_meta *meta;
	struct bpf_prog *prog;
} __pai;

struct bpf_link {
	__u32 id;
	enum bpf_link_type type;
	struct bpf_prog *prog;
} __pai;

/* kernel/events/core.c: the program a perf event runs (kprobes, tracepoints before links). */
struct perf_event {
	struct bpf_prog *prog;
} __pai;

struct qstr {
	const unsigned char *name;
} __pai;

struct dentry {
	struct qstr d_name;
} __pai;

struct path {
	struct dentry *dentry;
} __pai;

struct super_block {
	unsigned long s_magic;
} __pai;

struct inode {
	struct super_block *i_sb;
} __pai;

struct file {
	struct path f_path;
	struct inode *f_inode;
	void *private_data;
} __pai;

struct mm_struct {
	struct file *exe_file;
} __pai;

struct kernfs_node {
	__u64 id;
} __pai;

struct cgroup {
	struct kernfs_node *kn;
} __pai;

struct css_set {
	struct cgroup *dfl_cgrp;
} __pai;

struct files_struct;

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
	__u64 start_time;
	struct task_struct *group_leader;
	struct files_struct *files;
	struct mm_struct *mm;
	struct css_set *cgroups;
} __pai;

/* kernel/bpf/task_iter.c: one call per open file of every task, then one with task NULL. */
struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
} __pai;

#endif /* KERNEL_TYPES_H */
