/*
 * bench-mls: the MLS protocol layer (src/mls/) at group scale, in one process. Every
 * member is a tests/support/mls_member (its own signature key, KeyPackage and keys).
 *
 *   bench-mls [MEMBERS [RUNS [BATCH [ONLY]]]]     defaults 1000, 3, 50
 *
 * Each run builds the group twice from fresh KeyPackages:
 *   add-one     the creator makes a group of one and adds the other MEMBERS - 1 in one
 *               Commit (PublicMessage, with path) and one Welcome;
 *   add-batch   the same members added BATCH at a time (each Commit with path and its
 *               Welcome), only the creator processing (nobody has joined yet).
 * On the group of add-one, SAMPLE members then join from the Welcome, and:
 *   commit      the creator's empty Commit (path only): its time to create, its size, and
 *               each sampled member's time to process it;
 *   commit2     the same for an empty Commit by the last sampled member (another leaf);
 *   remove      the creator removes a member no sample is: create and process;
 *   app         application messages of 256 bytes, creator to one member: encrypt and
 *               decrypt per second (each over APP_COUNT messages);
 *   state       the first sampled member's saved state (mls_group_state_write): bytes and
 *               time to write, just joined (no past epoch kept) and after the three
 *               Commits and the messages (MLS_PAST_EPOCHS_MAX past epochs kept).
 * Figures: the median over the runs (and over the sampled receivers of every run).
 *
 * ONLY names one phase (keypackage, add-batch, add-one, join, commit, process, commit2,
 * process2, remove, remove-process, app-encrypt, app-decrypt): built with valgrind's
 * headers, only that phase's work is collected under callgrind:
 *   valgrind --tool=callgrind --instr-atstart=no build/bench/bench-mls 1000 1 50 commit
 * With ONLY "all", every phase is collected and dumped on its own (one dump per phase and
 * receiver); bench/mls/callgrind-phases sums the dumps per phase.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_DUMP_STATS_AT(name) ((void)(name))
#endif

#include "base/buf.h"
#include "crypto/init.h"
#include "mls/group_state.h"
#include "mls/limits.h"
#include "mls_member.h"

#define MAX_RUNS 15
#define SAMPLE 5                    /* members that join and process each Commit */
#define APP_COUNT 2000              /* application messages per run */
#define APP_LEN 256

static const char *only_phase;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	if (n == 0)
		return 0;
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The clock (and callgrind, for the phase named by ONLY) around one phase. */
static int
instrumented(const char *name)
{
	return only_phase != NULL && (strcmp(only_phase, name) == 0 || strcmp(only_phase, "all") == 0);
}

static double
phase_start(const char *name)
{
	if (instrumented(name))
		CALLGRIND_START_INSTRUMENTATION;
	return now_s();
}

/* Under callgrind with ONLY "all", each phase's instructions go to a dump of its own,
 * named after it ("Trigger: Client Request: NAME"). */
static double
phase_end(const char *name, double t0)
{
	double t = now_s() - t0;

	if (instrumented(name)) {
		CALLGRIND_STOP_INSTRUMENTATION;
		if (strcmp(only_phase, "all") == 0)
			CALLGRIND_DUMP_STATS_AT(name);
	}
	return t;
}

/* Figures of one run, each filled by the phases. */
struct run {
	double kp_s;                    /* MEMBERS KeyPackages made */
	double add_one_s;               /* the creator's group and its one Commit */
	size_t add_one_commit, add_one_welcome;
	double add_batch_s;             /* the creator's group and every batch Commit */
	size_t add_batch_bytes, add_batch_commits;
	double join_s;                  /* median over the sample */
	double commit_s, commit2_s, remove_s;
	size_t commit_bytes, commit2_bytes, remove_bytes;
	double process_s, process2_s, remove_process_s;   /* medians over the receivers */
	double enc_per_s, dec_per_s;
	double state0_s, state3_s;      /* saved state written: just joined, 3 past epochs */
	size_t state0_bytes, state3_bytes;
};

static int
fail(const char *what, int r)
{
	fprintf(stderr, "bench-mls: %s failed (%d)\n", what, r);
	return 1;
}

