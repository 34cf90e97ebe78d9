#include "mail/mailstore_mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mailbox_uids.h"
#include "mail/mailstore_folders.h"
#include "mail/mailstore_watch.h"

struct mem_msg {
	struct mailstore_msg m;
	uint8_t *data;
};

struct mem_folder {
	uint32_t uidvalidity;
	uint32_t uidnext;
	struct mem_msg *msgs;   /* ascending UID */
	size_t n, cap;
};

struct mem_store {
	pthread_mutex_t lock;
	struct mem_folder folders[MAILSTORE_DEFAULT_FOLDERS];
	struct mailstore_watch watch;
};

static struct mem_folder *
mem_find(struct mem_store *s, const char *name)
{
	int i = mailstore_folder_index(name);

	return i >= 0 ? &s->folders[i] : NULL;
}

static struct mem_msg *
mem_find_msg(struct mem_folder *f, uint32_t uid)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->msgs[mid].m.uid == uid)
			return &f->msgs[mid];
		if (f->msgs[mid].m.uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Takes ownership of data on success. */
static int
mem_add(struct mem_folder *f, uint8_t *data, size_t len, uint32_t flags, int64_t date,
    uint32_t *uid)
{
	struct mem_msg *m;

	if (f->uidnext == UINT32_MAX)
		return SOTTO_ERR_LIMIT;
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 16;
		struct mem_msg *nm = realloc(f->msgs, ncap * sizeof(*nm));
		if (nm == NULL)
			return SOTTO_ERR_NOMEM;
		f->msgs = nm;
		f->cap = ncap;
	}
	m = &f->msgs[f->n++];
	m->m.uid = f->uidnext++;
	m->m.flags = flags & MAILSTORE_FLAGS_ALL;
	m->m.internaldate = date;
	m->m.size = len;
	m->data = data;
	if (uid != NULL)
		*uid = m->m.uid;
	return 0;
}

