/*
 * A minimal MQTT 3.1.1 codec for the load generator: the client's side of CONNECT,
 * SUBSCRIBE, PUBLISH (QoS 0 and 1) and PUBACK; decoding of what a broker sends back
 * (CONNACK, SUBACK, PUBLISH, PUBACK, PINGRESP). Broker bytes are read through struct cur;
 * the remaining length is checked against MQTT_PKT_MAX before anything else.
 */
#ifndef SOTTO_BENCH_MQTT_H
#define SOTTO_BENCH_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"

#define MQTT_PKT_MAX (256u * 1024)      /* largest remaining length accepted */
#define MQTT_TOPIC_MAX 1024

enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_SUBSCRIBE = 8,
	MQTT_SUBACK = 9,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14
};

/* One decoded packet; topic and payload borrow from the input. */
struct mqtt_pkt {
	uint8_t type;                   /* enum mqtt_type */
	uint8_t flags;                  /* low nibble of the fixed header */
	int qos;                        /* PUBLISH */
	uint16_t pid;                   /* PUBLISH (QoS > 0), PUBACK, SUBACK */
	uint8_t code;                   /* CONNACK return code; SUBACK first granted QoS */
	const uint8_t *topic;
	size_t topic_len;
	const uint8_t *payload;
	size_t payload_len;
};

/* Appenders; the buf's sticky error reports overflow. */
void mqtt_put_connect(struct buf *b, const char *client_id, uint16_t keepalive);
void mqtt_put_subscribe(struct buf *b, uint16_t pid, const char *topic, int qos);
void mqtt_put_publish(struct buf *b, const char *topic, int qos, uint16_t pid,
    const uint8_t *payload, size_t len);
void mqtt_put_puback(struct buf *b, uint16_t pid);

/*
 * Decodes the packet at the start of p. Returns 1 with *used and *pkt set, 0 when p holds
 * only part of a packet, or SOTTO_ERR_TOO_LARGE / SOTTO_ERR_MALFORMED / SOTTO_ERR_PROTOCOL.
 */
int mqtt_decode(const uint8_t *p, size_t len, size_t *used, struct mqtt_pkt *pkt)
    SOTTO_MUST_CHECK;

#endif
