/*
 * IMAP mailbox and message commands: LIST/LSUB, SELECT/EXAMINE, STATUS, APPEND, FETCH,
 * STORE, SEARCH, COPY and EXPUNGE, over the mail store.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/imap_fetch.h"
#include "imap/imap_search.h"
#include "imap/imap_session_int.h"
#include "imap/imap_str.h"

#define FLAGS_LIST "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)"

static void
put_folder(struct buf *out, const char *name)
{
	imap_put_string(out, (const uint8_t *)name, strlen(name));
}

/* LIST pattern matching; the folders are flat, so % and * both match anything. */
static int
pattern_match(const uint8_t *pat, size_t pn, const char *name, int nocase)
{
	size_t nn = strlen(name), pi = 0, ni = 0, star_p = SIZE_MAX, star_n = 0;

	while (ni < nn) {
		if (pi < pn && (pat[pi] == '*' || pat[pi] == '%')) {
			star_p = pi++;
			star_n = ni;
		} else if (pi < pn && (pat[pi] == (uint8_t)name[ni] || (nocase &&
		    (pat[pi] | 32) == ((uint8_t)name[ni] | 32)))) {
			pi++;
			ni++;
		} else if (star_p != SIZE_MAX) {
			pi = star_p + 1;
			ni = ++star_n;
		} else {
			return 0;
		}
	}
	while (pi < pn && (pat[pi] == '*' || pat[pi] == '%'))
		pi++;
	return pi == pn;
}

