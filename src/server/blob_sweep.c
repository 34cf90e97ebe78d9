/*
 * The blob store's cleaning (docs/SERVER.md, "Blobs"): every BLOB_SWEEP_EVERY_MS (or a
 * quarter of the expiry or of the partial timeout if that is shorter) a job on the writer
 * thread removes the files of expired blobs and then their records, up to BLOB_SWEEP_MAX
 * per run, and the unfinished uploads nobody wrote to for blob_partial_timeout seconds.
 * A file is removed before its record: a crash in between leaves a record without a file,
 * which BLOB_GET answers as not found and the next run deletes.
 */
#include "server/server.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"

#define BLOB_SWEEP_EVERY_MS 60000u
#define BLOB_SWEEP_MAX 256

struct sweep_job {
	struct commit_item ci;          /* first: the writer's item */
	struct server *s;
	int64_t now;
	size_t removed, partials;
	uint8_t hashes[BLOB_SWEEP_MAX][STORE_BLOB_HASH_LEN];
};

/* Unfinished uploads last written before the timeout: removed. */
static size_t
sweep_partials(struct server *s, int64_t now)
{
	char path[SERVER_PATH_MAX];
	struct dirent *e;
	struct stat st;
	size_t n = 0;
	DIR *d;

	if ((d = opendir(s->partial_dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", s->partial_dir, e->d_name) >=
		    sizeof(path) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if ((int64_t)st.st_mtime + (int64_t)s->cfg.blob_partial_timeout <= now &&
		    unlink(path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static int
sweep_call(struct server_store *st, struct commit_item *it)
{
	struct sweep_job *j = (struct sweep_job *)(void *)it;
	char path[SERVER_PATH_MAX];
	size_t n = 0;
	int r;

	j->partials = sweep_partials(j->s, j->now);
	if ((r = st->ops->blob_expired(st, j->now, j->hashes, BLOB_SWEEP_MAX, &n)) != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if ((r = blob_path(j->s, j->hashes[i], path)) != 0)
			return r;
		if (unlink(path) != 0 && errno != ENOENT) {
			log_warn("blobs: %s: %s", path, strerror(errno));
			continue;
		}
		if ((r = st->ops->blob_delete(st, j->hashes[i])) != 0)
			return r;
		j->removed++;
	}
	return 0;
}

static void
sweep_finish(struct commit_item *it)
{
	struct sweep_job *j = (struct sweep_job *)(void *)it;

	j->s->blob_sweep_inflight = 0;
	if (it->result != 0)
		log_warn("blobs: cleaning failed: %s", sotto_strerror(it->result));
	else if (j->removed > 0 || j->partials > 0)
		log_info("blobs: %zu expired, %zu unfinished uploads removed", j->removed,
		    j->partials);
	free(j);
}

static void
sweep_submit(struct server *s)
{
	struct sweep_job *j;

	if (s->blob_sweep_stopped || s->blob_sweep_inflight || s->draining || s->commit == NULL)
		return;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return;                 /* tried again on the next tick */
	j->s = s;
	j->now = (int64_t)time(NULL);
	j->ci.kind = COMMIT_CALL;
	j->ci.call = sweep_call;
	j->ci.finish = sweep_finish;
	s->blob_sweep_inflight = 1;
	commit_submit(s->commit, &j->ci);
}

/* Read at every tick, so a reload (SIGHUP) applies; short settings (tests) sweep often. */
static uint64_t
sweep_every(const struct server *s)
{
	uint64_t every = (uint64_t)s->cfg.blob_expiry * 1000 / 4;
	uint64_t partial = (uint64_t)s->cfg.blob_partial_timeout * 1000 / 4;

	if (partial < every)
		every = partial;
	if (every > BLOB_SWEEP_EVERY_MS)
		return BLOB_SWEEP_EVERY_MS;
	return every > 0 ? every : 1;
}

static void
on_sweep_tick(uv_timer_t *t)
{
	struct server *s = t->data;

	sweep_submit(s);
	uv_timer_start(&s->blob_sweep_timer, on_sweep_tick, sweep_every(s), 0);
}

void
blob_sweep_init(struct server *s)
{
	uv_timer_init(s->loop, &s->blob_sweep_timer);
	s->blob_sweep_timer.data = s;
	uv_unref((uv_handle_t *)&s->blob_sweep_timer);
	uv_timer_start(&s->blob_sweep_timer, on_sweep_tick, sweep_every(s), 0);
	s->blob_sweep_ready = 1;
}

void
blob_sweep_stop(struct server *s)
{
	if (!s->blob_sweep_ready || s->blob_sweep_stopped)
		return;
	s->blob_sweep_stopped = 1;
	uv_close((uv_handle_t *)&s->blob_sweep_timer, NULL);
}
