/*
 * Running out of file descriptors. Linux's accept takes a descriptor before it looks for
 * a connection, so with none free it fails with EMFILE (or ENFILE) whether a connection
 * waits or not, and libuv calls on_connection with that error and tries again at once:
 * the loop would spin for ever and serve nobody. libuv's own remedy keeps a spare
 * descriptor on "/", which it cannot reopen inside the sandbox. So the server keeps one of
 * its own: it frees it, accepts and closes every waiting connection with the room that
 * gives, and returns with that one descriptor still free, so that libuv's next accept
 * finds nothing and the loop goes on; the spare is taken again on the next loop turn.
 * Should the spare be gone when it is needed (a connection took the free descriptor
 * first), that newest connection is closed instead if it has not logged in yet; failing
 * that, the server stops listening for a second, which ends the spin for certain.
 */
#include "server/server.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/log.h"

#define LISTEN_PAUSE_MS 1000
#define SHED_LOG_EVERY_MS 10000

static void on_listener_closed(uv_handle_t *h);

static void
spare_take(struct server *s)
{
	if (s->spare_fd < 0)
		s->spare_fd = eventfd(0, EFD_CLOEXEC);
}

int
fd_reserve_init(struct server *s)
{
	s->spare_fd = -1;
	spare_take(s);
	uv_timer_init(s->loop, &s->reserve_timer);
	s->reserve_timer.data = s;
	return s->spare_fd >= 0 ? 0 : SOTTO_ERR_IO;
}

void
fd_reserve_close(struct server *s)
{
	uv_timer_stop(&s->reserve_timer);
	uv_close((uv_handle_t *)&s->reserve_timer, NULL);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	s->spare_fd = -1;
}

static void
on_spare(uv_timer_t *t)
{
	spare_take(t->data);
}

static void
on_relisten(uv_timer_t *t)
{
	struct server *s = t->data;

	if (!s->draining && !s->listening)
		server_relisten(s, on_listener_closed);
	spare_take(s);
}

static void
on_listener_closed(uv_handle_t *h)
{
	struct server *s = h->data;

	if (!s->draining)
		uv_timer_start(&s->reserve_timer, on_relisten, LISTEN_PAUSE_MS, 0);
}

void
fd_reserve_shed(struct server *s)
{
	uint64_t now = uv_now(s->loop);
	int fd, lfd, err;
	size_t n = 0;

	if (!s->listening || uv_fileno((uv_handle_t *)&s->listener, &lfd) != 0)
		return;
	if (s->spare_fd >= 0) {
		close(s->spare_fd);
		s->spare_fd = -1;
	} else if (s->peers != NULL && s->peers->state == PEER_HANDSHAKE) {
		/* Closing a libuv handle closes its descriptor at once. */
		peer_close(s->peers, "out of file descriptors");
	}
	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			close(fd);
			n++;
			continue;
		}
		if (errno != EINTR && errno != ECONNABORTED)
			break;
	}
	err = errno;
	s->shed_total += n;
	if (err == EMFILE || err == ENFILE) {
		log_error("out of file descriptors and no spare: not accepting for %d ms",
		    LISTEN_PAUSE_MS);
		s->listening = 0;
		uv_close((uv_handle_t *)&s->listener, on_listener_closed);
		return;
	}
	/* Not now: libuv's next accept must find the descriptor free to stop trying. */
	uv_timer_start(&s->reserve_timer, on_spare, 0, 0);
	if (s->shed_logged_ms == 0 || now - s->shed_logged_ms >= SHED_LOG_EVERY_MS) {
		log_warn("out of file descriptors (%zu connections open): %llu connections "
		    "refused so far; raise the open-file limit or lower max_conns", s->n_peers,
		    (unsigned long long)s->shed_total);
		s->shed_logged_ms = now;
	}
}
