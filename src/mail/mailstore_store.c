#include "mail/mailstore_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/store.h"
#include "mail/mail_content.h"
#include "mail/mail_sender.h"
#include "mail/mailbox_uids.h"
#include "mail/mailstore_folders.h"
#include "mail/mailstore_watch.h"

struct ms_folder {
	const char *name;
	int64_t id;
};

struct ms_store {
	pthread_mutex_t lock;
	struct store *st;
	int own;
	struct ms_folder folders[MAILSTORE_DEFAULT_FOLDERS];
	struct mailstore_watch watch;
	int64_t version;                /* the store's data_version when last looked at */
};

static const struct ms_folder *
ms_find(const struct ms_store *s, const char *name)
{
	int i = mailstore_folder_index(name);

	return i >= 0 ? &s->folders[i] : NULL;
}

static int
ms_status(void *impl, const char *folder, struct mailstore_status *stt)
{
	struct ms_store *s = impl;
	const struct ms_folder *f = ms_find(s, folder);
	struct store_folder sf;
	struct store_mail_list l = { 0 };
	size_t i;
	int r;

	memset(stt, 0, sizeof(*stt));
	if (f == NULL)
		return SOTTO_ERR_NOT_FOUND;
	pthread_mutex_lock(&s->lock);
	if ((r = store_folder_get(s->st, f->name, &sf)) == 0 &&
	    (r = store_mail_list(s->st, f->id, &l)) == 0) {
		stt->uidvalidity = sf.uidvalidity;
		/* 0 from the store: every UID is used up; the folder takes no more mail */
		stt->uidnext = sf.uidnext != 0 ? sf.uidnext : UINT32_MAX;
		stt->messages = (uint32_t)l.n;
		for (i = 0; i < l.n; i++)
			if (!(l.v[i].flags & STORE_MAIL_SEEN))
				stt->unseen++;
	}
	pthread_mutex_unlock(&s->lock);
	store_mail_list_free(&l);
	return r;
}

static int
ms_list(void *impl, const char *folder, struct mailstore_msg **out, size_t *n)
{
	struct ms_store *s = impl;
	const struct ms_folder *f = ms_find(s, folder);
	struct store_mail_list l = { 0 };
	struct mailstore_msg *v;
	size_t i;
	int r;

	*out = NULL;
	*n = 0;
	if (f == NULL)
		return SOTTO_ERR_NOT_FOUND;
	pthread_mutex_lock(&s->lock);
	r = store_mail_list(s->st, f->id, &l);
	pthread_mutex_unlock(&s->lock);
	if (r != 0)
		return r;
	if ((v = malloc((l.n ? l.n : 1) * sizeof(*v))) == NULL) {
		store_mail_list_free(&l);
		return SOTTO_ERR_NOMEM;
	}
	for (i = 0; i < l.n; i++) {
		v[i].uid = l.v[i].uid;
		v[i].flags = l.v[i].flags & MAILSTORE_FLAGS_ALL;
		v[i].internaldate = (int64_t)l.v[i].internaldate;
		v[i].size = l.v[i].size;
	}
	*out = v;
	*n = l.n;
	store_mail_list_free(&l);
	return 0;
}

/* The body in memory the caller frees with mailstore_mail_free (the store's own copy is
 * wiped). */
static int
ms_get(struct ms_store *s, int64_t folder, uint32_t uid, struct store_mail *meta,
    uint8_t **data, size_t *len)
{
	uint8_t *body = NULL;
	size_t blen = 0;
	int r;

	*data = NULL;
	*len = 0;
	if ((r = store_mail_get(s->st, folder, uid, meta, &body, &blen)) != 0)
		return r;
	if ((*data = malloc(blen ? blen : 1)) == NULL) {
		store_blob_free(body, blen);
		return SOTTO_ERR_NOMEM;
	}
	if (blen)
		memcpy(*data, body, blen);
	*len = blen;
	store_blob_free(body, blen);
	return 0;
}

