/*
 * Least privilege on Linux: root dropped, Landlock, seccomp (see confine.h for the order
 * and the choice of kill-on-violation).
 */
#include "base/confine.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

/* LeakSanitizer checks for leaks at exit from a helper process (clone without
 * CLONE_THREAD) that ptrace-attaches every thread and reads /proc/self/task and maps. In
 * sanitizer builds (tests only) the filter lets exactly that through and the process stays
 * dumpable; release builds never do. */
#if defined(__SANITIZE_ADDRESS__)
#define LEAK_CHECKER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEAK_CHECKER 1
#endif
#endif
#ifndef LEAK_CHECKER
#define LEAK_CHECKER 0
#endif

int
confine_leak_checker_allowed(void)
{
	return LEAK_CHECKER;
}

const char *const confine_default_read_paths[] = {
	"/dev/urandom",         /* SQLite's unix VFS seeds its PRNG from it */
	/* libuv keeps a descriptor on it in reserve, to accept and close connections when the
	 * process runs out of descriptors; denied, it tries to open it (and "/") again for
	 * every connection it sets up. */
	"/dev/null",
	"/etc/localtime",
	"/usr/share/zoneinfo",
	"/etc/hosts",           /* name resolution (a bridge connecting to a host name) */
	"/etc/resolv.conf",
	"/etc/nsswitch.conf",
	"/etc/host.conf",
	"/etc/gai.conf",
	NULL
};

/* ---- privileges ---- */

int
confine_drop_privileges(const char *user)
{
	struct passwd pw, *res = NULL;
	char *pwbuf = NULL;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	uid_t ru, eu, su, uid;
	gid_t rg, eg, sg, gid, groups[2];
	int r = SOTTO_ERR_AUTH;

	if (user == NULL || user[0] == '\0')
		return SOTTO_ERR_INVALID_ARG;
	if (geteuid() != 0)
		return 0;
	if (sz < 1024)
		sz = 16384;
	if ((pwbuf = malloc((size_t)sz)) == NULL)
		return SOTTO_ERR_NOMEM;
	if (getpwnam_r(user, &pw, pwbuf, (size_t)sz, &res) != 0 || res == NULL) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	uid = pw.pw_uid;
	gid = pw.pw_gid;
	if (uid == 0 || gid == 0) {
		r = SOTTO_ERR_INVALID_ARG;
		goto out;
	}
	/* Groups first: after setresuid we could no longer shed root's supplementary groups. */
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0)
		goto out;
	if (getresuid(&ru, &eu, &su) != 0 || ru != uid || eu != uid || su != uid ||
	    getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid)
		goto out;
	if (getgroups(2, groups) != 1 || groups[0] != gid)
		goto out;
	/* Root must be gone for good: these would succeed if any saved id or capability stayed. */
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || setegid(0) == 0)
		goto out;
	r = 0;
out:
	free(pwbuf);
	return r;
}

/* ---- Landlock ---- */

/* Our own copies: the installed headers may predate ABI 3..6. The kernel accepts a struct
 * of any size it knows, so we pass only the fields the running ABI understands. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;    /* ABI >= 4 */
	uint64_t scoped;                /* ABI >= 6 */
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port {
	uint64_t allowed_access;
	uint64_t port;
};

#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_REFER (1ULL << 13)       /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)    /* ABI 3 */
#define LL_NET_BIND_TCP (1ULL << 0)    /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)     /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

int
confine_landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return v > 0 ? (int)v : 0;
}

static uint64_t
ll_handled_fs(int abi)
{
	if (abi >= 5)
		return (1ULL << 16) - 1;        /* + IOCTL_DEV */
	if (abi >= 3)
		return (1ULL << 15) - 1;        /* + TRUNCATE */
	if (abi >= 2)
		return (1ULL << 14) - 1;        /* + REFER */
	return (1ULL << 13) - 1;
}

