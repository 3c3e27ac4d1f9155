// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* vigil's kernel side: five small, read-only programs on tracepoints that copy
 * a bounded snapshot of process and connect activity into one ring buffer.
 * Everything else (decoding, joining, rules) happens in user space.
 *
 *   tp/sched/sched_process_exec      -> vigil_exec_rec   (image, argv, cwd)
 *   raw_tp/sched_process_fork        -> vigil_fork_rec   (new thread groups only)
 *   tp/sched/sched_process_exit      -> vigil_exit_rec   (last thread of a group)
 *   tp/syscalls/sys_enter_connect    -> stash sockaddr per thread
 *   tp/syscalls/sys_exit_connect     -> vigil_connect_rec (with the result)
 *
 * Fork uses the raw tracepoint because only it carries the child task, whose
 * tgid tells a new process from a new thread; it is the same kernel
 * tracepoint, without the perf formatting.
 *
 * Every loop has a constant bound and every copy a constant maximum size, so
 * the verifier can prove termination and bounds. A record the ring buffer has
 * no room for is counted in `lost`, never silently dropped. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "vigil_bpf_records.h"

/* The probe-read helpers are GPL-only. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define EBADF 9
#define ENOTSOCK 88

/* Set by the loader before load; 0 reports everything. Events whose actor is
 * this thread group (the sensor itself) are not emitted. */
const volatile __u32 self_tgid = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 << 20); /* the loader may resize before load */
} events SEC(".maps");

/* Records the ring buffer had no room for, per CPU; user space sums them. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

/* An exec record is up to 16 KiB, too large for the BPF stack; it is built
 * here and only its used bytes are copied into the ring. Tracepoint programs
 * run with preemption disabled, so one slot per CPU is never shared. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct vigil_exec_rec);
} exec_scratch SEC(".maps");

struct pending_connect {
  __u8 sockaddr[28]; /* sizeof(struct sockaddr_in6) */
  __u32 fd;
};

/* connect() arguments between syscall entry and exit, per thread. LRU, so a
 * thread killed inside connect() cannot leak an entry forever. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 8192);
  __type(key, __u64); /* pid_tgid */
  __type(value, struct pending_connect);
} pending_connects SEC(".maps");

static __always_inline void count_lost(void) {
  __u32 zero = 0;
  __u64 *n = bpf_map_lookup_elem(&lost, &zero);
  if (n)
    __sync_fetch_and_add(n, 1);
}

static __always_inline int is_self(__u32 tgid) { return self_tgid != 0 && tgid == self_tgid; }

static __always_inline void fill_hdr(struct vigil_rec_hdr *h, __u32 kind, __u32 tgid,
                                     struct task_struct *task) {
  __u64 ugid = bpf_get_current_uid_gid();
  h->kind = kind;
  h->pid = tgid;
  h->ktime_ns = bpf_ktime_get_ns();
  h->ppid = BPF_CORE_READ(task, real_parent, tgid);
  h->uid = (__u32)ugid;
  h->gid = (__u32)(ugid >> 32);
  h->loginuid = 0xffffffff;
  if (bpf_core_field_exists(task->loginuid))
    h->loginuid = BPF_CORE_READ(task, loginuid.val);
}

/* State of the walk from pwd up to the process's root, one step per
 * bpf_loop() iteration. bpf_loop (kernel 5.17+) has the verifier check the
 * step once; an open-coded loop would be re-verified per iteration and path,
 * which exceeds the verifier's budget for 32 steps. */
struct cwd_walk {
  struct dentry *d;
  struct vfsmount *vfsmnt;
  struct mount *mnt;
  struct dentry *root_dentry;
  struct vfsmount *root_mnt;
  __u32 off; /* next free byte of data[] */
  __u32 reached_root;
};

/* Either crosses one mount point or copies one component's name. Returns 1
 * to stop the walk. */