static int
ms_fetch(void *impl, const char *folder, uint32_t uid, uint8_t **data, size_t *len)
{
	struct ms_store *s = impl;
	const struct ms_folder *f = ms_find(s, folder);
	struct store_mail meta;
	int r;

	*data = NULL;
	*len = 0;
	if (f == NULL)
		return SOTTO_ERR_NOT_FOUND;
	pthread_mutex_lock(&s->lock);
	r = ms_get(s, f->id, uid, &meta, data, len);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int
ms_set_flags(void *impl, const char *folder, uint32_t uid, uint32_t flags)
{
	struct ms_store *s = impl;
	const struct ms_folder *f = ms_find(s, folder);
	int r;

	if (f == NULL)
		return SOTTO_ERR_NOT_FOUND;
	pthread_mutex_lock(&s->lock);
	r = store_mail_set_flags(s->st, f->id, uid, flags & MAILSTORE_FLAGS_ALL);
	pthread_mutex_unlock(&s->lock);
	if (r == 0)
		mailstore_watch_notify(&s->watch, f->name);
	return r;
}

static int
ms_append(void *impl, const char *folder, const uint8_t *data, size_t len, uint32_t flags,
    int64_t date, uint32_t *uid)
{
	struct mailstore ms = { NULL, impl };

	return mailstore_store_deliver(&ms, folder, data, len, flags, date, NULL, NULL, 0, uid);
}

static int
ms_copy(void *impl, const char *from, uint32_t uid, const char *to, uint32_t *new_uid)
{
	struct ms_store *s = impl;
	const struct ms_folder *src = ms_find(s, from), *dst = ms_find(s, to);
	uint32_t got = 0;
	int r;

	if (new_uid != NULL)
		*new_uid = 0;
	if (src == NULL || dst == NULL)
		return SOTTO_ERR_NOT_FOUND;
	pthread_mutex_lock(&s->lock);
	r = store_mail_copy(s->st, src->id, uid, dst->id, &got);
	pthread_mutex_unlock(&s->lock);
	if (r != 0)
		return r;
	if (new_uid != NULL)
		*new_uid = got;
	mailstore_watch_notify(&s->watch, dst->name);
	return 0;
}

/*
 * The store expunges whatever carries \Deleted; IMAP names the UIDs. Inside one
 * transaction: mark exactly the named ones, take \Deleted off the others for the moment,
 * expunge, and give those theirs back.
 */
static int
ms_expunge_locked(struct ms_store *s, int64_t folder, const uint32_t *uids, size_t n,
    size_t *removed)
{
	struct store_mail_list l = { 0 };
	struct mailbox_uids want;
	uint32_t *gone = NULL;
	size_t i, ngone = 0;
	int r;

	*removed = 0;
	if ((r = mailbox_uids_init(&want, uids, n)) != 0)
		return r;
	if ((r = store_begin(s->st)) != 0)
		goto out;
	if ((r = store_mail_list(s->st, folder, &l)) != 0)
		goto rollback;
	for (i = 0; i < l.n; i++) {
		int named = mailbox_uids_has(&want, l.v[i].uid);
		int marked = (l.v[i].flags & STORE_MAIL_DELETED) != 0;

		if (named == marked)
			continue;
		r = store_mail_set_flags(s->st, folder, l.v[i].uid,
		    named ? l.v[i].flags | STORE_MAIL_DELETED : l.v[i].flags & ~STORE_MAIL_DELETED);
		if (r != 0)
			goto rollback;
		if (!named)
			l.v[i].flags |= 1u << 31;       /* to restore below */
	}
	if ((r = store_mail_expunge(s->st, folder, &gone, &ngone)) != 0)
		goto rollback;
	for (i = 0; i < l.n; i++) {
		if (!(l.v[i].flags & (1u << 31)))
			continue;
		if ((r = store_mail_set_flags(s->st, folder, l.v[i].uid,
		    l.v[i].flags & ~(1u << 31))) != 0)
			goto rollback;
	}
	if ((r = store_commit(s->st)) != 0)
		goto rollback;
	*removed = ngone;
	goto out;
rollback:
	store_rollback(s->st);
out:
	store_mail_list_free(&l);
	mailbox_uids_free(&want);
	free(gone);
	return r;
}

static int
ms_expunge(void *impl, const char *folder, const uint32_t *uids, size_t n)
{
	struct ms_store *s = impl;
	const struct ms_folder *f = ms_find(s, folder);
	size_t removed = 0;
	int r;

	if (f == NULL)
		return SOTTO_ERR_NOT_FOUND;
	if (n == 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	r = ms_expunge_locked(s, f->id, uids, n, &removed);
	pthread_mutex_unlock(&s->lock);
	if (r == 0 && removed > 0)
		mailstore_watch_notify(&s->watch, f->name);
	return r;
}

static void
ms_watch(void *impl, mailstore_watch_fn fn, void *arg)
{
	struct ms_store *s = impl;

	mailstore_watch_set(&s->watch, fn, arg);
}

/* The bridge files a received mail after mail_sender_rewrite, which may add to it. */
_Static_assert(MAIL_CONTENT_MAX + MAIL_SENDER_GROWTH <= STORE_MAIL_MAX,
    "a received mail, rewritten, fits one row of the store");

static void
ms_destroy(void *impl)
{
	struct ms_store *s = impl;

	if (s == NULL)
		return;
	if (s->own)
		store_close(s->st);
	mailstore_watch_destroy(&s->watch);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct mailstore_ops ms_ops = {
	.folders = mailstore_folders_default,
	.status = ms_status,
	.list = ms_list,
	.fetch = ms_fetch,
	.release = mailstore_mail_free,
	.set_flags = ms_set_flags,
	.append = ms_append,
	.copy = ms_copy,
	.expunge = ms_expunge,
	.watch = ms_watch,
	.destroy = ms_destroy,
};

int
mailstore_store_open(struct mailstore *ms, struct store *st, int own)
{
	struct ms_store *s;
	size_t i;
	int r;

	ms->ops = NULL;
	ms->impl = NULL;
	if (st == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SOTTO_ERR_NOMEM;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return SOTTO_ERR_NOMEM;
	}
	if (mailstore_watch_init(&s->watch) != 0) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return SOTTO_ERR_NOMEM;
	}
	s->st = st;
	for (i = 0; i < MAILSTORE_DEFAULT_FOLDERS; i++) {
		s->folders[i].name = mailstore_default_folders[i].name;
		if ((r = store_folder_ensure(st, s->folders[i].name, &s->folders[i].id)) != 0) {
			ms_destroy(s);  /* not own yet: st stays open for the caller */
			return r;
		}
	}
	if ((r = store_data_version(st, &s->version)) != 0) {
		ms_destroy(s);
		return r;
	}
	s->own = own;
	ms->ops = &ms_ops;
	ms->impl = s;
	return 0;
}

int
mailstore_store_deliver(struct mailstore *ms, const char *folder, const uint8_t *data,
    size_t len, uint32_t flags, int64_t internaldate, const char *name, const uint8_t *val,
    size_t vlen, uint32_t *uid)
{
	struct ms_store *s = ms->impl;
	const struct ms_folder *f = ms_find(s, folder);
	uint32_t got = 0;
	int r;

	if (uid != NULL)
		*uid = 0;
	if (f == NULL)
		return SOTTO_ERR_NOT_FOUND;
	if (internaldate < 0)
		internaldate = 0;
	pthread_mutex_lock(&s->lock);
	if ((r = store_begin(s->st)) == 0) {
		if ((r = store_mail_append(s->st, f->id, flags & MAILSTORE_FLAGS_ALL,
		    (uint64_t)internaldate, data, len, &got)) == 0 && name != NULL)
			r = store_setting_put(s->st, name, val, vlen);
		if (r == 0)
			r = store_commit(s->st);
		if (r != 0)
			store_rollback(s->st);
	}
	pthread_mutex_unlock(&s->lock);
	if (r != 0)
		return r;
	if (uid != NULL)
		*uid = got;
	mailstore_watch_notify(&s->watch, f->name);
	return 0;
}

void
mailstore_store_refresh(struct mailstore *ms)
{
	struct ms_store *s = ms->impl;
	int64_t v = 0;
	size_t i;
	int changed;

	pthread_mutex_lock(&s->lock);
	changed = store_data_version(s->st, &v) == 0 && v != s->version;
	if (changed)
		s->version = v;
	pthread_mutex_unlock(&s->lock);
	for (i = 0; changed && i < MAILSTORE_DEFAULT_FOLDERS; i++)
		mailstore_watch_notify(&s->watch, s->folders[i].name);
}

int
mailstore_store_setting_get(struct mailstore *ms, const char *name, uint8_t **v, size_t *len)
{
	struct ms_store *s = ms->impl;
	int r;

	pthread_mutex_lock(&s->lock);
	r = store_setting_get(s->st, name, v, len);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int
mailstore_store_setting_put(struct mailstore *ms, const char *name, const uint8_t *v,
    size_t len)
{
	struct ms_store *s = ms->impl;
	int r;

	pthread_mutex_lock(&s->lock);
	r = store_setting_put(s->st, name, v, len);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int
mailstore_store_open_account(struct mailstore *ms, struct sotto *s)
{
	struct store *st = NULL;
	int r;

	ms->ops = NULL;
	ms->impl = NULL;
	if ((r = store_open_account(s, &st)) != 0)
		return r;
	if ((r = mailstore_store_open(ms, st, 1)) != 0)
		store_close(st);
	return r;
}

void
mailstore_store_setting_free(uint8_t *v, size_t len)
{
	store_blob_free(v, len);
}