void
imap_cmd_list(struct imap_session *s, struct imap_parser *p, struct imap_result *r, int lsub)
{
	static const char *const roles[] = { "", "", " \\Sent", " \\Drafts", " \\Trash" };
	struct mailstore_folder f[MAILSTORE_FOLDERS_MAX];
	struct imap_str ref, pat;
	uint8_t full[2 * MAILSTORE_FOLDER_MAX + 2];
	size_t n, i, fl;

	if (!imap_sp(p) || !imap_list_mailbox(p, &ref) || !imap_sp(p) ||
	    !imap_list_mailbox(p, &pat) || !imap_eol(p)) {
		imap_result_set(r, "BAD", "Expected a reference and a pattern");
		return;
	}
	if (pat.len == 0 && !lsub) {
		imap_put_raw(&s->out, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_result_set(r, "OK", "LIST completed");
		return;
	}
	if (ref.len + pat.len > sizeof(full)) {
		imap_result_set(r, "OK", "LIST completed");  /* matches no folder */
		return;
	}
	memcpy(full, ref.p, ref.len);
	memcpy(full + ref.len, pat.p, pat.len);
	fl = ref.len + pat.len;
	if (s->ms->ops->folders(s->ms->impl, f, MAILSTORE_FOLDERS_MAX, &n) != 0) {
		imap_result_set(r, "NO", "[SERVERBUG] Cannot list folders");
		return;
	}
	for (i = 0; i < n; i++) {
		int inbox = strcmp(f[i].name, "INBOX") == 0;
		if (!pattern_match(full, fl, f[i].name, inbox))
			continue;
		imap_put_raw(&s->out, lsub ? "* LSUB (" : "* LIST (");
		imap_put_raw(&s->out, "\\HasNoChildren");
		if (!lsub && f[i].role < sizeof(roles) / sizeof(roles[0]))
			imap_put_raw(&s->out, roles[f[i].role]);
		imap_put_raw(&s->out, ") \"/\" ");
		put_folder(&s->out, f[i].name);
		imap_put_raw(&s->out, "\r\n");
	}
	imap_result_set(r, "OK", lsub ? "LSUB completed" : "LIST completed");
}

void
imap_cmd_select(struct imap_session *s, struct imap_parser *p, struct imap_result *r,
    int readonly)
{
	struct mailstore_status st;
	struct mailstore_msg *list = NULL;
	struct imap_str name;
	size_t n = 0, i, first_unseen = 0;

	imap_view_clear(s);
	if (!imap_sp(p) || !imap_astring(p, &name) || !imap_eol(p)) {
		imap_result_set(r, "BAD", "Expected a mailbox");
		return;
	}
	if (imap_folder_resolve(s, &name, s->folder) != 0 ||
	    s->ms->ops->status(s->ms->impl, s->folder, &st) != 0 ||
	    s->ms->ops->list(s->ms->impl, s->folder, &list, &n) != 0) {
		s->folder[0] = 0;
		imap_result_set(r, "NO", "No such mailbox");
		return;
	}
	if ((s->v.uid = malloc((n ? n : 1) * sizeof(uint32_t))) == NULL ||
	    (s->v.flags = malloc((n ? n : 1) * sizeof(uint32_t))) == NULL) {
		free(list);
		imap_view_clear(s);
		imap_result_set(r, "NO", "[SERVERBUG] Out of memory");
		return;
	}
	s->v.cap = n ? n : 1;
	for (i = 0; i < n; i++) {
		s->v.uid[i] = list[i].uid;
		s->v.flags[i] = list[i].flags;
		if (!first_unseen && !(list[i].flags & MAILSTORE_SEEN))
			first_unseen = i + 1;
	}
	s->v.n = n;
	free(list);
	s->state = IMAP_SELECTED;
	s->readonly = readonly;
	s->uidvalidity = st.uidvalidity;
	imap_put_raw(&s->out, "* FLAGS " FLAGS_LIST "\r\n");
	imap_put_raw(&s->out, readonly ? "* OK [PERMANENTFLAGS ()] Read-only\r\n" :
	    "* OK [PERMANENTFLAGS " FLAGS_LIST "] Flags permitted\r\n");
	imap_put_raw(&s->out, "* ");
	imap_put_u64(&s->out, n);
	imap_put_raw(&s->out, " EXISTS\r\n* 0 RECENT\r\n");
	if (first_unseen) {
		imap_put_raw(&s->out, "* OK [UNSEEN ");
		imap_put_u64(&s->out, first_unseen);
		imap_put_raw(&s->out, "] First unseen\r\n");
	}
	imap_put_raw(&s->out, "* OK [UIDVALIDITY ");
	imap_put_u64(&s->out, st.uidvalidity);
	imap_put_raw(&s->out, "] UIDs valid\r\n* OK [UIDNEXT ");
	imap_put_u64(&s->out, st.uidnext);
	imap_put_raw(&s->out, "] Predicted next UID\r\n");
	imap_result_set(r, "OK", readonly ? "[READ-ONLY] EXAMINE completed" :
	    "[READ-WRITE] SELECT completed");
}

void
imap_cmd_status(struct imap_session *s, struct imap_parser *p, struct imap_result *r)
{
	static const char *const items[] = { "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY",
	    "UNSEEN" };
	struct mailstore_status st;
	struct imap_str name, item;
	char folder[MAILSTORE_FOLDER_MAX + 1];
	uint32_t vals[5];
	size_t i, count = 0, mark = s->out.len;

	if (!imap_sp(p) || !imap_astring(p, &name) || !imap_sp(p) || !imap_accept(p, '(')) {
		imap_result_set(r, "BAD", "Expected a mailbox and status items");
		return;
	}
	if (imap_folder_resolve(s, &name, folder) != 0 ||
	    s->ms->ops->status(s->ms->impl, folder, &st) != 0) {
		imap_result_set(r, "NO", "No such mailbox");
		return;
	}
	vals[0] = st.messages;
	vals[1] = 0;
	vals[2] = st.uidnext;
	vals[3] = st.uidvalidity;
	vals[4] = st.unseen;
	imap_put_raw(&s->out, "* STATUS ");
	put_folder(&s->out, folder);
	imap_put_raw(&s->out, " (");
	do {
		if (!imap_atom(p, &item))
			goto bad;
		for (i = 0; i < 5 && !imap_is(&item, items[i]); i++)
			;
		if (i == 5)
			goto bad;
		if (count++)
			buf_u8(&s->out, ' ');
		imap_put_raw(&s->out, items[i]);
		buf_u8(&s->out, ' ');
		imap_put_u64(&s->out, vals[i]);
	} while (imap_sp(p));
	if (!imap_accept(p, ')') || !imap_eol(p))
		goto bad;
	imap_put_raw(&s->out, ")\r\n");
	imap_result_set(r, "OK", "STATUS completed");
	return;
bad:
	s->out.len = mark;      /* drop the half-written STATUS line, keep what came before */
	imap_result_set(r, "BAD", "Unknown status item");
}

/* A flag: 1 with its bit (0 for a keyword, which is accepted and not kept); 0 if invalid. */
static int
parse_flag(struct imap_parser *p, uint32_t *bit)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} names[] = {
		{ "Seen", MAILSTORE_SEEN }, { "Answered", MAILSTORE_ANSWERED },
		{ "Flagged", MAILSTORE_FLAGGED }, { "Deleted", MAILSTORE_DELETED },
		{ "Draft", MAILSTORE_DRAFT },
	};
	struct imap_str a;
	size_t i;
	int sys = imap_accept(p, '\\');

	*bit = 0;
	if (!imap_atom(p, &a))
		return 0;
	if (!sys)
		return 1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (imap_is(&a, names[i].name)) {
			*bit = names[i].bit;
			return 1;
		}
	}
	return 0;
}

