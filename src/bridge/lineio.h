/*
 * Incremental, capped line reader for the bridge protocols (SMTP, IMAP). Feed it whatever
 * chunks the socket delivers through a struct cur; it hands back complete lines, one event
 * per call, and never buffers more than the line cap.
 *
 * Line endings: a line ends at LF. A CR right before the LF is part of the ending and is
 * stripped; `crlf` in the event says whether it was there. Bare LF is tolerated (curl and
 * some MUAs send it) and reported, so an engine that must be strict can refuse it. A CR
 * anywhere else is content.
 *
 * Caps: `line_max` bounds the content of a line (ending excluded). Bytes beyond it are not
 * buffered: the reader discards up to the next LF and then reports LINEIO_TOO_LONG once,
 * in order, so the engine answers it like any other line and the connection stays usable.
 *
 * Literals (IMAP {N}, or any counted payload): after a line, lineio_expect_literal(N)
 * checks N against `literal_max` and switches to literal mode: the next events are
 * LINEIO_LITERAL chunks (borrowed from the input, never copied) that add up to exactly N
 * bytes, then one LINEIO_LITERAL_END, and the reader is back in line mode for the rest of
 * the line.
 */
#ifndef SOTTO_BRIDGE_LINEIO_H
#define SOTTO_BRIDGE_LINEIO_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"

enum lineio_ev {
	LINEIO_MORE = 0,        /* input exhausted: feed more */
	LINEIO_LINE,            /* a complete line in p/len, ending stripped */
	LINEIO_TOO_LONG,        /* a line over the cap was read and thrown away */
	LINEIO_LITERAL,         /* the next chunk of literal bytes in p/len */
	LINEIO_LITERAL_END,     /* all N literal bytes delivered */
};

struct lineio_item {
	enum lineio_ev ev;
	const uint8_t *p;       /* valid until the next lineio call or input change */
	size_t len;
	int crlf;               /* LINEIO_LINE: 1 if it ended in CRLF, 0 for bare LF */
};

struct lineio {
	struct buf line;        /* partial line, at most line_max + 1 bytes (+1: a held CR) */
	size_t line_max;        /* active cap on line content */
	size_t line_hard_max;   /* cap given at init; line_max never exceeds it */
	uint64_t literal_max;
	uint64_t literal_left;
	int mode;
	int emitted;            /* the buffered line was handed out: reset on next call */
};

/* line_max: longest line content accepted; literal_max: largest literal accepted. */
void lineio_init(struct lineio *l, size_t line_max, uint64_t literal_max);
/* Wipes and frees the buffer (lines may have held credentials). */
void lineio_free(struct lineio *l);
/* Changes the active line cap (clamped to the cap given at init). */
void lineio_set_line_max(struct lineio *l, size_t line_max);
/* Next event, consuming bytes from `in`. Returns it.ev. */
enum lineio_ev lineio_next(struct lineio *l, struct cur *in, struct lineio_item *it);
/* After a LINEIO_LINE: the next n bytes are a literal. SOTTO_ERR_TOO_LARGE if n is over
 * literal_max (the reader stays in line mode), SOTTO_ERR_STATE if called mid-line. */
int lineio_expect_literal(struct lineio *l, uint64_t n) SOTTO_MUST_CHECK;
/* Wipes the last line handed out, if it sat in the internal buffer (AUTH lines). */
void lineio_wipe_line(struct lineio *l);
/* 1 if a partial line or literal is pending (the peer stopped mid-line). */
int lineio_pending(const struct lineio *l);

#endif
