/* Status callbacks (report.h): a queue, and one thread that empties it. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "backoff.h"
#include "cli.h"
#include "http.h"
#include "inventory.h"
#include "report.h"
#include "util.h"

/* Retries come quickly: the whole flush at the end lasts seconds, and a
 * receiver that was restarted should see the events soon after. */
#define RETRY_BASE_MS 200u
#define RETRY_CAP_MS 3000u
#define MAX_DISKS 64

struct ev {
	struct ev *next;
	char *body;
	size_t len;
	uint64_t seq;
	bool droppable;    /* a progress event a newer one may replace */
	char disk[64];     /* of a progress event */
};

struct lb_report {
	pthread_mutex_t lock;
	pthread_cond_t wake;  /* the sender: work, stop or cancel */
	pthread_cond_t idle;  /* the closer: the queue ran empty */
	pthread_t thread;
	bool thread_started, closed, stopping;
	int cancel;           /* lb_http_set_cancel: read by the transfer, atomically */
	bool in_flight;       /* the head is being sent: do not replace it */
	struct ev *head, *tail;
	unsigned n, max;
	uint64_t seq;
	struct lb_report_stats st;
	bool refusal_logged, failure_logged;

	struct lb_http *http;
	struct lb_http_response *resp;
	char *url, *auth, *machine_id;
	uint64_t rng;
	double interval;
	struct {
		char name[64];
		struct timespec last;
		bool sent;
	} disks[MAX_DISKS];
	size_t n_disks;
};

static void ev_free(struct ev *e)
{
	if (e) {
		free(e->body);
		free(e);
	}
}

static void now_rfc3339(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static bool cancelled(const struct lb_report *r)
{
	return __atomic_load_n(&r->cancel, __ATOMIC_RELAXED) != 0;
}

/* One POST. 1 delivered, 0 refused for good, -errno to retry. */
static int post(struct lb_report *r, const struct ev *e)
{
	const char *hdrs[2] = { r->auth, NULL };
	struct lb_http_request req = {
		.method = "POST", .url = r->url, .headers = r->auth ? hdrs : NULL, .body = e->body,
		.body_len = e->len, .content_type = "application/json", .what = "callback",
		.quiet = true,
	};
	long status;
	int rc;

	rc = lb_http_perform(r->http, &req, r->resp);
	if (rc == -ECANCELED)
		return rc;
	if (rc < 0 && !lb_http_transient(rc)) {
		/* a TLS or URL problem does not cure itself: every event
		 * would fail the same way */
		if (!r->refusal_logged)
			lb_log("callback %.*s: %s; event %llu dropped (said once)", (int)strcspn(r->url, "?"), r->url,
			       strerror(-rc), (unsigned long long)e->seq);
		r->refusal_logged = true;
		return 0;
	}
	status = rc < 0 ? 0 : r->resp->status;
	if (status >= 200 && status <= 299) {
		if (r->failure_logged)
			lb_log("callback %.*s: delivering again", (int)strcspn(r->url, "?"), r->url);
		r->failure_logged = false;
		return 1;
	}
	if (rc < 0 || status == 408 || status == 429 || status >= 500) {
		/* once per outage: a receiver down for the whole deployment
		 * must not flood the console with retries */
		if (!r->failure_logged) {
			if (rc < 0)
				lb_log("callback %.*s: %s; retrying in the background", (int)strcspn(r->url, "?"), r->url,
				       strerror(-rc));
			else
				lb_log("callback %.*s: HTTP %ld; retrying in the background", (int)strcspn(r->url, "?"),
				       r->url, status);
		}
		r->failure_logged = true;
		return rc < 0 ? rc : -EAGAIN;
	}
	if (!r->refusal_logged)
		lb_log("callback %.*s: HTTP %ld for event %llu: the receiver refused it; dropped (said once)",
		       (int)strcspn(r->url, "?"), r->url, status, (unsigned long long)e->seq);
	r->refusal_logged = true;
	return 0;
}

/* Wait on cond (with r->lock held) until the monotonic time until_ms;
 * false when that time has come. Spurious wake-ups return true: callers
 * loop on their condition. */
static bool timed_wait(struct lb_report *r, pthread_cond_t *cond, uint64_t until_ms)
{
	uint64_t now = lb_mono_ms();
	struct timespec ts;

	if (now >= until_ms)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)((until_ms - now) / 1000);
	ts.tv_nsec += (long)((until_ms - now) % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cond, &r->lock, &ts);
	return true;
}

/* The backoff before a retry: until then, or until cancelled. */
static void wait_until(struct lb_report *r, uint64_t until_ms)
{
	while (!cancelled(r) && timed_wait(r, &r->wake, until_ms))
		;
}

