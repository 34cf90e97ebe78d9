/* Internals shared by the IMAP engine's files (imap_session.c, imap_cmd.c). */
#ifndef SOTTO_IMAP_IMAP_SESSION_INT_H
#define SOTTO_IMAP_IMAP_SESSION_INT_H

#include "base/buf.h"
#include "imap/imap_parse.h"
#include "imap/imap_session.h"
#include "bridge/lineio.h"

#define IMAP_TAG_MAX 64
#define IMAP_VIEW_GONE 0x80000000u      /* expunged, not yet reported */

enum imap_state { IMAP_NOAUTH, IMAP_AUTH, IMAP_SELECTED, IMAP_LOGOUT };
enum imap_input { IMAP_IN_COMMAND, IMAP_IN_IDLE, IMAP_IN_AUTH_PLAIN };

/* What this session has told the client about the selected folder. */
struct imap_view {
	uint32_t *uid;
	uint32_t *flags;                /* MAILSTORE_* | IMAP_VIEW_GONE */
	size_t n, cap;
};

struct imap_session {
	struct imap_config cfg;
	struct mailstore *ms;
	struct imap_host host;
	struct lineio lio;
	struct buf cmd;                 /* the command being assembled, literals included */
	struct buf out;
	enum imap_state state;
	enum imap_input in;
	char tag[IMAP_TAG_MAX + 1];     /* of an IDLE or AUTHENTICATE in progress */
	unsigned auth_failures;
	int login_pending;              /* the tag of the login command is in tag */
	int blocked;                    /* input waits: too much output unsent */
	struct imap_fetch_job *fetch_job;       /* a FETCH paused for output; its tag in tag */
	int fetch_uid;
	int done;
	char folder[MAILSTORE_FOLDER_MAX + 1];
	int readonly;
	uint32_t uidvalidity;
	struct imap_view v;
};

/* A command's outcome: "OK", "NO" or "BAD" and the text after it. */
struct imap_result {
	const char *status;
	char text[256];
};

void imap_result_set(struct imap_result *r, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void imap_out_flush(struct imap_session *s);
/* Wipes and empties the output buffer: what it held may be decrypted mail. */
void imap_out_discard(struct imap_session *s);
void imap_capabilities(struct buf *out, enum imap_state st);
/* Reports changes of the selected folder; EXPUNGE only when allow_expunge. */
void imap_view_sync(struct imap_session *s, int allow_expunge);
void imap_view_clear(struct imap_session *s);
/* The store's name of mailbox name ("INBOX" in any case), or NOT_FOUND. */
int imap_folder_resolve(struct imap_session *s, const struct imap_str *name,
    char out[MAILSTORE_FOLDER_MAX + 1]);

/* Command handlers (imap_cmd.c): each leaves untagged data in s->out and its outcome in r. */
void imap_cmd_list(struct imap_session *s, struct imap_parser *p, struct imap_result *r,
    int lsub);
void imap_cmd_select(struct imap_session *s, struct imap_parser *p, struct imap_result *r,
    int readonly);
void imap_cmd_status(struct imap_session *s, struct imap_parser *p, struct imap_result *r);
void imap_cmd_append(struct imap_session *s, struct imap_parser *p, struct imap_result *r);
/* Returns 1 if the FETCH paused (s->fetch_job set; it took over the parser's scratch and
 * the command buffer its strings point into). */
int imap_cmd_fetch(struct imap_session *s, struct imap_parser *p, struct imap_result *r,
    int uid, int may_pause);
/* Goes on with s->fetch_job: 1 if it paused again, 0 when done (r holds the outcome). */
int imap_fetch_job_resume(struct imap_session *s, struct imap_result *r);
void imap_fetch_job_free(struct imap_fetch_job *job);
/* 1 if more output waits to be sent than cfg.out_high. */
int imap_backlogged(const struct imap_session *s);
void imap_cmd_store(struct imap_session *s, struct imap_parser *p, struct imap_result *r,
    int uid);
void imap_cmd_search(struct imap_session *s, struct imap_parser *p, struct imap_result *r,
    int uid);
/* COPY, or MOVE (RFC 6851) when move is set. */
void imap_cmd_copy(struct imap_session *s, struct imap_parser *p, struct imap_result *r,
    int uid, int move);
void imap_cmd_expunge(struct imap_session *s, struct imap_parser *p, struct imap_result *r,
    int uid, int silent);

#endif
