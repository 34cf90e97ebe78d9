/* Internal to the SMTP engine: the server shared by its sessions, and the session hooks
 * the listener calls. */
#ifndef SOTTO_SMTP_SMTP_SESSION_H
#define SOTTO_SMTP_SMTP_SESSION_H

#include "smtp/smtp.h"

struct smtp_server {
	uv_loop_t *loop;
	struct listener *listener;
	struct smtp_backend be;
	struct bridge_auth *auth;
	char *hostname;
	char *user;
	uint64_t max_size;
	unsigned max_rcpts;
	unsigned max_errors;
	unsigned sessions;              /* alive, including closed ones awaiting callbacks */
	int listener_gone;
	int stopping;
	void (*done)(void *);
	void *done_arg;
};

void *smtp_session_open(void *server, struct listener_conn *c);
size_t smtp_session_read(void *session, const uint8_t *p, size_t n);
void smtp_session_closed(void *session, int why);
/* Called when a session is freed: the server may be finishing a stop. */
void smtp_server_session_gone(struct smtp_server *s);

#endif
