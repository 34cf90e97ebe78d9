/*
 * Schema 4 to 5: each received mail stored once. Before, every part of a mail was a
 * history entry of its own, and the bridge wrote the whole mail a second time into INBOX.
 * Inside the upgrade's transaction, every received part leaves the history for
 * mail_parts; each mail whose parts are all there becomes one history entry, and the
 * folder row that holds a copy of it (the bridge's, with its UID and flags) turns into a
 * reference to that entry, so UIDs, flags and UIDVALIDITY stay as they were. A mail the
 * bridge never filed goes into INBOX under a new UID; one it filed that is in no folder
 * any more (the user deleted it) is kept in the history only. Parts of mails that are
 * not complete wait in mail_parts for the rest, as new ones do.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/client_int.h"
#include "client/store_int.h"
#include "mail/mail_content.h"
#include "mail/mail_sender.h"

#define FOLD_BATCH 64

/* Files the whole mail of the history entry tmpl describes. */
static int
fold_mail(struct store *st, const struct store_message *tmpl, const uint8_t *mail,
    size_t len, int filed)
{
	struct store_message m = *tmpl;
	struct buf fixed;
	int64_t folder = 0, row = 0;
	uint32_t uid = 0;
	int r, rewritten = 0;

	if (!filed)
		return client_mail_file(st, tmpl, NULL, mail, len, NULL);
	buf_init_dyn(&fixed, len + MAIL_SENDER_GROWTH);
	if ((r = mail_sender_rewrite(mail, len, m.peer, &fixed, &rewritten)) != 0) {
		r = r == SOTTO_ERR_NOMEM ? r : SOTTO_ERR_MALFORMED;
		goto out;
	}
	if (rewritten) {
		mail = fixed.p;
		len = fixed.len;
	}
	m.type = STORE_MSG_MAIL;
	m.body = (uint8_t *)(uintptr_t)mail;
	m.body_len = len;
	if ((r = store_message_add_row(st, &m, &row)) != 0)
		goto out;
	r = store_mail_find_copy(st, mail, len, &folder, &uid);
	if (r == 0)
		r = store_mail_make_ref(st, folder, uid, row);
	else if (r == SOTTO_ERR_NOT_FOUND)
		r = 0;          /* deleted by the user: in the history only */
out:
	buf_wipe_free(&fixed);
	return r;
}

/* One received part: into mail_parts, out of the history; files its mail if complete. */
static int
fold_part(struct store *st, const struct store_message *m, const struct mail_part *p,
    const struct mail_progress *prog)
{
	struct store_message whole = *m;
	uint8_t *mail = NULL;
	size_t len = 0;
	uint32_t have = 0;
	int r, filed;

	r = store_mail_part_put(st, m->peer, p->id, sizeof(p->id), p->index, m->local_time,
	    m->body, m->body_len);
	if (r != 0 && r != SOTTO_ERR_EXISTS)
		return r;
	if ((r = store_change_by_id(st, "DELETE FROM messages WHERE row = ?", m->row)) != 0)
		return r;
	if ((r = store_mail_part_count(st, m->peer, p->id, sizeof(p->id), &have)) != 0)
		return r;
	if (have < p->count)
		return 0;       /* read once, when the last one is there */
	if ((r = client_mail_parts_assemble(st, m->peer, p->id, &mail, &len)) != 1)
		return r;
	mail_content_history_id(m->peer, p->id, whole.id);
	filed = mail_progress_has(prog, p->id) || m->row <= prog->row;
	r = fold_mail(st, &whole, mail, len, filed);
	if (r == SOTTO_ERR_EXISTS || r == SOTTO_ERR_MALFORMED)
		r = 0;          /* filed twice before, or never fileable: the parts go */
	sodium_memzero(mail, len);
	free(mail);
	return r;
}

int
store_mail_fold(struct store *st)
{
	struct store_message_list l = { NULL, 0 };
	struct mail_progress *prog;
	struct mail_part p;
	uint8_t *v = NULL;
	size_t vlen = 0, i;
	int64_t after = 0;
	int r;

	if ((prog = calloc(1, sizeof(*prog))) == NULL)
		return SOTTO_ERR_NOMEM;
	r = store_setting_get(st, MAIL_PROGRESS_SETTING, &v, &vlen);
	if (r == 0) {
		if (mail_progress_decode(v, vlen, prog) != 0)
			memset(prog, 0, sizeof(*prog));     /* as if the bridge never ran */
		store_blob_free(v, vlen);
		r = store_setting_delete(st, MAIL_PROGRESS_SETTING);
	}
	if (r != 0 && r != SOTTO_ERR_NOT_FOUND)
		goto out;
	do {
		if ((r = store_message_list(st, NULL, after, FOLD_BATCH, &l)) != 0)
			goto out;
		for (i = 0; i < l.n && r == 0; i++) {
			after = l.v[i].row;
			if (l.v[i].dir != STORE_DIR_IN || l.v[i].type != STORE_MSG_MAIL ||
			    l.v[i].group_len != 0 ||
			    mail_content_parse(l.v[i].body, l.v[i].body_len, &p) != 0)
				continue;       /* a whole mail is one entry already */
			r = fold_part(st, &l.v[i], &p, prog);
		}
		i = l.n;
		store_message_list_free(&l);
	} while (r == 0 && i == FOLD_BATCH);
out:
	sodium_memzero(prog, sizeof(*prog));
	free(prog);
	return r;
}
