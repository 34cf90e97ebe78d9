/*
 * The kept unidentified connection (docs/CLIENT.md "Unidentified sends"): a handle that
 * sends more than once sends every SEND_SEALED on one Noise_NK connection to its server,
 * opened at the first and kept, instead of a TCP connection and a handshake per message.
 * It is a connection of its own: its own ephemeral key, no ticket, nothing of the
 * identified connection (s->t). Sends on it are linkable to each other, so it links a
 * bounded number: it is closed after CLIENT_SEALED_IDLE_MS without a send and replaced
 * after CLIENT_SEALED_SENDS_MAX sends or CLIENT_SEALED_AGE_MS since it was opened.
 */
#include "client/client_int.h"

#include <time.h>

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
client_sealed_close(struct sotto *s, int force)
{
	if (s == NULL || s->sealed == NULL)
		return;
	if (!force && mono_ms() - s->sealed_used_ms < s->sealed_idle_ms)
		return;
	s->ops->close(s->sealed);
	s->sealed = NULL;
}

void
sotto_close_idle(struct sotto *s)
{
	client_sealed_close(s, 0);
}

/* Whether the kept connection may carry one more send now. */
static int
sealed_usable(const struct sotto *s, uint64_t now)
{
	return s->sealed_sends < s->sealed_sends_max &&
	    now - s->sealed_opened_ms < s->sealed_age_ms &&
	    now - s->sealed_used_ms < s->sealed_idle_ms;
}

/* A connection that cannot be made is SOTTO_ERR_UNREACHABLE: the item waits, it is not
 * sent identified instead. */
static int
sealed_open(struct sotto *s, int timeout_ms)
{
	if (s->ops->open_sealed(&s->sealed, s->k->id.server, timeout_ms) != 0) {
		s->sealed = NULL;
		return SOTTO_ERR_UNREACHABLE;
	}
	s->sealed_opened_ms = s->sealed_used_ms = mono_ms();
	s->sealed_sends = 0;
	return 0;
}

int
client_sealed_request(struct sotto *s, struct proto_msg *req, struct proto_msg *resp,
    int timeout_ms)
{
	int r, kept;

	if (s->ops->open_sealed == NULL)
		return SOTTO_ERR_UNSUPPORTED;
	if (s->sealed != NULL && !sealed_usable(s, mono_ms()))
		client_sealed_close(s, 1);
	for (;;) {
		kept = s->sealed != NULL;
		if (!kept && (r = sealed_open(s, timeout_ms)) != 0)
			return r;
		s->sealed_sends++;
		if ((r = s->ops->request(s->sealed, req, resp, timeout_ms)) == 0) {
			s->sealed_used_ms = mono_ms();
			return resp->status;
		}
		/* No answer: the stream is of no more use (a late answer would be read as the
		 * next one's). A kept connection the server or the network dropped since its
		 * last send is replaced and req sent once more; the server stores the same
		 * recipient and message id once, whether or not the first copy arrived. */
		client_sealed_close(s, 1);
		if (!kept || r == SOTTO_ERR_TIMEOUT)
			return r == SOTTO_ERR_TIMEOUT ? r : SOTTO_ERR_UNREACHABLE;
	}
}

/* client_sealed_ops: t is the struct sotto. A status comes back as the request's result,
 * which the callers (group_net.c) take as they take resp->status. */
static int
kept_request(void *t, struct proto_msg *req, struct proto_msg *resp, int timeout_ms)
{
	return client_sealed_request(t, req, resp, timeout_ms);
}

const struct transport_ops client_sealed_ops = {
	.request = kept_request,
};
