/*
 * MQTT 3.1.1 for the load generator: each client connects with a clean session, subscribes
 * with QoS 1 to its own topic "lg/<tag>/<index>" (ready on SUBACK), and publishes QoS 1 to
 * the recipient's topic; the broker's PUBLISH is acknowledged with PUBACK. In the fan-out
 * scenario every client subscribes to one topic "lg/<tag>/all" instead, and client 0
 * publishes to it (QoS 1): the broker delivers to all, client 0 included.
 */
#include "lg.h"

#include <stdio.h>
#include <string.h>

#include "mqtt.h"
#include "net.h"

enum { PH_CONNECT, PH_SUBSCRIBE, PH_READY };

struct md {
	int phase;
	uint16_t next_pid;
};

static int
mqtt_prepare(struct lg *g)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (g->fanout)
			snprintf(g->clients[i].addr, sizeof(g->clients[i].addr), "lg/%s/all", g->tag);
		else
			snprintf(g->clients[i].addr, sizeof(g->clients[i].addr), "lg/%s/%u", g->tag, i);
	return 0;
}

static uint16_t
next_pid(struct md *m)
{
	if (++m->next_pid == 0)
		m->next_pid = 1;
	return m->next_pid;
}

static int
mqtt_start(struct lg_client *c)
{
	struct md *m = c->ds;
	char id[64];

	snprintf(id, sizeof(id), "lg%s-%u", c->g->tag, c->idx);
	mqtt_put_connect(&c->out, id, 0);
	m->phase = PH_CONNECT;
	return buf_status(&c->out);
}

static long
mqtt_input(struct lg_client *c, const uint8_t *p, size_t len)
{
	struct md *m = c->ds;
	struct mqtt_pkt pkt;
	size_t off = 0, used;
	int r;

	while (off < len) {
		if ((r = mqtt_decode(p + off, len - off, &used, &pkt)) < 0)
			return r;
		if (r == 0)
			break;
		off += used;
		switch (pkt.type) {
		case MQTT_CONNACK:
			if (m->phase != PH_CONNECT || pkt.code != 0)
				return SOTTO_ERR_AUTH;
			mqtt_put_subscribe(&c->out, next_pid(m), c->addr, 1);
			m->phase = PH_SUBSCRIBE;
			break;
		case MQTT_SUBACK:
			if (m->phase != PH_SUBSCRIBE || pkt.code == 0x80)
				return SOTTO_ERR_AUTH;
			m->phase = PH_READY;
			lg_ready(c);
			break;
		case MQTT_PUBLISH:
			if (pkt.qos > 0)
				mqtt_put_puback(&c->out, pkt.pid);
			lg_delivered(c, pkt.payload, pkt.payload_len);
			break;
		case MQTT_PUBACK:
			lg_acked(c);
			break;
		default:
			break;
		}
		if (c->state == LG_CLOSING || c->state == LG_IDLE)
			return (long)len;
	}
	return (long)off;
}

static int
mqtt_send(struct lg_client *c, struct lg_client *to, const uint8_t *payload, size_t len)
{
	mqtt_put_publish(&c->out, to->addr, 1, next_pid(c->ds), payload, len);
	return buf_status(&c->out);
}

static int
mqtt_fanout_send(struct lg_client *c, const uint8_t *payload, size_t len)
{
	return mqtt_send(c, c, payload, len);
}

const struct lg_driver lg_driver_mqtt = {
	.name = "mqtt",
	.state_size = sizeof(struct md),
	.prepare = mqtt_prepare,
	.start = mqtt_start,
	.input = mqtt_input,
	.send = mqtt_send,
	.fanout_send = mqtt_fanout_send,
};
