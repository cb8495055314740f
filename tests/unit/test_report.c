/* report.c against a receiver this test runs on 127.0.0.1: order and
 * sequence numbers, retries through 500s and a receiver that comes up late,
 * refusals, coalescing and the queue's bound, and a receiver that never
 * answers, which must cost the caller nothing but the bounded flush. Also
 * the log ring in util.c that failed events carry. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "report.h"
#include "util.h"
#include "tap.h"

enum mode { OK, FAIL_FIRST, HANG, HOLD_FIRST, REFUSE };

#define MAX_SEEN 512

static struct rx {
	int lfd, port;
	enum mode mode;
	int fail_first;          /* FAIL_FIRST: answer 500 this many times */
	double hold_s;           /* HOLD_FIRST: the first answer waits this long */
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t lock;
	int requests;
	int n;                   /* bodies answered 2xx */
	char *bodies[MAX_SEEN];
	bool auth_ok, ctype_ok;
	int hung[64], n_hung;
} rx;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t len = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
		perror("receiver");
		exit(99);
	}
	getsockname(fd, (struct sockaddr *)&a, &len);
	rx.port = ntohs(a.sin_port);
	return fd;
}

/* One request: headers, then Content-Length bytes of body. NULL on EOF. */
static char *read_request(int fd, bool *auth, bool *ctype)
{
	char buf[65536];
	size_t len = 0;
	char *hend = NULL, *cl, *body;
	long want;

	while (!(hend = memmem(buf, len, "\r\n\r\n", 4))) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return NULL;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*hend = '\0';
	*auth = strstr(buf, "\r\nAuthorization: Bearer s3cr3t-token") != NULL;
	*ctype = strstr(buf, "\r\nContent-Type: application/json") != NULL;
	cl = strcasestr(buf, "\r\nContent-Length:");
	want = cl ? atol(cl + 17) : 0;
	body = calloc(1, (size_t)want + 1);
	memcpy(body, hend + 4, len - (size_t)(hend + 4 - buf));
	for (size_t have = len - (size_t)(hend + 4 - buf); (long)have < want;) {
		ssize_t n = read(fd, body + have, (size_t)want - have);

		if (n <= 0) {
			free(body);
			return NULL;
		}
		have += (size_t)n;
	}
	return body;
}