static void *sender(void *ud)
{
	struct lb_report *r = ud;
	unsigned attempt = 0;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct ev *e;
		int rc;

		while (!r->head && !r->stopping && !cancelled(r))
			pthread_cond_wait(&r->wake, &r->lock);
		if (!r->head || cancelled(r))
			break;
		e = r->head;
		r->in_flight = true;
		pthread_mutex_unlock(&r->lock);
		rc = post(r, e);
		pthread_mutex_lock(&r->lock);
		r->in_flight = false;
		if (rc >= 0) {
			if (rc == 1)
				r->st.delivered++;
			else
				r->st.refused++;
			r->head = e->next;
			if (!r->head)
				r->tail = NULL;
			r->n--;
			ev_free(e);
			attempt = 0;
			if (!r->head)
				pthread_cond_broadcast(&r->idle);
			continue;
		}
		if (rc == -ECANCELED)
			break;
		r->st.retries++;
		wait_until(r, lb_mono_ms() + lb_backoff_ms(attempt, RETRY_BASE_MS, RETRY_CAP_MS, &r->rng));
		if (attempt < 30)
			attempt++;
	}
	pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int lb_report_new(const struct lb_report_opts *o, struct lb_report **ret)
{
	/* A receiver that takes the connection and never answers is cut
	 * after the stall timeout and retried; close() aborts it sooner. */
	struct lb_http_config hc = { .ca_bundle = o->ca_bundle, .connect_timeout_s = 5, .stall_timeout_s = 10,
				     .timeout_s = 20 };
	char id[128];
	struct lb_report *r;
	int rc;

	if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0) {
		lb_log("callback %.*s: not an http:// or https:// URL", (int)strcspn(o->url, "?"), o->url);
		return -EINVAL;
	}
	/* the token goes into a header line: no spaces, controls or line breaks */
	for (const char *p = o->token; p && *p; p++)
		if (*p <= ' ' || *p > '~') {
			lb_log("callback_token: only printable ASCII without spaces is allowed");
			return -EINVAL;
		}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	{
		pthread_condattr_t ca;

		/* timed waits on the monotonic clock: the wall clock may jump
		 * (NTP, the server's Date) while the sender waits */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&r->wake, &ca);
		pthread_cond_init(&r->idle, &ca);
		pthread_condattr_destroy(&ca);
	}
	r->max = o->queue_max ? o->queue_max : 32;
	r->interval = o->progress_interval != 0 ? o->progress_interval : 5;
	r->rng = lb_backoff_seed();
	if (!o->machine_id && lb_inventory_machine_id(id, sizeof(id)) < 0)
		snprintf(id, sizeof(id), "unknown");
	r->url = strdup(o->url);
	r->machine_id = strdup(o->machine_id ? o->machine_id : id);
	r->resp = calloc(1, sizeof(*r->resp));
	if (o->token && *o->token)
		r->auth = lb_strdupf("Authorization: Bearer %s", o->token);
	if (!r->url || !r->machine_id || !r->resp || (o->token && *o->token && !r->auth)) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = lb_http_new(&hc, &r->http)) < 0)
		goto fail;
	/* close() stops a request in flight through this flag */
	lb_http_set_cancel(r->http, &r->cancel);
	rc = -pthread_create(&r->thread, NULL, sender, r);
	if (rc < 0) {
		lb_log("callback: cannot start the sending thread: %s", strerror(-rc));
		goto fail;
	}
	r->thread_started = true;
	*ret = r;
	return 0;
fail:
	lb_report_free(r);
	return rc;
}

/* Under the lock: append e, making room as the rules say. */
static int enqueue(struct lb_report *r, struct ev *e)
{
	r->st.queued++;
	if (e->droppable) {
		/* a queued progress event of the same disk is stale now */
		struct ev **pp = &r->head, *prev = NULL;

		if (r->in_flight && *pp) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		for (; *pp; prev = *pp, pp = &(*pp)->next) {
			struct ev *old = *pp;

			if (old->droppable && strcmp(old->disk, e->disk) == 0) {
				*pp = old->next;
				if (r->tail == old)
					r->tail = prev;
				r->n--;
				ev_free(old);
				break;
			}
		}
		if (r->n >= r->max) {
			r->st.dropped++;
			ev_free(e);
			return 0;
		}
	}
	if (r->tail)
		r->tail->next = e;
	else
		r->head = e;
	r->tail = e;
	r->n++;
	pthread_cond_signal(&r->wake);
	return 0;
}