static int
ll_add_path(int ruleset, const char *path, uint64_t rights, int required)
{
	struct ll_path_beneath pb;
	struct stat st;
	int fd;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return required ? SOTTO_ERR_IO : 0;
	/* Rules on a file may carry only the file rights; directory rights there are EINVAL. */
	if (fstat(fd, &st) != 0) {
		close(fd);
		return SOTTO_ERR_IO;
	}
	if (!S_ISDIR(st.st_mode))
		rights &= LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE;
	pb.allowed_access = rights;
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &pb, 0) != 0) {
		close(fd);
		return SOTTO_ERR_INTERNAL;
	}
	close(fd);
	return 0;
}

static int
ll_add_ports(int ruleset, const uint16_t *ports, size_t n, uint64_t right)
{
	for (size_t i = 0; i < n; i++) {
		struct ll_net_port np = { right, ports[i] };
		if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &np, 0) != 0)
			return SOTTO_ERR_INTERNAL;
	}
	return 0;
}

int
confine_landlock(const struct confine_opts *o, int *abi_out)
{
	struct ll_ruleset_attr attr;
	const char *const *ro;
	uint64_t handled, rw;
	size_t attr_size;
	int abi, rs = -1, r;

	if (abi_out != NULL)
		*abi_out = 0;
	if (o == NULL || o->data_dir == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((abi = confine_landlock_abi()) == 0)
		return SOTTO_ERR_UNSUPPORTED;
	handled = ll_handled_fs(abi);
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled;
	attr_size = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		attr_size += sizeof(attr.handled_access_net);
		if (o->restrict_net)
			attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
	}
	if (abi >= 6) {
		attr_size += sizeof(attr.scoped);
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
	}
	if ((rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0)) < 0)
		return SOTTO_ERR_INTERNAL;

	rw = handled & (LL_FS_READ_FILE | LL_FS_WRITE_FILE | LL_FS_READ_DIR | LL_FS_REMOVE_DIR |
	    LL_FS_REMOVE_FILE | LL_FS_MAKE_DIR | LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_REFER |
	    LL_FS_TRUNCATE);
	if ((r = ll_add_path(rs, o->data_dir, rw, 1)) != 0 ||
	    (o->shared_dir != NULL && (r = ll_add_path(rs, o->shared_dir, rw, 1)) != 0))
		goto out;
	for (ro = o->read_paths != NULL ? o->read_paths : confine_default_read_paths; *ro; ro++)
		if ((r = ll_add_path(rs, *ro, LL_FS_READ_FILE | LL_FS_READ_DIR, 0)) != 0)
			goto out;
	if (LEAK_CHECKER && (r = ll_add_path(rs, "/proc/self", LL_FS_READ_FILE | LL_FS_READ_DIR,
	    0)) != 0)
		goto out;
	if (attr.handled_access_net != 0 &&
	    ((r = ll_add_ports(rs, o->bind_ports, o->n_bind_ports, LL_NET_BIND_TCP)) != 0 ||
	    (r = ll_add_ports(rs, o->connect_ports, o->n_connect_ports, LL_NET_CONNECT_TCP)) != 0))
		goto out;
	r = SOTTO_ERR_INTERNAL;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(SYS_landlock_restrict_self, rs, 0) != 0)
		goto out;
	if (abi_out != NULL)
		*abi_out = abi;
	r = 0;
out:
	close(rs);
	return r;
}

/* ---- seccomp ---- */

/* What an event-loop server with libuv, SQLite, libsodium and glibc needs (measured with
 * strace -f -c over sottod's and the store's tests, plus their error paths). Names the
 * architecture lacks are skipped. */
