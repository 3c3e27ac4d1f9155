/* Record layouts shared by the kernel side (vigil.bpf.c) and the user side
 * (ebpf_source.cc). The one place both sides agree on bytes: change a layout
 * here and both are rebuilt together. docs/ebpf-source.md describes them.
 *
 * Every record starts with vigil_rec_hdr. Exec records are variable-length
 * (header + used bytes of data[]); the others are fixed-size. The user side
 * checks each record's size against these structs before reading a field.
 *
 * Plain C so it compiles both under clang -target bpf (types from vmlinux.h)
 * and in C++. */
#ifndef VIGIL_SOURCES_EBPF_VIGIL_BPF_RECORDS_H_
#define VIGIL_SOURCES_EBPF_VIGIL_BPF_RECORDS_H_

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bounds of what the kernel side copies per exec. */
#define VIGIL_IMAGE_MAX 4096        /* bytes of the exec filename, incl. NUL */
#define VIGIL_ARGV_MAX 4096         /* bytes of mm->arg_start..arg_end */
#define VIGIL_CWD_DEPTH 16          /* path components walked from pwd upwards */
#define VIGIL_NAME_MAX 256          /* bytes per component, incl. NUL (NAME_MAX + 1) */
/* data[] holds image | argv | cwd components; sized so every copy fits at its
 * worst-case offset (4096 + 4096 + 16 * 256 = 12288 <= 16384), which is what
 * lets the verifier prove each write in bounds without per-byte checks. */
#define VIGIL_DATA_SIZE 16384

enum vigil_rec_kind {
  VIGIL_REC_EXEC = 1,
  VIGIL_REC_FORK = 2,
  VIGIL_REC_EXIT = 3,
  VIGIL_REC_CONNECT = 4,
};

/* vigil_exec_rec.flags */
#define VIGIL_EXEC_ARGV_TRUNCATED 0x1  /* argv was longer than VIGIL_ARGV_MAX */
#define VIGIL_EXEC_ARGV_UNREADABLE 0x2 /* the argv pages could not be read */
#define VIGIL_EXEC_CWD_TRUNCATED 0x4   /* pwd is deeper than VIGIL_CWD_DEPTH */

struct vigil_rec_hdr {
  __u32 kind;      /* enum vigil_rec_kind */
  __u32 pid;       /* tgid of the actor (fork: the child) */
  __u64 ktime_ns;  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  __u32 ppid;      /* real_parent->tgid */
  __u32 uid;       /* real uid/gid, in the initial user namespace */
  __u32 gid;
  __u32 loginuid;  /* audit loginuid; 0xffffffff when unset or not built in */
};

/* Followed in data[] by: image (image_len bytes, no NUL), argv (argv_len
 * bytes, NUL-separated as in the process image), then cwd_count components
 * from the leaf upwards, each NUL-terminated, cwd_len bytes in all. */
struct vigil_exec_rec {
  struct vigil_rec_hdr hdr;
  __u16 image_len;
  __u16 argv_len;
  __u16 cwd_len;
  __u8 cwd_count;
  __u8 flags;
  char data[VIGIL_DATA_SIZE];
};

struct vigil_fork_rec {
  struct vigil_rec_hdr hdr; /* pid = child tgid, ppid = parent tgid */
};

struct vigil_exit_rec {
  struct vigil_rec_hdr hdr;
  __u32 exit_code; /* task->exit_code: the wait status (code << 8 | signal) */
  __u32 pad;
};

struct vigil_connect_rec {
  struct vigil_rec_hdr hdr;
  __s32 result;    /* the syscall's return: 0 or -errno */
  __u16 family;    /* AF_INET or AF_INET6 */
  __u16 protocol;  /* sk->sk_protocol (IPPROTO_TCP/UDP), 0 when not read */
  __u8 dst_addr[16]; /* network byte order; IPv4 in the first 4 bytes */
  __u8 src_addr[16];
  __u16 dst_port;  /* host byte order */
  __u16 src_port;
  __u32 pad;
};

#endif /* VIGIL_SOURCES_EBPF_VIGIL_BPF_RECORDS_H_ */
