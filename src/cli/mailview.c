/*
 * How `history`, `receive` and the daemon show mail: one entry per mail, with its subject
 * and size (sotto_mail_summary). A received mail is one history entry; the outgoing parts
 * a client stored before schema 5 are shown once, at their first part.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "sotto/mail.h"

void
cli_print_size(FILE *out, uint64_t n)
{
	if (n < 1024)
		fprintf(out, "%llu byte%s", (unsigned long long)n, n == 1 ? "" : "s");
	else if (n < 1024 * 1024)
		fprintf(out, "%.1f KiB", (double)n / 1024);
	else
		fprintf(out, "%.1f MiB", (double)n / (1024 * 1024));
}

/* How many parts of the mail at v[i] (its first part) the list holds. */
static uint32_t
parts_listed(const struct sotto_message *v, size_t n, size_t i, const struct sotto_mail_summary *first)
{
	struct sotto_mail_summary m;
	uint32_t seen = 1;
	size_t j;

	for (j = i + 1; j < n && seen < first->count; j++) {
		if (v[j].content != SOTTO_CONTENT_MAIL || v[j].dir != v[i].dir ||
		    strcmp(v[j].peer, v[i].peer) != 0)
			continue;
		sotto_mail_summary(v[j].body, v[j].body_len, &m);
		if (m.part && m.index != 0 && memcmp(m.id, first->id, sizeof(m.id)) == 0)
			seen++;
	}
	return seen;
}

int
cli_history_mail(const struct sotto_message *v, size_t n, size_t i, struct sotto_mail_summary *m,
    uint32_t *listed)
{
	*listed = 0;
	if (v[i].content != SOTTO_CONTENT_MAIL)
		return 0;
	sotto_mail_summary(v[i].body, v[i].body_len, m);
	if (m->part && m->index != 0)
		return -1;
	*listed = m->part ? parts_listed(v, n, i, m) : 1;
	return 1;
}

json_t *
cli_history_json(const struct sotto_message *v, size_t n, size_t i)
{
	struct sotto_mail_summary m;
	uint32_t listed;
	json_t *o;
	int r;

	if ((r = cli_history_mail(v, n, i, &m, &listed)) < 0)
		return NULL;
	o = cli_message_json(&v[i]);
	if (r == 0)
		return o;
	if (m.part)
		json_object_del(o, "body");
	json_object_set_new(o, "subject", cli_json_text((const uint8_t *)m.subject,
	    strlen(m.subject)));
	json_object_set_new(o, "size", json_integer((json_int_t)m.size));
	json_object_set_new(o, "parts", json_integer(m.count));
	json_object_set_new(o, "complete", json_boolean(listed == m.count));
	return o;
}

int
cli_history_fetch(struct sotto *s, const char *peer, int64_t after, size_t max,
    struct sotto_message **out, size_t *n)
{
	struct sotto_message *v = NULL, *b = NULL, *nv;
	size_t nv_len = 0, bn = 0, shown = 0, i, batch = max < 256 ? 256 : max;
	struct sotto_mail_summary m;
	uint32_t listed;
	int r;

	*out = NULL;
	*n = 0;
	for (;;) {
		if ((r = sotto_history(s, peer, after, batch, &b, &bn)) != 0)
			goto fail;
		if (bn == 0) {
			sotto_history_free(b, 0);
			break;
		}
		if ((nv = realloc(v, (nv_len + bn) * sizeof(*v))) == NULL) {
			sotto_history_free(b, bn);
			r = SOTTO_ERR_NOMEM;
			goto fail;
		}
		v = nv;
		memcpy(v + nv_len, b, bn * sizeof(*b));
		for (i = 0; i < bn; i++)
			b[i].body = NULL;       /* moved into v */
		sotto_history_free(b, bn);
		for (i = nv_len; i < nv_len + bn; i++)
			if (cli_history_mail(v, nv_len + bn, i, &m, &listed) >= 0)
				shown++;
		nv_len += bn;
		after = v[nv_len - 1].row;
		if (bn < batch || shown >= max)
			break;
	}
	*out = v;
	*n = nv_len;
	return 0;
fail:
	sotto_history_free(v, nv_len);
	return r;
}

/* How many of v[0..n) are shown; *first_kept (may be NULL) gets the index of the first of
 * the last `max` shown ones. */
static size_t
history_shown(const struct sotto_message *v, size_t n, size_t max, size_t *first_kept)
{
	struct sotto_mail_summary m;
	uint32_t listed;
	size_t i, shown = 0, seen = 0;

	for (i = 0; i < n; i++)
		if (cli_history_mail(v, n, i, &m, &listed) >= 0)
			shown++;
	if (first_kept == NULL)
		return shown;
	*first_kept = 0;
	for (i = 0; i < n && shown > max; i++) {
		if (cli_history_mail(v, n, i, &m, &listed) < 0)
			continue;
		if (++seen == shown - max + 1) {
			*first_kept = i;
			break;
		}
	}
	return shown;
}

int
cli_history_last(struct sotto *s, const char *peer, size_t max, struct sotto_message **out,
    size_t *n)
{
	struct sotto_message *v = NULL, *b = NULL, *nv;
	size_t nv_len = 0, bn = 0, batch = max < 256 ? 256 : max, keep;
	int64_t before = 0;
	int r;

	*out = NULL;
	*n = 0;
	for (;;) {
		if ((r = sotto_history_before(s, peer, before, batch, &b, &bn)) != 0)
			goto fail;
		if (bn == 0) {
			sotto_history_free(b, 0);
			break;
		}
		/* older entries go in front */
		if ((nv = malloc((nv_len + bn) * sizeof(*v))) == NULL) {
			sotto_history_free(b, bn);
			r = SOTTO_ERR_NOMEM;
			goto fail;
		}
		memcpy(nv, b, bn * sizeof(*b));
		if (nv_len > 0)
			memcpy(nv + bn, v, nv_len * sizeof(*v));
		free(v);
		free(b);        /* the bodies moved into nv */
		v = nv;
		nv_len += bn;
		before = v[0].row;
		if (bn < batch || history_shown(v, nv_len, max, NULL) >= max)
			break;
	}
	(void)history_shown(v, nv_len, max, &keep);
	if (keep > 0) {
		for (size_t i = 0; i < keep; i++) {
			sodium_memzero(v[i].body, v[i].body_len);
			free(v[i].body);
		}
		memmove(v, v + keep, (nv_len - keep) * sizeof(*v));
		nv_len -= keep;
	}
	*out = v;
	*n = nv_len;
	return 0;
fail:
	sotto_history_free(v, nv_len);
	return r;
}