static int
mem_status(void *impl, const char *folder, struct mailstore_status *st)
{
	struct mem_store *s = impl;
	struct mem_folder *f;
	size_t i;
	int r = SOTTO_ERR_NOT_FOUND;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->lock);
	if ((f = mem_find(s, folder)) != NULL) {
		st->uidvalidity = f->uidvalidity;
		st->uidnext = f->uidnext;
		st->messages = (uint32_t)f->n;
		for (i = 0; i < f->n; i++)
			if (!(f->msgs[i].m.flags & MAILSTORE_SEEN))
				st->unseen++;
		r = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int
mem_list(void *impl, const char *folder, struct mailstore_msg **out, size_t *n)
{
	struct mem_store *s = impl;
	struct mem_folder *f;
	struct mailstore_msg *v = NULL;
	size_t i;
	int r = SOTTO_ERR_NOT_FOUND;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->lock);
	if ((f = mem_find(s, folder)) == NULL)
		goto out;
	r = SOTTO_ERR_NOMEM;
	if ((v = malloc((f->n ? f->n : 1) * sizeof(*v))) == NULL)
		goto out;
	for (i = 0; i < f->n; i++)
		v[i] = f->msgs[i].m;
	*out = v;
	*n = f->n;
	r = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int
mem_fetch(void *impl, const char *folder, uint32_t uid, uint8_t **data, size_t *len)
{
	struct mem_store *s = impl;
	struct mem_folder *f;
	struct mem_msg *m;
	int r = SOTTO_ERR_NOT_FOUND;

	*data = NULL;
	*len = 0;
	pthread_mutex_lock(&s->lock);
	if ((f = mem_find(s, folder)) == NULL || (m = mem_find_msg(f, uid)) == NULL)
		goto out;
	r = SOTTO_ERR_NOMEM;
	if ((*data = malloc(m->m.size ? m->m.size : 1)) == NULL)
		goto out;
	if (m->m.size)
		memcpy(*data, m->data, m->m.size);
	*len = m->m.size;
	r = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int
mem_set_flags(void *impl, const char *folder, uint32_t uid, uint32_t flags)
{
	struct mem_store *s = impl;
	struct mem_folder *f;
	struct mem_msg *m;
	int r = SOTTO_ERR_NOT_FOUND, changed = 0;

	pthread_mutex_lock(&s->lock);
	if ((f = mem_find(s, folder)) != NULL && (m = mem_find_msg(f, uid)) != NULL) {
		changed = m->m.flags != (flags & MAILSTORE_FLAGS_ALL);
		m->m.flags = flags & MAILSTORE_FLAGS_ALL;
		r = 0;
	}
	pthread_mutex_unlock(&s->lock);
	if (changed)
		mailstore_watch_notify(&s->watch, folder);
	return r;
}

static int
mem_append(void *impl, const char *folder, const uint8_t *data, size_t len, uint32_t flags,
    int64_t date, uint32_t *uid)
{
	struct mem_store *s = impl;
	struct mem_folder *f;
	uint8_t *copy;
	int r;

	if ((copy = malloc(len ? len : 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	if (len)
		memcpy(copy, data, len);
	pthread_mutex_lock(&s->lock);
	if ((f = mem_find(s, folder)) == NULL)
		r = SOTTO_ERR_NOT_FOUND;
	else if ((r = mem_add(f, copy, len, flags, date, uid)) == 0)
		copy = NULL;    /* transferred */
	pthread_mutex_unlock(&s->lock);
	mailstore_mail_free(NULL, copy, len);
	if (r == 0)
		mailstore_watch_notify(&s->watch, folder);
	return r;
}

static int
mem_copy(void *impl, const char *from, uint32_t uid, const char *to, uint32_t *new_uid)
{
	struct mem_store *s = impl;
	struct mem_folder *src, *dst;
	struct mem_msg *m;
	uint8_t *copy = NULL;
	size_t len = 0;
	int r = SOTTO_ERR_NOT_FOUND;

	pthread_mutex_lock(&s->lock);
	if ((src = mem_find(s, from)) == NULL || (dst = mem_find(s, to)) == NULL ||
	    (m = mem_find_msg(src, uid)) == NULL)
		goto out;
	r = SOTTO_ERR_NOMEM;
	if ((copy = malloc(m->m.size ? m->m.size : 1)) == NULL)
		goto out;
	len = m->m.size;
	if (len)
		memcpy(copy, m->data, len);
	if ((r = mem_add(dst, copy, m->m.size, m->m.flags, m->m.internaldate, new_uid)) == 0)
		copy = NULL;    /* transferred */
out:
	pthread_mutex_unlock(&s->lock);
	mailstore_mail_free(NULL, copy, len);
	if (r == 0)
		mailstore_watch_notify(&s->watch, to);
	return r;
}

static int
mem_expunge(void *impl, const char *folder, const uint32_t *uids, size_t n)
{
	struct mem_store *s = impl;
	struct mem_folder *f;
	struct mailbox_uids named;
	size_t i, k, removed = 0;
	int r;

	if ((r = mailbox_uids_init(&named, uids, n)) != 0)
		return r;
	r = SOTTO_ERR_NOT_FOUND;
	pthread_mutex_lock(&s->lock);
	if ((f = mem_find(s, folder)) == NULL)
		goto out;
	for (i = 0, k = 0; i < f->n; i++) {
		if (mailbox_uids_has(&named, f->msgs[i].m.uid)) {
			mailstore_mail_free(NULL, f->msgs[i].data, f->msgs[i].m.size);
			removed++;
		} else {
			f->msgs[k++] = f->msgs[i];
		}
	}
	f->n = k;
	r = 0;
out:
	pthread_mutex_unlock(&s->lock);
	mailbox_uids_free(&named);
	if (removed)
		mailstore_watch_notify(&s->watch, folder);
	return r;
}

static void
mem_watch(void *impl, mailstore_watch_fn fn, void *arg)
{
	struct mem_store *s = impl;

	mailstore_watch_set(&s->watch, fn, arg);
}

static void
mem_destroy(void *impl)
{
	struct mem_store *s = impl;
	size_t i, j;

	if (s == NULL)
		return;
	for (i = 0; i < MAILSTORE_DEFAULT_FOLDERS; i++) {
		for (j = 0; j < s->folders[i].n; j++)
			mailstore_mail_free(NULL, s->folders[i].msgs[j].data,
			    s->folders[i].msgs[j].m.size);
		free(s->folders[i].msgs);
	}
	mailstore_watch_destroy(&s->watch);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct mailstore_ops mem_ops = {
	.folders = mailstore_folders_default,
	.status = mem_status,
	.list = mem_list,
	.fetch = mem_fetch,
	.release = mailstore_mail_free,
	.set_flags = mem_set_flags,
	.append = mem_append,
	.copy = mem_copy,
	.expunge = mem_expunge,
	.watch = mem_watch,
	.destroy = mem_destroy,
};

int
mailstore_mem_create(struct mailstore *ms, uint32_t uidvalidity_base)
{
	struct mem_store *s;
	size_t i;

	ms->ops = NULL;
	ms->impl = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SOTTO_ERR_NOMEM;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return SOTTO_ERR_INTERNAL;
	}
	if (mailstore_watch_init(&s->watch) != 0) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return SOTTO_ERR_INTERNAL;
	}
	for (i = 0; i < MAILSTORE_DEFAULT_FOLDERS; i++) {
		struct mem_folder *f = &s->folders[i];
		f->uidvalidity = uidvalidity_base + (uint32_t)i;
		if (f->uidvalidity == 0)
			f->uidvalidity = 1;
		f->uidnext = 1;
	}
	ms->ops = &mem_ops;
	ms->impl = s;
	return 0;
}
