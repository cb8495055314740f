/* Status reporting to a callback URL: a deployment POSTs JSON events to a
 * receiver the operator runs (a provisioning system, a dashboard), so a
 * rack of machines can be watched without their consoles.
 *
 * Every event is one JSON object (Content-Type: application/json):
 *   {"event": "started"|"progress"|"finished"|"failed",
 *    "machine_id": "52:54:00:12:34:56", "seq": 1,
 *    "time": "2025-12-01T18:40:00.123Z", ...the event's own fields}
 * seq starts at 1 and grows by one per event queued; a gap means a progress
 * event was replaced by a newer one of the same disk before it was sent.
 * Events are delivered in seq order (one request at a time), each at least
 * once: a receiver that answered but whose answer was lost sees a repeat
 * with the same seq. docs/pxe.md has the fields of each event.
 *
 * Sending never blocks the caller, whatever the receiver does: events go
 * into a bounded queue that a thread of the handle's own sends, retrying
 * transport errors, 408, 429 and 5xx with full-jitter backoff for as long as
 * the handle lives. A full queue drops the new progress event (the next one
 * carries newer counters); started, finished and failed are never dropped.
 * Other answers (4xx, 3xx: redirects are not followed) are the receiver's
 * refusal: logged once, the event dropped. lb_report_close() waits a bounded
 * time for the queue to drain, then gives up and says so: a receiver that
 * is down must not keep a machine from booting.
 *
 * The bearer token is a secret: it goes into one request header and
 * nowhere else (never logged, never in an event). TLS is verified as
 * everywhere (http.h). */
#ifndef LB_REPORT_H
#define LB_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "restore.h"

struct lb_report;
struct json_object;

struct lb_report_opts {
	const char *url;          /* http:// or https:// */
	const char *token;        /* Authorization: Bearer TOKEN; NULL: none */
	const char *ca_bundle;    /* PEM for https; NULL: the built-in bundle */
	const char *machine_id;   /* NULL: lb_inventory_machine_id() */
	double progress_interval; /* seconds between progress events of a disk;
				   * 0 = 5, < 0: every one (tests) */
	unsigned queue_max;       /* events waiting at most (progress beyond is dropped); 0 = 32 */
};

/* Starts the sending thread. 0 or -errno (logged). */
int lb_report_new(const struct lb_report_opts *o, struct lb_report **ret);

/* Queue one event. fields (an object, or NULL for none) is consumed: it
 * gets event, machine_id, seq and time added. 0 or -ENOMEM; -EPIPE after
 * lb_report_close(). */
int lb_report_event(struct lb_report *r, const char *event, struct json_object *fields);

/* A restore event as a "progress" event: at most one per disk per
 * progress_interval, a queued one of the same disk replaced by the newer;
 * a disk's last ("done": true) always sent. Fits lb_restore_opts.on_event
 * (userdata: the report). */
void lb_report_restore_event(const struct lb_restore_event *e, void *report);

/* Stop accepting events, wait at most timeout_s seconds for the queued ones
 * to be delivered, then stop the sender (a request in flight is aborted).
 * Returns how many events were not delivered (0: all were; logged when
 * not). Idempotent; r may be NULL. */
int lb_report_close(struct lb_report *r, double timeout_s);

/* Events delivered, refused (4xx) and dropped (queue full) so far. */
struct lb_report_stats {
	unsigned queued, delivered, refused, dropped, retries;
};
void lb_report_stats(struct lb_report *r, struct lb_report_stats *ret);

/* lb_report_close(r, 0) when not closed yet, then release. NULL is fine. */
void lb_report_free(struct lb_report *r);

#endif