static void answer(int fd, int status)
{
	char b[128];
	int n = snprintf(b, sizeof(b), "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);

	if (write(fd, b, (size_t)n) != n)
		perror("answer");
}

static void *receiver(void *ud)
{
	(void)ud;
	while (!atomic_load(&rx.stop)) {
		int fd = accept4(rx.lfd, NULL, NULL, SOCK_CLOEXEC);
		bool auth = false, ctype = false;
		char *body;
		int req;

		if (fd < 0)
			break;
		if (atomic_load(&rx.stop)) {
			close(fd);
			break;
		}
		body = read_request(fd, &auth, &ctype);
		pthread_mutex_lock(&rx.lock);
		req = ++rx.requests;
		pthread_mutex_unlock(&rx.lock);
		if (!body) {
			close(fd);
			continue;
		}
		if (rx.mode == HANG) {
			/* keep the connection, never answer */
			free(body);
			if (rx.n_hung < 64)
				rx.hung[rx.n_hung++] = fd;
			continue;
		}
		if (rx.mode == HOLD_FIRST && req == 1)
			usleep((useconds_t)(rx.hold_s * 1e6));
		if ((rx.mode == FAIL_FIRST && req <= rx.fail_first) || rx.mode == REFUSE) {
			answer(fd, rx.mode == REFUSE ? 404 : 500);
			free(body);
		} else {
			answer(fd, 200);
			pthread_mutex_lock(&rx.lock);
			if (rx.n < MAX_SEEN)
				rx.bodies[rx.n++] = body;
			else
				free(body);
			rx.auth_ok = auth;
			rx.ctype_ok = ctype;
			pthread_mutex_unlock(&rx.lock);
		}
		close(fd);
	}
	return NULL;
}

static void rx_start(enum mode m, int port)
{
	memset(&rx, 0, sizeof(rx));
	pthread_mutex_init(&rx.lock, NULL);
	rx.mode = m;
	rx.lfd = listen_on(port);
	pthread_create(&rx.thread, NULL, receiver, NULL);
}

static void rx_stop(void)
{
	atomic_store(&rx.stop, true);
	shutdown(rx.lfd, SHUT_RDWR);
	close(rx.lfd);
	pthread_join(rx.thread, NULL);
	for (int i = 0; i < rx.n_hung; i++)
		close(rx.hung[i]);
	for (int i = 0; i < rx.n; i++)
		free(rx.bodies[i]);
	pthread_mutex_destroy(&rx.lock);
}

/* A port on which nothing listens (bound, then closed). */
static int free_port(void)
{
	int fd = listen_on(0), port = rx.port;

	close(fd);
	return port;
}

static struct lb_report *open_report(int port, double interval, unsigned qmax)
{
	char url[64];
	struct lb_report_opts o = { .url = url, .token = "s3cr3t-token", .machine_id = "52:54:00:00:00:01",
				    .progress_interval = interval, .queue_max = qmax };
	struct lb_report *r = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/events?key=x", port);
	if (lb_report_new(&o, &r) < 0)
		return NULL;
	return r;
}

static void progress(struct lb_report *r, const char *disk, uint64_t done, bool last)
{
	struct lb_restore_event e = { .type = last ? LB_RESTORE_DISK_DONE : LB_RESTORE_PROGRESS, .disk = disk,
				      .target = "/dev/vdb", .chunks = 100, .chunks_done = done, .fetched = done,
				      .disk_bytes = 100 << 20, .disk_bytes_done = done << 20, .rate = 1e6 };

	lb_report_restore_event(&e, r);
}

static const char *field(const char *body, const char *k, struct json_object **keep)
{
	struct json_object *o = json_tokener_parse(body), *v;

	*keep = o;
	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

/* The received events in order: seq strictly increasing, names as given. */
static bool check_sequence(const char *const *names, int n)
{
	long long last = 0;
	bool good = rx.n == n;

	for (int i = 0; i < rx.n && i < n; i++) {
		struct json_object *o;
		const char *ev = field(rx.bodies[i], "event", &o), *seq;
		struct json_object *o2;

		seq = field(rx.bodies[i], "seq", &o2);
		if (!ev || strcmp(ev, names[i]) || !seq || atoll(seq) <= last) {
			printf("#   event %d: %s\n", i, rx.bodies[i]);
			good = false;
		}
		last = seq ? atoll(seq) : last;
		json_object_put(o);
		json_object_put(o2);
	}
	if (rx.n != n)
		printf("#   %d events received, want %d\n", rx.n, n);
	return good;
}

TEST(events_arrive_in_order_with_sequence_numbers)
{
	static const char *const want[] = { "started", "progress", "progress", "progress", "finished" };
	struct lb_report *r;
	struct json_object *o;

	rx_start(OK, 0);
	r = open_report(rx.port, 0.001, 0);
	CHECK(r != NULL);
	lb_report_event(r, "started", NULL);
	progress(r, "system", 10, false);
	usleep(5000);
	progress(r, "data1", 20, false);
	progress(r, "system", 100, true);
	o = json_object_new_object();
	json_object_object_add(o, "point", json_object_new_string("web07/x"));
	lb_report_event(r, "finished", o);
	CHECK_INT(lb_report_close(r, 5), 0);
	CHECK_INT(lb_report_event(r, "late", NULL), -EPIPE);
	lb_report_free(r);
	CHECK(check_sequence(want, 5));
	CHECK(rx.auth_ok);
	CHECK(rx.ctype_ok);
	if (rx.n == 5) {
		struct json_object *k;

		CHECK_STR(field(rx.bodies[0], "seq", &k), "1");
		json_object_put(k);
		CHECK_STR(field(rx.bodies[0], "machine_id", &k), "52:54:00:00:00:01");
		json_object_put(k);
		CHECK(field(rx.bodies[0], "time", &k) != NULL);
		json_object_put(k);
		CHECK_STR(field(rx.bodies[3], "done", &k), "true");
		json_object_put(k);
		CHECK_STR(field(rx.bodies[4], "point", &k), "web07/x");
		json_object_put(k);
		/* the token is a header, never part of an event */
		for (int i = 0; i < rx.n; i++)
			CHECK(strstr(rx.bodies[i], "s3cr3t") == NULL);
	}
	rx_stop();
}

TEST(a_receiver_answering_500_gets_retries_then_the_events)
{
	static const char *const want[] = { "started", "finished" };
	struct lb_report_stats st;
	struct lb_report *r;

	rx_start(FAIL_FIRST, 0);
	rx.fail_first = 4;
	r = open_report(rx.port, 0, 0);
	lb_report_event(r, "started", NULL);
	lb_report_event(r, "finished", NULL);
	CHECK_INT(lb_report_close(r, 20), 0);
	lb_report_stats(r, &st);
	CHECK_INT(st.retries, 4);
	CHECK_INT(st.delivered, 2);
	lb_report_free(r);
	CHECK(check_sequence(want, 2));
	CHECK_INT(rx.requests, 6);
	rx_stop();
}

TEST(a_receiver_that_comes_up_late_gets_every_event)
{
	static const char *const want[] = { "started", "progress", "finished" };
	struct lb_report_stats st;
	struct lb_report *r;
	int port = free_port();

	r = open_report(port, 0, 0);
	lb_report_event(r, "started", NULL);
	progress(r, "system", 1, false);
	lb_report_event(r, "finished", NULL);
	sleep(1); /* connection refused meanwhile: retried */
	rx_start(OK, port);
	CHECK_INT(lb_report_close(r, 20), 0);
	lb_report_stats(r, &st);
	CHECK(st.retries >= 1);
	lb_report_free(r);
	CHECK(check_sequence(want, 3));
	rx_stop();
}

TEST(refusals_are_not_retried)
{
	struct lb_report_stats st;
	struct lb_report *r;
	double t0;

	rx_start(REFUSE, 0);
	r = open_report(rx.port, 0, 0);
	for (int i = 0; i < 3; i++)
		lb_report_event(r, "started", NULL);
	t0 = now_s();
	CHECK_INT(lb_report_close(r, 10), 0);
	CHECK(now_s() - t0 < 3);
	lb_report_stats(r, &st);
	CHECK_INT(st.refused, 3);
	CHECK_INT(st.retries, 0);
	CHECK_INT(rx.requests, 3);
	lb_report_free(r);
	rx_stop();
}

TEST(progress_is_coalesced_while_the_receiver_is_slow)
{
	static const char *const want[] = { "started", "progress", "progress", "progress", "finished" };
	struct lb_report *r;

	rx_start(HOLD_FIRST, 0);
	rx.hold_s = 1.0;
	r = open_report(rx.port, -1, 0);
	lb_report_event(r, "started", NULL); /* in flight for a second */
	usleep(100000);
	for (uint64_t i = 1; i <= 200; i++) {
		progress(r, "system", i, false);
		progress(r, "data1", i, false);
	}
	progress(r, "system", 100, true); /* a disk's last is never replaced */
	lb_report_event(r, "finished", NULL);
	CHECK_INT(lb_report_close(r, 10), 0);
	lb_report_free(r);
	/* started, the newest progress of data1, system's last, finished:
	 * system's newest non-final progress was replaced by nothing (it
	 * stays, then its final follows) */
	if (rx.n == 5) {
		struct json_object *k;

		CHECK_STR(field(rx.bodies[1], "chunks_done", &k), "200");
		json_object_put(k);
		CHECK_STR(field(rx.bodies[2], "chunks_done", &k), "200");
		json_object_put(k);
		CHECK_STR(field(rx.bodies[3], "done", &k), "true");
		json_object_put(k);
	}
	CHECK(check_sequence(want, 5));
	rx_stop();
}

TEST(a_full_queue_drops_progress_but_never_the_rest)
{
	struct lb_report_stats st;
	struct lb_report *r;
	char disk[16];
	int finished = 0;

	rx_start(HOLD_FIRST, 0);
	rx.hold_s = 0.5;
	r = open_report(rx.port, -1, 4);
	lb_report_event(r, "started", NULL);
	usleep(100000);
	for (int i = 0; i < 10; i++) {
		snprintf(disk, sizeof(disk), "d%d", i);
		progress(r, disk, 1, false);
	}
	for (int i = 0; i < 6; i++)
		lb_report_event(r, "finished", NULL);
	CHECK_INT(lb_report_close(r, 10), 0);
	lb_report_stats(r, &st);
	CHECK_INT(st.dropped, 7); /* started + 3 progress fill the 4 places */
	lb_report_free(r);
	for (int i = 0; i < rx.n; i++)
		finished += strstr(rx.bodies[i], "\"event\":\"finished\"") != NULL;
	CHECK_INT(finished, 6);
	CHECK_INT(rx.n, 10);
	rx_stop();
}

TEST(a_receiver_that_never_answers_costs_only_the_flush_time)
{
	struct lb_report_stats st;
	struct lb_report *r;
	double t0, queued, closing, slowest = 0;
	int left;

	rx_start(HANG, 0);
	r = open_report(rx.port, -1, 0);
	t0 = now_s();
	lb_report_event(r, "started", NULL);
	usleep(200000); /* started is in flight now, and hangs */
	for (uint64_t i = 0; i < 1000; i++) {
		double t = now_s();

		progress(r, "system", i, false);
		if (now_s() - t > slowest)
			slowest = now_s() - t;
	}
	progress(r, "system", 1000, true);
	lb_report_event(r, "finished", NULL);
	queued = now_s() - t0 - 0.2;
	t0 = now_s();
	left = lb_report_close(r, 2.0);
	closing = now_s() - t0;
	lb_report_stats(r, &st);
	printf("# 1002 events queued in %.3f s (slowest %.4f s) while a request hung; close gave up after %.2f s "
	       "with %d left\n", queued, slowest, closing, left);
	CHECK(slowest < 0.1);       /* no call waits for the receiver ... */
	CHECK(queued < 2);          /* (generous: ASan and a loaded machine) */
	CHECK(closing >= 1.9);      /* the flush did wait for the receiver ... */
	CHECK(closing < 3.5);       /* ... but no longer than it was told */
	CHECK_INT(left, 4);         /* started (in flight), system's newest progress and last, finished */
	CHECK_INT(st.delivered, 0);
	lb_report_free(r);
	rx_stop();
}

TEST(bad_urls_and_tokens_are_refused)
{
	struct lb_report_opts o = { .url = "ftp://x/" };
	struct lb_report *r = NULL;

	CHECK_INT(lb_report_new(&o, &r), -EINVAL);
	o.url = "http://127.0.0.1:1/";
	o.token = "two words";
	CHECK_INT(lb_report_new(&o, &r), -EINVAL);
	o.token = "line\r\nX-Injected: 1";
	CHECK_INT(lb_report_new(&o, &r), -EINVAL);
	CHECK(r == NULL);
	lb_report_free(NULL);
	CHECK_INT(lb_report_close(NULL, 1), 0);
}

TEST(the_log_ring_keeps_the_last_lines_in_order)
{
	struct lb_strv t = { 0 };
	char longline[LB_LOG_LINE_MAX * 2];

	for (int i = 0; i < LB_LOG_TAIL_LINES + 10; i++)
		lb_log("ring line %d", i);
	memset(longline, 'x', sizeof(longline) - 1); /* (printed whole on stderr) */
	longline[sizeof(longline) - 1] = '\0';
	lb_log("%s", longline);
	CHECK_INT(lb_log_tail(&t), 0);
	CHECK_INT(t.n, LB_LOG_TAIL_LINES);
	if (t.n == LB_LOG_TAIL_LINES) {
		char want[32];

		snprintf(want, sizeof(want), "ring line %d", 11);
		CHECK_STR(t.v[0], want);
		CHECK_INT(strlen(t.v[t.n - 1]), LB_LOG_LINE_MAX - 1);
	}
	lb_strv_clear(&t);
}

int main(void)
{
	RUN(events_arrive_in_order_with_sequence_numbers);
	RUN(a_receiver_answering_500_gets_retries_then_the_events);
	RUN(a_receiver_that_comes_up_late_gets_every_event);
	RUN(refusals_are_not_retried);
	RUN(progress_is_coalesced_while_the_receiver_is_slow);
	RUN(a_full_queue_drops_progress_but_never_the_rest);
	RUN(a_receiver_that_never_answers_costs_only_the_flush_time);
	RUN(bad_urls_and_tokens_are_refused);
	RUN(the_log_ring_keeps_the_last_lines_in_order);
	return tap_done();
}
