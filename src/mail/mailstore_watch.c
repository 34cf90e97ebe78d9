#include "mail/mailstore_watch.h"

int
mailstore_watch_init(struct mailstore_watch *w)
{
	w->fn = NULL;
	w->arg = NULL;
	return pthread_mutex_init(&w->lock, NULL) == 0 ? 0 : SOTTO_ERR_INTERNAL;
}

void
mailstore_watch_set(struct mailstore_watch *w, mailstore_watch_fn fn, void *arg)
{
	pthread_mutex_lock(&w->lock);
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_unlock(&w->lock);
}

void
mailstore_watch_notify(struct mailstore_watch *w, const char *folder)
{
	mailstore_watch_fn fn;
	void *arg;

	pthread_mutex_lock(&w->lock);
	fn = w->fn;
	arg = w->arg;
	pthread_mutex_unlock(&w->lock);
	if (fn != NULL)
		fn(arg, folder);
}

void
mailstore_watch_destroy(struct mailstore_watch *w)
{
	pthread_mutex_destroy(&w->lock);
}
