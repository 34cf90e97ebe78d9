/* Connection plumbing of the load generator (net.c). */
#ifndef SOTTO_BENCH_NET_H
#define SOTTO_BENCH_NET_H

#include "lg.h"

/* Starts the TCP connection of c; the driver's start() runs once it is up. */
int net_connect(struct lg_client *c);
/* Closes c (idempotent); its driver state is reset once the handle is closed. */
void net_close(struct lg_client *c);
/* Queues c for the flush at the end of the current callback. */
void net_mark(struct lg_client *c);
void net_flush_all(void);

#endif