/* g's saved state: its size and the time to write it. */
static int
state_size(const struct mls_group *g, size_t *bytes, double *secs)
{
	struct buf b;
	double t0;
	int r;

	buf_init_dyn(&b, MLS_GROUP_STATE_MAX);
	t0 = now_s();
	r = mls_group_state_write(g, &b);
	*secs = now_s() - t0;
	*bytes = b.len;
	buf_wipe_free(&b);
	return r != 0 ? fail("mls_group_state_write", r) : 0;
}

static int
make_members(struct mls_member *m, size_t n, double *secs)
{
	char id[48];
	double t0 = phase_start("keypackage");
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "member-%zu@bench.invalid", i);
		if (!mls_member_init(&m[i], id))
			return fail("mls_member_init", -1);
	}
	*secs = phase_end("keypackage", t0);
	return 0;
}

static void
free_members(struct mls_member *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		mls_member_free(&m[i]);
}

/* The creator m[0] makes a group and adds m[1..n) in Commits of at most batch each;
 * the last Commit and Welcome stay in commit and welcome. */
static int
build_group(struct mls_member *m, size_t n, size_t batch, const char *phase, double *secs,
    size_t *bytes, size_t *commits, struct buf *commit, struct buf *welcome)
{
	const uint8_t **kps = calloc(n, sizeof(*kps));
	size_t *lens = calloc(n, sizeof(*lens));
	static const uint8_t gid[] = "bench-mls group";
	struct mls_commit_spec spec;
	double t0;
	size_t i, done;
	int r = 1;

	if (kps == NULL || lens == NULL)
		goto out;
	for (i = 1; i < n; i++) {
		kps[i] = m[i].kp_bytes.p;
		lens[i] = m[i].kp_bytes.len;
	}
	*bytes = 0;
	*commits = 0;
	t0 = phase_start(phase);
	if ((r = mls_group_create(&m[0].g, gid, sizeof(gid) - 1, &m[0].kp, m[0].ks.enc_sec)) != 0) {
		r = fail("mls_group_create", r);
		goto out;
	}
	m[0].in = 1;
	for (done = 1; done < n; done += spec.n_adds) {
		memset(&spec, 0, sizeof(spec));
		spec.add_kps = kps + done;
		spec.add_lens = lens + done;
		spec.n_adds = n - done < batch ? n - done : batch;
		if ((r = mls_group_commit(&m[0].g, m[0].sig_sec, &spec, commit, welcome)) != 0) {
			r = fail("mls_group_commit (adds)", r);
			goto out;
		}
		*bytes += commit->len + welcome->len;
		(*commits)++;
	}
	*secs = phase_end(phase, t0);
	r = 0;
out:
	free(kps);
	free(lens);
	return r;
}

/* The committer's Commit (removing remove if it is not 0, else empty): its time and
 * size, then each joined receiver's time to process it (median). */
static int
commit_round(struct mls_member *m, size_t committer, const size_t *rcv, size_t n_rcv,
    uint32_t remove, const char *phase, const char *process_phase, double *secs, size_t *bytes,
    double *process_s)
{
	struct mls_commit_spec spec;
	struct buf commit, welcome;
	double t0, per[SAMPLE];
	size_t i, k = 0;
	int r;

	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	memset(&spec, 0, sizeof(spec));
	if (remove != 0) {
		spec.removes = &remove;
		spec.n_removes = 1;
	}
	t0 = phase_start(phase);
	r = mls_group_commit(&m[committer].g, m[committer].sig_sec, &spec, &commit, &welcome);
	*secs = phase_end(phase, t0);
	if (r != 0) {
		r = fail(phase, r);
		goto out;
	}
	*bytes = commit.len;
	for (i = 0; i < n_rcv; i++) {
		if (rcv[i] == committer)
			continue;
		t0 = phase_start(process_phase);
		r = mls_group_process_commit(&m[rcv[i]].g, commit.p, commit.len);
		per[k++] = phase_end(process_phase, t0);
		if (r != 0) {
			r = fail(process_phase, r);
			goto out;
		}
	}
	*process_s = median(per, k);
out:
	buf_free(&commit);
	buf_free(&welcome);
	return r;
}