static long cwd_step(__u32 index, struct cwd_walk *w) {
  /* Locals, because BPF_CORE_READ(w->x, ...) would ask CO-RE to relocate the
   * access to our own struct cwd_walk, which the kernel's BTF does not know. */
  struct dentry *d = w->d;
  struct vfsmount *vfsmnt = w->vfsmnt;
  struct mount *mnt = w->mnt;
  if (d == w->root_dentry && vfsmnt == w->root_mnt) {
    w->reached_root = 1;
    return 1;
  }
  if (d == BPF_CORE_READ(vfsmnt, mnt_root)) {
    struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
    if (parent == mnt) { /* the root of this mount namespace */
      w->reached_root = 1;
      return 1;
    }
    w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
    w->mnt = parent;
    w->vfsmnt = &parent->mnt;
    return 0;
  }
  struct dentry *up = BPF_CORE_READ(d, d_parent);
  if (up == d) { /* a detached tree: nothing above to name */
    w->reached_root = 1;
    return 1;
  }
  __u32 zero = 0;
  struct vigil_exec_rec *r = bpf_map_lookup_elem(&exec_scratch, &zero);
  __u32 off = w->off;
  if (!r || r->cwd_count >= VIGIL_CWD_DEPTH || off > VIGIL_DATA_SIZE - VIGIL_NAME_MAX)
    return 1;
  long n = bpf_probe_read_kernel_str(&r->data[off], VIGIL_NAME_MAX, BPF_CORE_READ(d, d_name.name));
  if (n <= 0)
    return 1;
  w->off = off + n;
  r->cwd_count++;
  w->d = up;
  return 0;
}

/* Copies the names of the current working directory's components, leaf
 * first, each NUL-terminated, into r->data at `off`. Crosses mount points
 * like d_path() and stops at the process's root. Returns the bytes written. */
static __always_inline __u32 copy_cwd(struct vigil_exec_rec *r, __u32 off,
                                      struct task_struct *task) {
  struct fs_struct *fs = BPF_CORE_READ(task, fs);
  struct cwd_walk w = {
      .d = BPF_CORE_READ(fs, pwd.dentry),
      .vfsmnt = BPF_CORE_READ(fs, pwd.mnt),
      .root_dentry = BPF_CORE_READ(fs, root.dentry),
      .root_mnt = BPF_CORE_READ(fs, root.mnt),
      .off = off,
  };
  w.mnt = container_of(w.vfsmnt, struct mount, mnt);
  /* Each step crosses one mount or copies one component: 2x the depth. */
  bpf_loop(2 * VIGIL_CWD_DEPTH, cwd_step, &w, 0);
  if (!w.reached_root)
    r->flags |= VIGIL_EXEC_CWD_TRUNCATED;
  return w.off - off;
}

SEC("tp/sched/sched_process_exec")
int vigil_exec(struct trace_event_raw_sched_process_exec *ctx) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (is_self(tgid))
    return 0;
  __u32 zero = 0;
  struct vigil_exec_rec *r = bpf_map_lookup_elem(&exec_scratch, &zero);
  if (!r)
    return 0;
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  fill_hdr(&r->hdr, VIGIL_REC_EXEC, tgid, task);
  r->image_len = 0;
  r->argv_len = 0;
  r->cwd_len = 0;
  r->cwd_count = 0;
  r->flags = 0;

  /* The path as given to execve (bprm->filename), from the event's payload. */
  unsigned int loc = ctx->__data_loc_filename & 0xffff;
  long n = bpf_probe_read_kernel_str(r->data, VIGIL_IMAGE_MAX, (void *)ctx + loc);
  __u32 off = n > 0 ? n - 1 : 0; /* drop the NUL */
  if (off > VIGIL_IMAGE_MAX - 1)
    off = VIGIL_IMAGE_MAX - 1;
  r->image_len = off;

  /* argv as the new program sees it, freshly written by exec, so resident. */
  struct mm_struct *mm = BPF_CORE_READ(task, mm);
  unsigned long arg_start = BPF_CORE_READ(mm, arg_start);
  unsigned long arg_end = BPF_CORE_READ(mm, arg_end);
  __u64 argv_len = arg_end > arg_start ? arg_end - arg_start : 0;
  if (argv_len > VIGIL_ARGV_MAX) {
    argv_len = VIGIL_ARGV_MAX;
    r->flags |= VIGIL_EXEC_ARGV_TRUNCATED;
  }
  if (argv_len > 0) {
    if (bpf_probe_read_user(&r->data[off], argv_len, (void *)arg_start) == 0) {
      r->argv_len = argv_len;
      off += argv_len;
    } else {
      r->flags |= VIGIL_EXEC_ARGV_UNREADABLE;
    }
  }

  r->cwd_len = copy_cwd(r, off, task);
  off += r->cwd_len;

  __u64 size = offsetof(struct vigil_exec_rec, data) + off;
  if (size > sizeof(*r))
    size = sizeof(*r);
  if (bpf_ringbuf_output(&events, r, size, 0) != 0)
    count_lost();
  return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(vigil_fork, struct task_struct *parent, struct task_struct *child) {
  __u32 child_pid = BPF_CORE_READ(child, pid);
  __u32 child_tgid = BPF_CORE_READ(child, tgid);
  if (child_pid != child_tgid) /* a new thread, not a new process */
    return 0;
  if (is_self(bpf_get_current_pid_tgid() >> 32))
    return 0;
  struct vigil_fork_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
  if (!r) {
    count_lost();
    return 0;
  }
  /* The child's credentials and loginuid are the parent's (current) ones; its
   * real_parent differs from current with CLONE_PARENT, so read the child's. */
  fill_hdr(&r->hdr, VIGIL_REC_FORK, child_tgid, child);
  bpf_ringbuf_submit(r, 0);
  return 0;
}

