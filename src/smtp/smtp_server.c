#include "smtp/smtp_session.h"

#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

static const struct listener_ops smtp_listener_ops = {
	smtp_session_open, smtp_session_read, smtp_session_closed,
};

/* Both strings go into reply lines: no CR/LF, nothing that breaks a reply. */
static int
printable(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || s[i] <= ' ' || s[i] > '~')
			return 0;
	return i > 0;
}

static void
server_free(struct smtp_server *s)
{
	void (*done)(void *) = s->done;
	void *arg = s->done_arg;

	free(s->hostname);
	free(s->user);
	free(s);
	if (done != NULL)
		done(arg);
}

static void
maybe_finish(struct smtp_server *s)
{
	if (s->stopping && s->listener_gone && s->sessions == 0)
		server_free(s);
}

void
smtp_server_session_gone(struct smtp_server *s)
{
	s->sessions--;
	maybe_finish(s);
}

static void
on_listener_stopped(void *arg)
{
	struct smtp_server *s = arg;

	s->listener_gone = 1;
	maybe_finish(s);
}

int
smtp_server_start(struct smtp_server **out, uv_loop_t *loop, const struct smtp_config *cfg,
    const struct smtp_backend *be, struct bridge_auth *auth, char *why, size_t whylen)
{
	struct smtp_server *s;
	struct listener_config lc = cfg->listen;
	int r;

	*out = NULL;
	if (cfg->user == NULL || be->check_rcpt == NULL || be->deliver == NULL || auth == NULL ||
	    !printable(cfg->user, SMTP_PATH_MAX - 2) ||
	    (cfg->hostname != NULL && !printable(cfg->hostname, SMTP_DOMAIN_MAX)))
		return SOTTO_ERR_INVALID_ARG;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SOTTO_ERR_NOMEM;
	s->loop = loop;
	s->be = *be;
	s->auth = auth;
	s->hostname = strdup(cfg->hostname ? cfg->hostname : "localhost");
	s->user = strdup(cfg->user);
	s->max_size = cfg->max_size ? cfg->max_size : SMTP_DEFAULT_MAX_SIZE;
	s->max_rcpts = cfg->max_rcpts ? cfg->max_rcpts : SMTP_DEFAULT_MAX_RCPTS;
	s->max_errors = cfg->max_errors ? cfg->max_errors : SMTP_DEFAULT_MAX_ERRORS;
	if (s->hostname == NULL || s->user == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto fail;
	}
	if (lc.busy_reply == NULL)
		lc.busy_reply = "421 4.7.0 Too many connections, try again later\r\n";
	if ((r = listener_start(&s->listener, loop, &lc, &smtp_listener_ops, s, why, whylen)) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	free(s->hostname);
	free(s->user);
	free(s);
	return r;
}

uint16_t
smtp_server_port(const struct smtp_server *s)
{
	return listener_port(s->listener);
}

void
smtp_server_stop(struct smtp_server *s, void (*done)(void *), void *arg)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	s->done = done;
	s->done_arg = arg;
	listener_stop(s->listener, on_listener_stopped, s);
}