/* "(" [flag *(SP flag)] ")", or with bare_ok flags separated by SP without parentheses. */
static int
parse_flags(struct imap_parser *p, uint32_t *flags, int bare_ok)
{
	uint32_t bit;
	int paren = imap_accept(p, '(');

	*flags = 0;
	if (!paren && !bare_ok)
		return 0;
	if (paren && imap_accept(p, ')'))
		return 1;
	do {
		if (!parse_flag(p, &bit))
			return 0;
		*flags |= bit;
	} while (imap_sp(p));
	return !paren || imap_accept(p, ')');
}

void
imap_cmd_append(struct imap_session *s, struct imap_parser *p, struct imap_result *r)
{
	struct mailstore_status st;
	struct imap_str name, msg;
	char folder[MAILSTORE_FOLDER_MAX + 1];
	uint32_t flags = 0, uid = 0;
	int64_t date = (int64_t)time(NULL);

	if (!imap_sp(p) || !imap_astring(p, &name) || !imap_sp(p))
		goto bad;
	if (imap_peek(p) == '(' && (!parse_flags(p, &flags, 0) || !imap_sp(p)))
		goto bad;
	if (imap_peek(p) == '"' && (!imap_datetime(p, &date) || !imap_sp(p)))
		goto bad;
	if (imap_peek(p) != '{' || !imap_string(p, &msg) || !imap_eol(p))
		goto bad;
	if (imap_folder_resolve(s, &name, folder) != 0) {
		imap_result_set(r, "NO", "[TRYCREATE] No such mailbox");
		return;
	}
	if (s->ms->ops->status(s->ms->impl, folder, &st) != 0 ||
	    s->ms->ops->append(s->ms->impl, folder, msg.p, msg.len, flags, date, &uid) != 0) {
		imap_result_set(r, "NO", "[SERVERBUG] The message was not stored");
		return;
	}
	imap_result_set(r, "OK", "[APPENDUID %u %u] APPEND completed", st.uidvalidity, uid);
	return;
bad:
	imap_result_set(r, "BAD", "Expected mailbox [(flags)] [date-time] literal");
}

/* The sequence set of a FETCH/STORE/COPY/SEARCH; non-UID numbers must exist. */
static int
parse_set(struct imap_session *s, struct imap_parser *p, struct imap_seqset *set, int uid)
{
	size_t i;

	if (!imap_seqset_parse(p, set))
		return 0;
	if (uid)
		return 1;
	for (i = 0; i < set->n; i++)
		if (set->r[i].lo > s->v.n || set->r[i].hi > s->v.n)
			return 0;
	return 1;
}

static int
in_set(const struct imap_session *s, const struct imap_seqset *set, size_t i, int uid)
{
	if (s->v.flags[i] & IMAP_VIEW_GONE)
		return 0;
	if (uid)
		return imap_seqset_has(set, s->v.uid[i], s->v.n ? s->v.uid[s->v.n - 1] : 0);
	return imap_seqset_has(set, (uint32_t)(i + 1), (uint32_t)s->v.n);
}