/* Application messages from s to d: encryptions, then decryptions, per second. */
static int
app_round(struct mls_member *s, struct mls_member *d, double *enc, double *dec)
{
	uint8_t data[APP_LEN];
	struct buf *msgs = calloc(APP_COUNT, sizeof(*msgs));
	struct buf plain;
	double t0;
	size_t i;
	int r = 1;

	buf_init_dyn(&plain, MLS_MESSAGE_MAX);
	if (msgs == NULL)
		goto out;
	randombytes_buf(data, sizeof(data));
	for (i = 0; i < APP_COUNT; i++)
		buf_init_dyn(&msgs[i], MLS_MESSAGE_MAX);
	t0 = phase_start("app-encrypt");
	for (i = 0; i < APP_COUNT && r != 0; i++)
		if (mls_member_send(s, data, sizeof(data), NULL, 0, &msgs[i]) != 0)
			r = 0;
	*enc = APP_COUNT / phase_end("app-encrypt", t0);
	if (r == 0) {
		r = fail("mls_member_send", -1);
		goto out;
	}
	t0 = phase_start("app-decrypt");
	for (i = 0; i < APP_COUNT && r != 0; i++)
		if (mls_member_read(d, msgs[i].p, msgs[i].len, &plain, 0) != 0 ||
		    plain.len != sizeof(data) || memcmp(plain.p, data, sizeof(data)) != 0)
			r = 0;
	*dec = APP_COUNT / phase_end("app-decrypt", t0);
	r = r == 0 ? fail("mls_member_read", -1) : 0;
out:
	if (msgs != NULL)
		for (i = 0; i < APP_COUNT; i++)
			buf_free(&msgs[i]);
	free(msgs);
	buf_free(&plain);
	return r;
}

/* A leaf of the group that is neither the creator nor one of the n_p participants. */
static uint32_t
leaf_to_remove(const size_t *p, size_t n_p, size_t n)
{
	uint32_t l;
	size_t i;

	for (l = 1; l < n; l++) {
		for (i = 0; i < n_p && p[i] != l; i++)
			;
		if (i == n_p)
			return l;
	}
	return 0;
}

static int
one_run(size_t n, size_t batch, struct run *f)
{
	struct mls_member *m = calloc(n, sizeof(*m));
	size_t part[SAMPLE + 1], n_part = 1, i, commits;
	struct buf commit, welcome;
	double t0, joins[SAMPLE];
	int r = 1;

	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	if (m == NULL)
		goto out;
	/* Batches first, on members that are then made again. */
	if ((r = make_members(m, n, &f->kp_s)) != 0 ||
	    (r = build_group(m, n, batch, "add-batch", &f->add_batch_s, &f->add_batch_bytes,
	    &f->add_batch_commits, &commit, &welcome)) != 0)
		goto out;
	free_members(m, n);
	if ((r = make_members(m, n, &f->kp_s)) != 0 ||
	    (r = build_group(m, n, n, "add-one", &f->add_one_s, &f->add_one_commit, &commits,
	    &commit, &welcome)) != 0)
		goto out;
	f->add_one_commit = commit.len;
	f->add_one_welcome = welcome.len;
	/* The creator and a sample spread over the tree, which joins from the Welcome. */
	part[0] = 0;
	for (i = 0; i < SAMPLE; i++) {
		part[n_part] = 1 + i * (n - 2) / (SAMPLE - 1);
		t0 = phase_start("join");
		r = mls_member_join(&m[part[n_part]], welcome.p, welcome.len, NULL, 0);
		joins[i] = phase_end("join", t0);
		if (r != 0) {
			r = fail("mls_member_join", r);
			goto out;
		}
		n_part++;
	}
	f->join_s = median(joins, SAMPLE);
	if ((r = state_size(&m[part[1]].g, &f->state0_bytes, &f->state0_s)) != 0)
		goto out;
	if ((r = commit_round(m, 0, part, n_part, 0, "commit", "process", &f->commit_s,
	    &f->commit_bytes, &f->process_s)) != 0 ||
	    (r = commit_round(m, part[n_part - 1], part, n_part, 0, "commit2", "process2",
	    &f->commit2_s, &f->commit2_bytes, &f->process2_s)) != 0 ||
	    (r = commit_round(m, 0, part, n_part, leaf_to_remove(part, n_part, n), "remove",
	    "remove-process", &f->remove_s, &f->remove_bytes, &f->remove_process_s)) != 0 ||
	    (r = app_round(&m[0], &m[part[1]], &f->enc_per_s, &f->dec_per_s)) != 0 ||
	    (r = state_size(&m[part[1]].g, &f->state3_bytes, &f->state3_s)) != 0)
		goto out;
	r = 0;
out:
	if (m != NULL)
		free_members(m, n);
	free(m);
	buf_free(&commit);
	buf_free(&welcome);
	return r;
}