static const char *const allowed_calls[] = {
	/* files (SQLite, logs, config reload) */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"open", "openat", "close", "close_range", "lseek", "fstat", "stat", "lstat",
	"newfstatat", "statx", "fstatfs", "statfs", "access", "faccessat", "faccessat2",
	"readlink", "readlinkat", "getcwd", "getdents", "getdents64", "fcntl", "flock", "fsync",
	"fdatasync", "ftruncate", "fallocate", "unlink", "unlinkat", "rename", "renameat",
	"renameat2", "mkdir", "mkdirat", "rmdir", "fchmod", "fchown", "umask",
	"dup", "dup2", "dup3", "pipe", "pipe2",
	/* memory (sodium_malloc: mlock, madvise DONTDUMP, guard pages by mprotect) */
	"mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "mlock", "mlock2", "munlock",
	/* threads and synchronisation (clone is checked below) */
	"futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "gettid",
	"sched_yield", "sched_getaffinity", "exit", "exit_group", "restart_syscall",
	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
	"sigaltstack",
	/* time */
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
	/* event loop */
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "eventfd2", "poll", "ppoll", "select", "pselect6", "timerfd_create",
	"timerfd_settime", "timerfd_gettime",
	/* TCP (socket and socketpair are checked below) */
	"bind", "listen", "accept", "accept4", "connect", "shutdown", "getsockname",
	"getpeername", "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg",
	"sendmmsg", "recvmmsg",
	/* identity and limits (read only; prlimit64 is checked below) */
	"getrandom", "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "getgroups", "getrlimit", "getrusage", "uname", "sysinfo",
};

/* libseccomp's SCMP_A0() macros leave datum_b to the compiler, which clang's
 * -Wmissing-field-initializers refuses; these fill every field. */
static struct scmp_arg_cmp
arg_cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp c;

	memset(&c, 0, sizeof(c));
	c.arg = arg;
	c.op = op;
	c.datum_a = a;
	c.datum_b = b;
	return c;
}

static int
sc_errno_if(scmp_filter_ctx ctx, int nr, int err, struct scmp_arg_cmp cmp)
{
	return seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO((uint32_t)err), nr, 1, &cmp) == 0 ?
	    0 : -1;
}

static int
sc_allow(scmp_filter_ctx ctx, const char *name, unsigned n, const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp) == 0 ? 0 : -1;
}

static int
sc_errno(scmp_filter_ctx ctx, const char *name, int err)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)err), nr, 0) == 0 ? 0 : -1;
}