static const struct mailstore_msg *
find_msg(const struct mailstore_msg *list, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (list[mid].uid == uid)
			return &list[mid];
		if (list[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct imap_fetch_job {
	struct imap_fetch *f;
	struct imap_seqset set;
	struct mailstore_msg *list;
	size_t n, next;
	int uid;
	struct imap_result r;
	uint8_t *scratch;               /* strings in f may point here */
	struct buf cmd;                 /* and here */
};

void
imap_fetch_job_free(struct imap_fetch_job *job)
{
	if (job == NULL)
		return;
	free(job->list);
	free(job->f);
	imap_seqset_free(&job->set);
	free(job->scratch);
	buf_wipe_free(&job->cmd);
	free(job);
}

/* Writes one message's FETCH response. */
static void
fetch_one(struct imap_session *s, struct imap_fetch_job *job, size_t i)
{
	const struct imap_fetch *f = job->f;
	const struct mailstore_msg *m;
	struct imap_fetch_msg fm;
	struct mime_msg mm;
	uint8_t *data = NULL;
	size_t dlen = 0;
	int rc;

	if ((m = find_msg(job->list, job->n, s->v.uid[i])) == NULL) {
		imap_result_set(&job->r, "NO", "Some messages were expunged");
		return;
	}
	fm.uid = m->uid;
	fm.flags = s->v.flags[i] & MAILSTORE_FLAGS_ALL;
	fm.internaldate = m->internaldate;
	fm.size = m->size;
	fm.mime = NULL;
	if (f->need_data) {
		if (s->ms->ops->fetch(s->ms->impl, s->folder, m->uid, &data, &dlen) != 0) {
			imap_result_set(&job->r, "NO", "Some messages could not be read");
			return;
		}
		if (mime_parse(&mm, data, dlen) != 0) {
			mailstore_release(s->ms, data, dlen);
			imap_result_set(&job->r, "NO", "[SERVERBUG] Out of memory");
			return;
		}
		fm.mime = &mm;
	}
	if (f->sets_seen && !s->readonly && !(fm.flags & MAILSTORE_SEEN) &&
	    s->ms->ops->set_flags(s->ms->impl, s->folder, m->uid,
	    fm.flags | MAILSTORE_SEEN) == 0) {
		fm.flags |= MAILSTORE_SEEN;
		s->v.flags[i] = (s->v.flags[i] & ~MAILSTORE_FLAGS_ALL) | fm.flags;
	}
	imap_out_flush(s);      /* so a response that does not fit can be taken back whole */
	imap_put_raw(&s->out, "* ");
	imap_put_u64(&s->out, i + 1);
	imap_put_raw(&s->out, " FETCH ");
	rc = imap_fetch_put(&s->out, f, &fm);
	imap_put_raw(&s->out, "\r\n");
	if (fm.mime != NULL)
		mime_free(&mm);
	mailstore_release(s->ms, data, dlen);
	if (rc != 0 || buf_status(&s->out) != 0) {
		imap_out_discard(s);
		imap_result_set(&job->r, "NO", "[SERVERBUG] Response too large");
	}
	imap_out_flush(s);
}

/* Emits messages from job->next on; 1 if it stopped because output piled up. */
static int
fetch_run(struct imap_session *s, struct imap_fetch_job *job, int may_pause)
{
	for (; job->next < s->v.n && !s->done; job->next++) {
		if (!in_set(s, &job->set, job->next, job->uid))
			continue;
		if (may_pause && imap_backlogged(s))
			return 1;
		fetch_one(s, job, job->next);
	}
	return 0;
}

int
imap_cmd_fetch(struct imap_session *s, struct imap_parser *p, struct imap_result *r, int uid,
    int may_pause)
{
	struct imap_fetch_job *job;

	if ((job = calloc(1, sizeof(*job))) == NULL || (job->f = malloc(sizeof(*job->f))) == NULL) {
		free(job);
		imap_result_set(r, "NO", "[SERVERBUG] Out of memory");
		return 0;
	}
	job->uid = uid;
	if (!imap_sp(p) || !parse_set(s, p, &job->set, uid) || !imap_sp(p) ||
	    imap_fetch_parse(p, job->f) != 0 || !imap_eol(p)) {
		imap_result_set(r, "BAD", "Invalid FETCH");
		goto done;
	}
	if (uid)
		imap_fetch_add(job->f, FA_UID);
	if (job->f->sets_seen && !s->readonly)
		imap_fetch_add(job->f, FA_FLAGS);
	if (s->ms->ops->list(s->ms->impl, s->folder, &job->list, &job->n) != 0) {
		imap_result_set(r, "NO", "[SERVERBUG] Cannot read the mailbox");
		goto done;
	}
	imap_result_set(&job->r, "OK", "FETCH completed");
	if (fetch_run(s, job, may_pause)) {
		/* keep what the parsed items point into until the FETCH is finished */
		job->scratch = p->scratch;
		p->scratch = NULL;
		job->cmd = s->cmd;
		buf_init_dyn(&s->cmd, s->cfg.command_max);
		s->fetch_job = job;
		return 1;
	}
	*r = job->r;
done:
	imap_fetch_job_free(job);
	return 0;
}

int
imap_fetch_job_resume(struct imap_session *s, struct imap_result *r)
{
	struct imap_fetch_job *job = s->fetch_job;

	if (fetch_run(s, job, 1))
		return 1;
	*r = job->r;
	s->fetch_job = NULL;
	imap_fetch_job_free(job);
	return 0;
}

void
imap_cmd_store(struct imap_session *s, struct imap_parser *p, struct imap_result *r, int uid)
{
	struct imap_seqset set = { 0 };
	struct imap_str item;
	uint32_t flags, now;
	size_t i;
	int mode, silent;

	if (!imap_sp(p) || !parse_set(s, p, &set, uid) || !imap_sp(p) || !imap_atom(p, &item) ||
	    !imap_sp(p) || !parse_flags(p, &flags, 1) || !imap_eol(p)) {
		imap_result_set(r, "BAD", "Invalid STORE");
		goto out;
	}
	mode = item.len > 0 && (item.p[0] == '+' || item.p[0] == '-') ? item.p[0] : 0;
	if (mode) {
		item.p++;
		item.len--;
	}
	silent = imap_is(&item, "FLAGS.SILENT");
	if (!silent && !imap_is(&item, "FLAGS")) {
		imap_result_set(r, "BAD", "Unknown STORE item");
		goto out;
	}
	if (s->readonly) {
		imap_result_set(r, "NO", "[READ-ONLY] Mailbox is read-only");
		goto out;
	}
	imap_result_set(r, "OK", "STORE completed");
	for (i = 0; i < s->v.n; i++) {
		if (!in_set(s, &set, i, uid))
			continue;
		now = s->v.flags[i] & MAILSTORE_FLAGS_ALL;
		now = mode == '+' ? now | flags : mode == '-' ? now & ~flags : flags;
		if (s->ms->ops->set_flags(s->ms->impl, s->folder, s->v.uid[i], now) != 0) {
			imap_result_set(r, "NO", "Some messages were expunged");
			continue;
		}
		s->v.flags[i] = now;
		if (silent)
			continue;
		imap_put_raw(&s->out, "* ");
		imap_put_u64(&s->out, i + 1);
		imap_put_raw(&s->out, " FETCH (FLAGS ");
		imap_put_flags(&s->out, now);
		if (uid) {
			imap_put_raw(&s->out, " UID ");
			imap_put_u64(&s->out, s->v.uid[i]);
		}
		imap_put_raw(&s->out, ")\r\n");
	}
out:
	imap_seqset_free(&set);
}

struct lazy_msg {
	struct imap_session *s;
	uint32_t uid;
	int tried;
	uint8_t *data;          /* decrypted mail: released through the store */
	size_t len;
	struct mime_msg mm;
	int parsed;
};

static const struct mime_msg *
lazy_load(void *arg)
{
	struct lazy_msg *l = arg;

	if (!l->tried) {
		l->tried = 1;
		if (l->s->ms->ops->fetch(l->s->ms->impl, l->s->folder, l->uid, &l->data,
		    &l->len) == 0)
			l->parsed = mime_parse(&l->mm, l->data, l->len) == 0;
	}
	return l->parsed ? &l->mm : NULL;
}

void
imap_cmd_search(struct imap_session *s, struct imap_parser *p, struct imap_result *r, int uid)
{
	struct imap_search srch = { 0 };
	struct mailstore_msg *list = NULL;
	struct imap_parser save;
	struct imap_str a;
	size_t n = 0, i;

	if (!imap_sp(p)) {
		imap_result_set(r, "BAD", "Expected search keys");
		return;
	}
	save = *p;
	if (imap_atom(p, &a) && imap_is(&a, "CHARSET")) {
		if (!imap_sp(p) || !imap_astring(p, &a) || !imap_sp(p)) {
			imap_result_set(r, "BAD", "Expected a charset");
			return;
		}
		if (!imap_is(&a, "US-ASCII") && !imap_is(&a, "UTF-8")) {
			imap_result_set(r, "NO", "[BADCHARSET (US-ASCII UTF-8)] Unknown charset");
			return;
		}
	} else {
		*p = save;
	}
	if (imap_search_parse(p, &srch) != 0 || !imap_eol(p)) {
		imap_result_set(r, "BAD", "Invalid search keys");
		goto out;
	}
	if (s->ms->ops->list(s->ms->impl, s->folder, &list, &n) != 0) {
		imap_result_set(r, "NO", "[SERVERBUG] Cannot read the mailbox");
		goto out;
	}
	imap_put_raw(&s->out, "* SEARCH");
	for (i = 0; i < s->v.n; i++) {
		const struct mailstore_msg *m;
		struct imap_search_msg sm;
		struct lazy_msg lazy = { s, s->v.uid[i], 0, NULL, 0, { { 0 } , 0, 0, 0 }, 0 };
		int hit;

		if ((s->v.flags[i] & IMAP_VIEW_GONE) || (m = find_msg(list, n, s->v.uid[i])) == NULL)
			continue;
		sm.seq = (uint32_t)(i + 1);
		sm.uid = m->uid;
		sm.flags = s->v.flags[i] & MAILSTORE_FLAGS_ALL;
		sm.max_seq = (uint32_t)s->v.n;
		sm.max_uid = s->v.n ? s->v.uid[s->v.n - 1] : 0;
		sm.internaldate = m->internaldate;
		sm.size = m->size;
		sm.load = lazy_load;
		sm.load_arg = &lazy;
		hit = imap_search_match(&srch, &sm);
		if (lazy.parsed)
			mime_free(&lazy.mm);
		mailstore_release(s->ms, lazy.data, lazy.len);
		if (hit) {
			buf_u8(&s->out, ' ');
			imap_put_u64(&s->out, uid ? m->uid : i + 1);
		}
	}
	imap_put_raw(&s->out, "\r\n");
	imap_result_set(r, "OK", "SEARCH completed");
out:
	free(list);
	imap_search_free(&srch);
}

/* A UID set for COPYUID, runs collapsed ("3:7,9"); empty if it does not fit out. */
static void
put_uid_set(char *out, size_t cap, const uint32_t *v, size_t n)
{
	struct buf b;
	size_t i, j;

	buf_init_fixed(&b, (uint8_t *)out, cap - 1);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && v[j] == v[j - 1] + 1; j++)
			;
		if (i > 0)
			buf_u8(&b, ',');
		imap_put_u64(&b, v[i]);
		if (j - i > 1) {
			buf_u8(&b, ':');
			imap_put_u64(&b, v[j - 1]);
		}
	}
	out[buf_status(&b) == 0 ? b.len : 0] = 0;
}

void
imap_cmd_copy(struct imap_session *s, struct imap_parser *p, struct imap_result *r, int uid,
    int move)
{
	struct imap_seqset set = { 0 };
	struct mailstore_status st;
	struct imap_str name;
	char dest[MAILSTORE_FOLDER_MAX + 1], srcs[160], dsts[160];
	uint32_t *src_uids = NULL, *dst_uids = NULL;
	size_t i, n = 0;

	if (!imap_sp(p) || !parse_set(s, p, &set, uid) || !imap_sp(p) ||
	    !imap_astring(p, &name) || !imap_eol(p)) {
		imap_result_set(r, "BAD", move ? "Invalid MOVE" : "Invalid COPY");
		goto out;
	}
	if (move && s->readonly) {
		imap_result_set(r, "NO", "[READ-ONLY] Mailbox is read-only");
		goto out;
	}
	if (imap_folder_resolve(s, &name, dest) != 0 ||
	    s->ms->ops->status(s->ms->impl, dest, &st) != 0) {
		imap_result_set(r, "NO", "[TRYCREATE] No such mailbox");
		goto out;
	}
	if ((src_uids = calloc(s->v.n + 1, sizeof(uint32_t))) == NULL ||
	    (dst_uids = calloc(s->v.n + 1, sizeof(uint32_t))) == NULL) {
		imap_result_set(r, "NO", "[SERVERBUG] Out of memory");
		goto out;
	}
	for (i = 0; i < s->v.n; i++) {
		if (!in_set(s, &set, i, uid))
			continue;
		if (s->ms->ops->copy(s->ms->impl, s->folder, s->v.uid[i], dest, &dst_uids[n]) != 0) {
			/* all or nothing: take back the copies already made */
			(void)s->ms->ops->expunge(s->ms->impl, dest, dst_uids, n);
			imap_result_set(r, "NO", "COPY failed; nothing was copied");
			goto out;
		}
		src_uids[n++] = s->v.uid[i];
	}
	put_uid_set(srcs, sizeof(srcs), src_uids, n);
	put_uid_set(dsts, sizeof(dsts), dst_uids, n);
	if (move) {
		/* RFC 6851: COPYUID goes untagged, then the originals go (the EXPUNGE responses
		 * follow from the sync after the command) */
		if (n > 0 && srcs[0] && dsts[0]) {
			imap_put_raw(&s->out, "* OK [COPYUID ");
			imap_put_u64(&s->out, st.uidvalidity);
			buf_u8(&s->out, ' ');
			imap_put_raw(&s->out, srcs);
			buf_u8(&s->out, ' ');
			imap_put_raw(&s->out, dsts);
			imap_put_raw(&s->out, "] Moved\r\n");
		}
		if (n > 0 && s->ms->ops->expunge(s->ms->impl, s->folder, src_uids, n) != 0) {
			imap_result_set(r, "NO", "[SERVERBUG] Copied but not removed");
			goto out;
		}
		imap_result_set(r, "OK", "MOVE completed");
	} else if (n > 0 && srcs[0] && dsts[0]) {
		imap_result_set(r, "OK", "[COPYUID %u %s %s] COPY completed", st.uidvalidity, srcs,
		    dsts);
	} else {
		imap_result_set(r, "OK", "COPY completed");
	}
out:
	free(src_uids);
	free(dst_uids);
	imap_seqset_free(&set);
}

void
imap_cmd_expunge(struct imap_session *s, struct imap_parser *p, struct imap_result *r,
    int uid, int silent)
{
	struct imap_seqset set = { 0 };
	struct mailstore_msg *list = NULL;
	uint32_t *gone = NULL;
	size_t n = 0, i, k = 0;

	if (uid && (!imap_sp(p) || !imap_seqset_parse(p, &set) || !imap_eol(p))) {
		imap_result_set(r, "BAD", "Invalid UID EXPUNGE");
		goto out;
	}
	if (!uid && !silent && !imap_eol(p)) {
		imap_result_set(r, "BAD", "Invalid EXPUNGE");
		goto out;
	}
	if (s->readonly) {
		imap_result_set(r, "NO", "[READ-ONLY] Mailbox is read-only");
		goto out;
	}
	if (s->ms->ops->list(s->ms->impl, s->folder, &list, &n) != 0 ||
	    (gone = malloc((n + 1) * sizeof(uint32_t))) == NULL) {
		imap_result_set(r, "NO", "[SERVERBUG] Cannot read the mailbox");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!(list[i].flags & MAILSTORE_DELETED))
			continue;
		if (uid && !imap_seqset_has(&set, list[i].uid, s->v.n ? s->v.uid[s->v.n - 1] : 0))
			continue;
		gone[k++] = list[i].uid;
	}
	if (k > 0 && s->ms->ops->expunge(s->ms->impl, s->folder, gone, k) != 0) {
		imap_result_set(r, "NO", "[SERVERBUG] EXPUNGE failed");
		goto out;
	}
	imap_result_set(r, "OK", "EXPUNGE completed");
out:
	free(list);
	free(gone);
	imap_seqset_free(&set);
}