/* The median of one double field over the runs. */
static double
med_field(const struct run *f, int runs, size_t off)
{
	double v[MAX_RUNS];
	int i;

	for (i = 0; i < runs; i++)
		memcpy(&v[i], (const char *)&f[i] + off, sizeof(double));
	return median(v, (size_t)runs);
}

#define MED(field) med_field(f, runs, offsetof(struct run, field))

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1000;
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	size_t batch = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 50;
	struct run f[MAX_RUNS];
	int i;

	only_phase = argc > 4 ? argv[4] : NULL;
	if (n < SAMPLE + 2 || runs < 1 || runs > MAX_RUNS || batch < 1) {
		fprintf(stderr, "usage: bench-mls [MEMBERS>=%d [RUNS<=%d [BATCH [ONLY]]]]\n",
		    SAMPLE + 2, MAX_RUNS);
		return 2;
	}
	if (sotto_crypto_init() != 0)
		return fail("sotto_crypto_init", -1);
	memset(f, 0, sizeof(f));
	for (i = 0; i < runs; i++) {
		if (one_run(n, batch, &f[i]) != 0)
			return 1;
		fprintf(stderr, "bench-mls: run %d of %d done\n", i + 1, runs);
	}
	/* Sizes are the same in every run but for a few bytes of varint lengths: run 1's. */
	printf("bench-mls: %zu members, batches of %zu, median of %d runs (receivers: %d per "
	    "Commit)\n", n, batch, runs, SAMPLE);
	printf("%-46s %12s %12s\n", "what", "ms", "bytes");
	printf("%-46s %12.1f %12s\n", "KeyPackages made (all members)", MED(kp_s) * 1e3, "-");
	printf("%-46s %12.1f %12zu\n", "create + add all in one Commit (+Welcome)",
	    MED(add_one_s) * 1e3, f[0].add_one_commit + f[0].add_one_welcome);
	printf("%-46s %12s %12zu\n", "  that Commit", "-", f[0].add_one_commit);
	printf("%-46s %12s %12zu\n", "  its Welcome", "-", f[0].add_one_welcome);
	printf("create + add in %3zu Commits of <= %-4zu (sum)   %12.1f %12zu\n",
	    f[0].add_batch_commits, batch, MED(add_batch_s) * 1e3, f[0].add_batch_bytes);
	printf("%-46s %12.1f %12s\n", "join from the Welcome (one member)", MED(join_s) * 1e3, "-");
	printf("%-46s %12.2f %12zu\n", "empty Commit, creator: create", MED(commit_s) * 1e3,
	    f[0].commit_bytes);
	printf("%-46s %12.2f %12s\n", "  process (a receiver)", MED(process_s) * 1e3, "-");
	printf("%-46s %12.2f %12zu\n", "empty Commit, another member: create",
	    MED(commit2_s) * 1e3, f[0].commit2_bytes);
	printf("%-46s %12.2f %12s\n", "  process (a receiver)", MED(process2_s) * 1e3, "-");
	printf("%-46s %12.2f %12zu\n", "Commit removing one member: create", MED(remove_s) * 1e3,
	    f[0].remove_bytes);
	printf("%-46s %12.2f %12s\n", "  process (a receiver)", MED(remove_process_s) * 1e3, "-");
	printf("%-46s %12.0f\n", "application 256 B: encrypt per second", MED(enc_per_s));
	printf("%-46s %12.0f\n", "application 256 B: decrypt per second", MED(dec_per_s));
	printf("%-46s %12.2f %12zu\n", "saved state, a member just joined", MED(state0_s) * 1e3,
	    f[0].state0_bytes);
	printf("%-46s %12.2f %12zu\n", "saved state, after 3 Commits (3 past epochs)",
	    MED(state3_s) * 1e3, f[0].state3_bytes);
	return 0;
}