static int
sc_rules(scmp_filter_ctx ctx)
{
	static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };
	static const unsigned long ioctls[] = { FIONBIO, FIONREAD, FIOCLEX, FIONCLEX };
	const scmp_datum_t pid = (scmp_datum_t)getpid();
	struct scmp_arg_cmp c[1];
	size_t i;

	for (i = 0; i < sizeof(allowed_calls) / sizeof(allowed_calls[0]); i++)
		if (sc_allow(ctx, allowed_calls[i], 0, NULL) != 0)
			return -1;
	/* New threads only: fork and friends lack CLONE_THREAD. clone3 hides its flags in
	 * memory the filter cannot read, so it reports ENOSYS and glibc falls back to clone. */
	c[0] = arg_cmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	if (sc_errno(ctx, "clone3", ENOSYS) != 0)
		return -1;
	if (!LEAK_CHECKER && sc_allow(ctx, "clone", 1, c) != 0)
		return -1;
	if (LEAK_CHECKER && (sc_allow(ctx, "clone", 0, NULL) != 0 ||
	    sc_allow(ctx, "ptrace", 0, NULL) != 0 || sc_allow(ctx, "wait4", 0, NULL) != 0 ||
	    sc_allow(ctx, "prctl", 0, NULL) != 0))
		return -1;
	/* Network sockets and local pairs only; the rest (netlink probes by getaddrinfo,
	 * packet sockets) fail softly with EAFNOSUPPORT. */
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		c[0] = arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)families[i], 0);
		if (sc_allow(ctx, "socket", 1, c) != 0)
			return -1;
	}
	c[0] = arg_cmp(0, SCMP_CMP_EQ, AF_UNIX, 0);
	if (sc_allow(ctx, "socketpair", 1, c) != 0)
		return -1;
	/* libseccomp takes one comparison per argument and rule, so the refused families
	 * are listed one by one (AF_MAX is below 64 on every kernel we build for). */
	for (int fam = 0; fam < 64; fam++) {
		if (fam == AF_UNIX || fam == AF_INET || fam == AF_INET6)
			continue;
		if (sc_errno_if(ctx, SCMP_SYS(socket), EAFNOSUPPORT,
		    arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)fam, 0)) != 0)
			return -1;
	}
	/* libuv sets O_NONBLOCK and FD_CLOEXEC by ioctl; isatty (stdio) asks TCGETS and gets
	 * ENOTTY. Any other ioctl (TIOCSTI, device control) is a violation. */
	for (i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++) {
		c[0] = arg_cmp(1, SCMP_CMP_EQ, (scmp_datum_t)ioctls[i], 0);
		if (sc_allow(ctx, "ioctl", 1, c) != 0)
			return -1;
	}
	if (sc_errno_if(ctx, SCMP_SYS(ioctl), ENOTTY, arg_cmp(1, SCMP_CMP_EQ, TCGETS, 0)) != 0 ||
	    sc_errno_if(ctx, SCMP_SYS(ioctl), ENOTTY, arg_cmp(1, SCMP_CMP_EQ, TIOCGWINSZ, 0)) != 0)
		return -1;
	/* Signals and limits: this process only (abort() and pthread_kill use tgkill). */
	c[0] = arg_cmp(0, SCMP_CMP_EQ, pid, 0);
	if (sc_allow(ctx, "tgkill", 1, c) != 0 || sc_allow(ctx, "kill", 1, c) != 0 ||
	    sc_allow(ctx, "prlimit64", 1, c) != 0)
		return -1;
	c[0] = arg_cmp(0, SCMP_CMP_EQ, 0, 0);
	if (sc_allow(ctx, "prlimit64", 1, c) != 0)
		return -1;
	return 0;
}

int
confine_seccomp(int on_violation)
{
	scmp_filter_ctx ctx;
	uint32_t act = on_violation == CONFINE_ERRNO ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_KILL_PROCESS;
	int r = SOTTO_ERR_INTERNAL;

	if ((ctx = seccomp_init(act)) == NULL)
		return SOTTO_ERR_NOMEM;
	/* Every thread, including the ones already running. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0 || sc_rules(ctx) != 0)
		goto out;
	if (seccomp_load(ctx) != 0)
		goto out;
	r = 0;
out:
	seccomp_release(ctx);
	return r;
}

int
confine_apply(const struct confine_opts *o, struct confine_report *report)
{
	struct confine_report rep;
	int r;

	memset(&rep, 0, sizeof(rep));
	if (report != NULL)
		*report = rep;
	if (o == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if (o->user != NULL && geteuid() == 0) {
		if ((r = confine_drop_privileges(o->user)) != 0)
			return r;
		rep.dropped = 1;
	}
	/* Core dumps would hold keys; not dumpable also keeps same-uid processes from
	 * ptrace-attaching. */
	if (!LEAK_CHECKER && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return SOTTO_ERR_INTERNAL;
	if (o->data_dir != NULL) {
		r = confine_landlock(o, &rep.landlock_abi);
		if (r == SOTTO_ERR_UNSUPPORTED && !o->require_landlock)
			r = 0;
		if (r != 0)
			return r;
		rep.net_restricted = o->restrict_net && rep.landlock_abi >= 4;
	}
	if (o->seccomp) {
		if ((r = confine_seccomp(o->on_violation)) != 0)
			return r;
		rep.seccomp = 1;
	}
	if (report != NULL)
		*report = rep;
	return 0;
}

int
confine_disabled_by_env(void)
{
	const char *v = getenv("SOTTO_SANDBOX");

	return v != NULL && strcmp(v, "off") == 0;
}