SEC("tp/sched/sched_process_exit")
int vigil_exit(void *ctx) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (is_self(tgid))
    return 0;
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  /* do_exit() decrements signal->live before this tracepoint; zero means this
   * is the last thread of the group, i.e. the process is gone. */
  if (BPF_CORE_READ(task, signal, live.counter) != 0)
    return 0;
  struct vigil_exit_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
  if (!r) {
    count_lost();
    return 0;
  }
  fill_hdr(&r->hdr, VIGIL_REC_EXIT, tgid, task);
  r->exit_code = BPF_CORE_READ(task, exit_code);
  r->pad = 0;
  bpf_ringbuf_submit(r, 0);
  return 0;
}

SEC("tp/syscalls/sys_enter_connect")
int vigil_conn_enter(struct trace_event_raw_sys_enter *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  if (is_self(id >> 32))
    return 0;
  const void *uaddr = (const void *)ctx->args[1];
  __u64 addrlen = ctx->args[2];
  __u16 family = 0;
  if (addrlen < sizeof(family) || bpf_probe_read_user(&family, sizeof(family), uaddr) != 0)
    return 0;
  if (family != AF_INET && family != AF_INET6)
    return 0;
  struct pending_connect p = {};
  if (addrlen > sizeof(p.sockaddr))
    addrlen = sizeof(p.sockaddr);
  /* An unreadable or short address makes connect() fail with EFAULT/EINVAL;
   * the event is still worth reporting, with whatever was read. */
  bpf_probe_read_user(p.sockaddr, addrlen, uaddr);
  p.fd = ctx->args[0];
  bpf_map_update_elem(&pending_connects, &id, &p, BPF_ANY);
  return 0;
}

/* Protocol and bound source address from the socket behind `fd`. */
static __always_inline void read_socket(struct vigil_connect_rec *r, __u32 fd) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
  if (fd >= BPF_CORE_READ(fdt, max_fds))
    return;
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *file = NULL;
  if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) != 0 || !file)
    return;
  struct socket *sock = BPF_CORE_READ(file, private_data);
  /* A socket points back at its file; anything else does not. */
  if (!sock || BPF_CORE_READ(sock, file) != file)
    return;
  struct sock *sk = BPF_CORE_READ(sock, sk);
  if (!sk)
    return;
  r->protocol = BPF_CORE_READ(sk, sk_protocol);
  r->src_port = BPF_CORE_READ(sk, __sk_common.skc_num);
  if (r->family == AF_INET)
    BPF_CORE_READ_INTO(&r->src_addr, sk, __sk_common.skc_rcv_saddr);
  else
    BPF_CORE_READ_INTO(&r->src_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
}

SEC("tp/syscalls/sys_exit_connect")
int vigil_conn_exit(struct trace_event_raw_sys_exit *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  struct pending_connect *p = bpf_map_lookup_elem(&pending_connects, &id);
  if (!p)
    return 0;
  struct vigil_connect_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
  if (!r) {
    count_lost();
    bpf_map_delete_elem(&pending_connects, &id);
    return 0;
  }
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  fill_hdr(&r->hdr, VIGIL_REC_CONNECT, id >> 32, task);
  r->result = ctx->ret;
  __builtin_memset(r->dst_addr, 0, sizeof(r->dst_addr));
  __builtin_memset(r->src_addr, 0, sizeof(r->src_addr));
  r->protocol = 0;
  r->src_port = 0;
  r->pad = 0;
  /* sockaddr_in:  family(2) port(2) addr(4);  sockaddr_in6: family(2) port(2)
   * flowinfo(4) addr(16) scope(4). Ports are in network byte order. */
  r->family = *(__u16 *)&p->sockaddr[0];
  r->dst_port = bpf_ntohs(*(__u16 *)&p->sockaddr[2]);
  if (r->family == AF_INET)
    __builtin_memcpy(r->dst_addr, &p->sockaddr[4], 4);
  else
    __builtin_memcpy(r->dst_addr, &p->sockaddr[8], 16);
  if (ctx->ret != -EBADF && ctx->ret != -ENOTSOCK)
    read_socket(r, p->fd);
  bpf_ringbuf_submit(r, 0);
  bpf_map_delete_elem(&pending_connects, &id);
  return 0;
}