static int queue_event(struct lb_report *r, const char *event, struct json_object *fields, const char *disk)
{
	struct json_object *o = fields ? fields : json_object_new_object();
	char when[96];
	const char *s;
	struct ev *e = NULL;
	int rc = -ENOMEM;

	if (!o)
		return -ENOMEM;
	now_rfc3339(when, sizeof(when));
	pthread_mutex_lock(&r->lock);
	if (r->closed) {
		rc = -EPIPE;
		goto fail;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		goto fail;
	e->seq = ++r->seq;
	e->droppable = disk != NULL;
	if (disk)
		snprintf(e->disk, sizeof(e->disk), "%s", disk);
	/* the envelope first, so a receiver reading the stream sees it first */
	{
		struct json_object *env = json_object_new_object();

		if (!env)
			goto fail;
		json_object_object_add(env, "event", json_object_new_string(event));
		json_object_object_add(env, "machine_id", json_object_new_string(r->machine_id));
		json_object_object_add(env, "seq", json_object_new_uint64(e->seq));
		json_object_object_add(env, "time", json_object_new_string(when));
		json_object_object_foreach(o, k, v) {
			if (strcmp(k, "event") && strcmp(k, "machine_id") && strcmp(k, "seq") && strcmp(k, "time"))
				json_object_object_add(env, k, json_object_get(v));
		}
		s = json_object_to_json_string_ext(env, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		e->body = s ? strdup(s) : NULL;
		json_object_put(env);
	}
	if (!e->body)
		goto fail;
	e->len = strlen(e->body);
	rc = enqueue(r, e);
	e = NULL;
fail:
	pthread_mutex_unlock(&r->lock);
	ev_free(e);
	json_object_put(o);
	return rc;
}

int lb_report_event(struct lb_report *r, const char *event, struct json_object *fields)
{
	return queue_event(r, event, fields, NULL);
}

void lb_report_restore_event(const struct lb_restore_event *e, void *report)
{
	struct lb_report *r = report;
	struct json_object *o;
	bool done = e->type == LB_RESTORE_DISK_DONE;
	size_t i;

	if (!r || e->type == LB_RESTORE_DISK_START)
		return;
	/* the pacing table belongs to the restore's thread: no lock */
	for (i = 0; i < r->n_disks; i++)
		if (strcmp(r->disks[i].name, e->disk) == 0)
			break;
	if (i == r->n_disks && i < MAX_DISKS) {
		snprintf(r->disks[i].name, sizeof(r->disks[i].name), "%s", e->disk);
		r->n_disks++;
	}
	if (i < MAX_DISKS) {
		if (!done && r->interval > 0 && r->disks[i].sent && lb_cli_secs_since(&r->disks[i].last) < r->interval)
			return;
		clock_gettime(CLOCK_MONOTONIC, &r->disks[i].last);
		r->disks[i].sent = true;
	}
	o = lb_restore_event_json(e);
	if (!o)
		return;
	json_object_object_del(o, "event");
	json_object_object_add(o, "done", json_object_new_boolean(done));
	/* a disk's last event is never replaced or dropped */
	queue_event(r, "progress", o, done ? NULL : e->disk);
}

int lb_report_close(struct lb_report *r, double timeout_s)
{
	uint64_t deadline;
	unsigned left;

	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	if (r->closed && !r->thread_started) {
		left = r->n;
		pthread_mutex_unlock(&r->lock);
		return (int)left;
	}
	r->closed = true;
	r->stopping = true;
	pthread_cond_broadcast(&r->wake);
	deadline = lb_mono_ms() + (uint64_t)(timeout_s > 0 ? timeout_s * 1000 : 0);
	while (r->head && r->thread_started && timed_wait(r, &r->idle, deadline))
		;
	left = r->n;
	/* the sender stops now, also in the middle of a request or a wait */
	__atomic_store_n(&r->cancel, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
	if (r->thread_started) {
		pthread_join(r->thread, NULL);
		r->thread_started = false;
	}
	if (left)
		lb_log("callback %.*s: gave up after %.1f s with %u event(s) not delivered (delivered %u)",
		       (int)strcspn(r->url, "?"), r->url, timeout_s, left, r->st.delivered);
	return (int)left;
}

void lb_report_stats(struct lb_report *r, struct lb_report_stats *ret)
{
	pthread_mutex_lock(&r->lock);
	*ret = r->st;
	pthread_mutex_unlock(&r->lock);
}

void lb_report_free(struct lb_report *r)
{
	if (!r)
		return;
	if (r->thread_started)
		lb_report_close(r, 0);
	while (r->head) {
		struct ev *e = r->head;

		r->head = e->next;
		ev_free(e);
	}
	lb_http_free(r->http);
	free(r->resp);
	if (r->auth) {
		explicit_bzero(r->auth, strlen(r->auth));
		free(r->auth);
	}
	free(r->url);
	free(r->machine_id);
	pthread_cond_destroy(&r->wake);
	pthread_cond_destroy(&r->idle);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
