/*
 * Process confinement for sottod and the bridge (Linux): drop root, restrict the file system
 * and TCP ports with Landlock, and restrict system calls with a seccomp filter.
 *
 *   struct confine_opts o = CONFINE_OPTS_INIT;
 *   o.user = "sotto";                       // only used when started as root
 *   o.data_dir = "/var/lib/sotto";          // read/write beneath it, nothing else writable
 *   o.bind_ports = (uint16_t[]){ 7770 }; o.n_bind_ports = 1;
 *   if (confine_apply(&o, &report) != 0) exit(...);
 *
 * Call it once, early, in the main thread and BEFORE any other thread starts: setresuid is
 * broadcast to every thread by glibc and the seccomp filter is synchronised to all threads
 * (TSYNC), but a Landlock domain only covers the calling thread and the threads it creates
 * afterwards. In sottod that is after the data directory exists (prepare_data) and before
 * server_init (which starts the writer thread).
 *
 * Seccomp violations kill the whole process (SIGSYS) by default: a system call outside the
 * list means a bug or an exploit, and an error return would let an exploit probe the
 * filter. CONFINE_ERRNO (EPERM instead) exists for diagnosing a new library version.
 * Some calls are refused with an errno in both modes because libraries try them and cope
 * (socket families other than inet/inet6/unix: EAFNOSUPPORT; clone3: ENOSYS so that glibc
 * falls back to clone, whose flags the filter can check; the terminal queries TCGETS and
 * TIOCGWINSZ: ENOTTY).
 */
#ifndef SOTTO_BASE_CONFINE_H
#define SOTTO_BASE_CONFINE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

enum confine_violation {
	CONFINE_KILL = 0,       /* kill the process with SIGSYS (default) */
	CONFINE_ERRNO = 1       /* fail the call with EPERM */
};

struct confine_opts {
	const char *user;               /* drop to this user when euid is 0; NULL: stay */
	const char *data_dir;           /* Landlock: read/write (files, directories, Unix
	                                   sockets such as the daemon's) beneath; NULL: none */
	const char *const *read_paths;  /* Landlock: extra read-only files/dirs (NULL-ended);
	                                   NULL: confine_default_read_paths */
	int restrict_net;               /* Landlock ABI >= 4: TCP bind/connect only to ports below */
	const uint16_t *bind_ports;
	size_t n_bind_ports;
	const uint16_t *connect_ports;
	size_t n_connect_ports;
	int require_landlock;           /* fail (SOTTO_ERR_UNSUPPORTED) if the kernel lacks it */
	int seccomp;                    /* install the system call filter */
	int on_violation;               /* enum confine_violation */
	const char *shared_dir;         /* Landlock: read/write beneath as data_dir (sottod's
	                                   blob_dir); NULL: none */
};

#define CONFINE_OPTS_INIT { NULL, NULL, NULL, 0, NULL, 0, NULL, 0, 0, 1, CONFINE_KILL, NULL }

/* What confine_apply did. */
struct confine_report {
	int dropped;            /* switched from root to opts.user */
	int landlock_abi;       /* Landlock ABI in force, 0: none (kernel lacks it or not asked) */
	int net_restricted;     /* TCP ports restricted by Landlock */
	int seccomp;            /* filter installed */
};

/* Read-only files a server needs after confinement (SQLite's /dev/urandom, time zone). */
extern const char *const confine_default_read_paths[];

/*
 * Drops root: supplementary groups to the user's primary group only, then
 * setresgid/setresuid, then checks that neither root uid nor gid can be regained.
 * Not root: nothing to drop, returns 0. SOTTO_ERR_NOT_FOUND: no such user;
 * SOTTO_ERR_INVALID_ARG: the user is root; SOTTO_ERR_AUTH: a step failed or root came back.
 */
int confine_drop_privileges(const char *user) SOTTO_MUST_CHECK;

/* The kernel's Landlock ABI version, or 0 when it has none (or it is disabled). */
int confine_landlock_abi(void);

/*
 * Landlock: every file system access the kernel can restrict is denied except read/write
 * beneath data_dir and reading read_paths (missing paths are skipped); with restrict_net,
 * TCP bind/connect only to the listed ports. Sets no_new_privs.
 * SOTTO_ERR_UNSUPPORTED when the kernel lacks Landlock (nothing changed), SOTTO_ERR_IO when
 * data_dir cannot be opened, SOTTO_ERR_INTERNAL when the kernel refuses a step.
 */
int confine_landlock(const struct confine_opts *o, int *abi_out) SOTTO_MUST_CHECK;

/* Installs the system call filter on every thread of the process (sets no_new_privs). */
int confine_seccomp(int on_violation) SOTTO_MUST_CHECK;

/* 1 in AddressSanitizer builds (tests only): there the filter also allows what
 * LeakSanitizer's exit-time check needs (clone of a helper process, ptrace, wait4, prctl),
 * Landlock lets it read /proc/self, and the process stays dumpable. 0 in release builds. */
int confine_leak_checker_allowed(void);

/* All of the above in order: drop privileges, Landlock, seccomp. report may be NULL. */
int confine_apply(const struct confine_opts *o, struct confine_report *report) SOTTO_MUST_CHECK;

/* 1 when the environment says SOTTO_SANDBOX=off: the programs then skip confine_apply and
 * say so loudly. Only for running them under valgrind or a debugger, whose own system
 * calls a seccomp filter would kill. */
int confine_disabled_by_env(void);

#endif
