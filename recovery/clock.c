/* The system clock from the network (clock.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "http.h"
#include "s3.h"
#include "util.h"

#define NTP_PACKET 48
#define NTP_UNIX_DELTA 2208988800u /* 1900-01-01 to 1970-01-01, seconds */
#define NTP_TRIES 3

const char *lb_clock_source_name(enum lb_clock_source s)
{
	switch (s) {
	case LB_CLOCK_NTP:
		return "ntp";
	case LB_CLOCK_HTTPS_DATE:
		return "https-date";
	case LB_CLOCK_HTTP_DATE:
		return "http-date";
	default:
		return "none";
	}
}

static double ts_sec(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static struct timespec sec_ts(double s)
{
	struct timespec t;

	t.tv_sec = (time_t)s;
	if ((double)t.tv_sec > s)
		t.tv_sec--;
	t.tv_nsec = (long)((s - (double)t.tv_sec) * 1e9);
	if (t.tv_nsec >= 1000000000L)
		t.tv_sec++, t.tv_nsec -= 1000000000L;
	return t;
}

static void fmt_utc(time_t t, char *out, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, size, "@%lld", (long long)t);
}

/* "host", "host:port", "[v6]:port", or a bare IPv6 address. */
static int split_host_port(const char *s, char *host, size_t hsize, char *port, size_t psize)
{
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hl;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close[1] ? close + 1 : NULL;
	} else if (colon && strchr(s, ':') != colon) {
		hl = strlen(s); /* IPv6 without a port */
		colon = NULL;
	} else {
		hl = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (hl == 0 || hl >= hsize || (colon && (!colon[1] || strlen(colon + 1) >= psize)))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, psize, "%s", colon ? colon + 1 : "123");
	return 0;
}

static double ntp_time(const unsigned char *p)
{
	uint32_t sec = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	uint32_t frac = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	/* RFC 4330 section 3: with the top bit clear the time is past 2036
	 * (era 1), so the date stays right until 2104 */
	double unix_s = (double)sec - NTP_UNIX_DELTA + ((sec & 0x80000000u) ? 0 : 4294967296.0);

	return unix_s + (double)frac / 4294967296.0;
}

/* One request and its answer on a connected socket; 1 with the offset, 0
 * when nothing valid came in time, -errno on a socket error. */
static int ntp_exchange(int fd, int timeout_ms, const char *server, double *ret)
{
	unsigned char q[NTP_PACKET] = { 0 }, a[NTP_PACKET + 16];
	struct timespec t1, t4;
	uint64_t deadline;

	q[0] = 0x23; /* leap 0, version 4, mode 3 (client) */
	/* the transmit field is only echoed back: a random value instead of our
	 * (possibly wrong) time makes a forged answer guesswork */
	if (getrandom(q + 40, 8, 0) != 8)
		return -errno;
	clock_gettime(CLOCK_REALTIME, &t1);
	if (send(fd, q, sizeof(q), 0) != (ssize_t)sizeof(q))
		return -errno;
	deadline = lb_mono_ms() + (uint64_t)timeout_ms;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = lb_mono_ms();
		ssize_t n;
		double t2, t3;

		if (now >= deadline)
			return 0;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		n = recv(fd, a, sizeof(a), 0);
		clock_gettime(CLOCK_REALTIME, &t4);
		if (n < 0)
			return errno == ECONNREFUSED ? -ECONNREFUSED : -errno;
		if (n < NTP_PACKET || (a[0] & 7) != 4 || memcmp(a + 24, q + 40, 8) != 0)
			continue; /* not the answer to this request */
		if ((a[0] >> 6) == 3 || a[1] == 0 || a[1] > 15) {
			lb_log("ntp %s: the server is not synchronised (stratum %u%s)", server, a[1],
			       (a[0] >> 6) == 3 ? ", leap alarm" : "");
			return -EPROTO;
		}
		t2 = ntp_time(a + 32);
		t3 = ntp_time(a + 40);
		*ret = ((t2 - ts_sec(&t1)) + (t3 - ts_sec(&t4))) / 2;
		return 1;
	}
}

int lb_clock_ntp_offset(const char *server, int timeout_ms, double *ret_offset)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP }, *ai = NULL;
	char host[256], port[16];
	int r, e;

	if (split_host_port(server, host, sizeof(host), port, sizeof(port)) < 0) {
		lb_log("ntp %s: not host[:port]", server);
		return -EINVAL;
	}
	e = getaddrinfo(host, port, &hints, &ai);
	if (e != 0) {
		lb_log("ntp %s: %s", server, gai_strerror(e));
		return -EHOSTUNREACH;
	}
	r = -ETIMEDOUT;
	for (int i = 0; i < NTP_TRIES && r <= 0 && r != -EPROTO; i++) {
		/* each try goes to the next address (round robin over a pool) */
		struct addrinfo *a = ai;

		for (int k = 0; k < i && a->ai_next; k++)
			a = a->ai_next;
		int fd = socket(a->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			r = -errno;
			continue;
		}
		r = connect(fd, a->ai_addr, a->ai_addrlen) < 0 ? -errno : ntp_exchange(fd, timeout_ms, server, ret_offset);
		close(fd);
	}
	freeaddrinfo(ai);
	if (r == 1)
		return 0;
	if (r == 0 || r == -ETIMEDOUT)
		r = -ETIMEDOUT;
	if (r != -EPROTO)
		lb_log("ntp %s: no answer (%d tries, %d ms each): %s", server, NTP_TRIES, timeout_ms, strerror(-r));
	return r;
}

/* One unsigned HEAD; 0 with the server's time at the moment the answer came
 * (Date is truncated to the second: half a second is added), else -errno. */
static int head_date(struct lb_http *h, const char *url, bool any_time, struct lb_http_response *resp,
		     double *ret_time, uint64_t *ret_mono)
{
	struct lb_http_request req = { .method = "HEAD", .url = url, .what = "clock", .tls_any_time = any_time };
	int64_t t;
	int r;

	r = lb_http_perform(h, &req, resp);
	if (r < 0)
		return r;
	*ret_mono = lb_mono_ms();
	if (lb_s3_parse_http_date(resp->date, &t) < 0) {
		lb_log("clock: %s answered HTTP %ld without a usable Date ('%s')", url, resp->status, resp->date);
		return -EBADMSG;
	}
	*ret_time = (double)t + 0.5;
	return 0;
}

/* The time from the endpoint's Date; 0 with ret's source, from, and the
 * time (as an offset from now, like NTP's), or -errno (logged). */
static int date_offset(const struct lb_clock_opts *o, bool ntp_tried, struct lb_clock_result *ret,
		       double *ret_offset)
{
	struct lb_http_config hc = { .ca_bundle = o->ca_bundle, .connect_timeout_s = 10, .timeout_s = 20 };
	struct lb_http *h = NULL;
	struct lb_http_response *resp = calloc(1, sizeof(*resp));
	bool tls = lb_startswith(o->endpoint, "https://");
	size_t el = strlen(o->endpoint);
	char *url = NULL;
	double t = 0;
	uint64_t mono = 0;
	struct timespec now;
	int r;

	while (el > 0 && o->endpoint[el - 1] == '/')
		el--;
	if (!tls && !lb_startswith(o->endpoint, "http://")) {
		lb_log("clock: endpoint '%s' is not http:// or https://", o->endpoint);
		r = -EINVAL;
		goto fail;
	}
	if (!tls && ntp_tried && !o->http_date_ok) {
		/* plain HTTP: anyone on the path can say any time */
		lb_log("clock: not taking the time from %.*s: plain HTTP is unauthenticated and an NTP server "
		       "was named (clock_http_date = yes, lifeboat.clock_http_date=yes or --http-date allows it)",
		       (int)el, o->endpoint);
		r = -EPERM;
		goto fail;
	}
	url = lb_strdupf("%.*s/%s", (int)el, o->endpoint, o->bucket ? o->bucket : "");
	if (!resp || !url || (r = lb_http_new(&hc, &h)) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	snprintf(ret->from, sizeof(ret->from), "%.*s", (int)el, o->endpoint);
	r = head_date(h, url, false, resp, &t, &mono);
	if (r == -EPROTO && tls && resp->tls_time_only) {
		/* A wrong clock makes a good certificate look expired or not
		 * yet valid, and the clock is what is being fixed: ask once
		 * more without the dates, then hold the answer to them. */
		lb_log("clock: %s: asking again with the certificate's dates unchecked (its chain and name "
		       "still are)",
		       ret->from);
		ret->dates_unchecked = true;
		r = head_date(h, url, true, resp, &t, &mono);
		if (r == 0 && (t < (double)resp->tls_not_before || t > (double)resp->tls_not_after + 1)) {
			char a[32], b[32], c[32];

			fmt_utc((time_t)t, a, sizeof(a));
			fmt_utc((time_t)resp->tls_not_before, b, sizeof(b));
			fmt_utc((time_t)resp->tls_not_after, c, sizeof(c));
			lb_log("clock: %s says it is %s UTC, outside its own certificate's validity (%s to %s UTC): "
			       "refused",
			       ret->from, a, b, c);
			r = -EPERM;
		}
	}
	if (r < 0)
		goto fail;
	if (!tls)
		lb_log("clock: the time from %s comes over plain HTTP, which is unauthenticated: used because %s",
		       ret->from, o->http_date_ok ? "the config allows it" : "there is no other source");
	ret->source = tls ? LB_CLOCK_HTTPS_DATE : LB_CLOCK_HTTP_DATE;
	clock_gettime(CLOCK_REALTIME, &now);
	*ret_offset = t + (double)(lb_mono_ms() - mono) / 1000 - ts_sec(&now);
	r = 0;
fail:
	lb_http_free(h);
	free(resp);
	free(url);
	return r;
}

int lb_clock_sync(const struct lb_clock_opts *o, struct lb_clock_result *ret)
{
	double offset = 0, min_step;
	char a[32], b[32];
	int r = -EHOSTUNREACH;

	memset(ret, 0, sizeof(*ret));
	if (o->ntp && *o->ntp) {
		r = lb_clock_ntp_offset(o->ntp, 2000, &offset);
		if (r == 0) {
			ret->source = LB_CLOCK_NTP;
			snprintf(ret->from, sizeof(ret->from), "NTP %s", o->ntp);
		}
	}
	if (ret->source == LB_CLOCK_NONE && o->endpoint && *o->endpoint)
		r = date_offset(o, (o->ntp && *o->ntp) || o->ntp_named, ret, &offset);
	if (ret->source == LB_CLOCK_NONE) {
		if (!(o->ntp && *o->ntp) && !(o->endpoint && *o->endpoint))
			lb_log("clock: no source: no NTP server and no object store endpoint known");
		else
			lb_log("clock: no source gave the time; the clock stays as it is");
		return r < 0 ? r : -EHOSTUNREACH;
	}
	clock_gettime(CLOCK_REALTIME, &ret->before);
	ret->after = sec_ts(ts_sec(&ret->before) + offset);
	ret->step = offset;
	fmt_utc(ret->before.tv_sec, a, sizeof(a));
	fmt_utc(ret->after.tv_sec, b, sizeof(b));
	if (o->floor > 0 && ret->after.tv_sec < o->floor) {
		char f[32];

		fmt_utc((time_t)o->floor, f, sizeof(f));
		lb_log("clock: %s says it is %s UTC, before this image was built (%s UTC): refused", ret->from, b, f);
		ret->source = LB_CLOCK_NONE;
		return -EPERM;
	}
	/* a Date has whole seconds: a step smaller than that is noise */
	min_step = ret->source == LB_CLOCK_NTP ? 0.001 : 1.0;
	if (o->dry_run || (offset < min_step && offset > -min_step)) {
		lb_log("clock: %s (%s%s): %s -> %s UTC (%+.3f s): %s", lb_clock_source_name(ret->source), ret->from,
		       ret->dates_unchecked ? ", certificate dates unchecked" : "", a, b, offset,
		       o->dry_run ? "dry run, not set" : "already right, left alone");
		return 0;
	}
	if (clock_settime(CLOCK_REALTIME, &ret->after) < 0) {
		r = -errno;
		lb_log("clock: setting the clock to %s UTC: %s", b, strerror(-r));
		return r;
	}
	ret->set = true;
	lb_log("clock: set from %s (%s%s): %s -> %s UTC (%+.3f s)", lb_clock_source_name(ret->source), ret->from,
	       ret->dates_unchecked ? ", certificate dates unchecked" : "", a, b, offset);
	return 0;
}

int64_t lb_clock_build_epoch(void)
{
	char *buf = NULL;
	int64_t t = 0;

	if (lb_read_file(LB_CLOCK_BUILD_EPOCH, 64, &buf) >= 0)
		t = strtoll(buf, NULL, 10);
	free(buf);
	return t > 0 ? t : 0;
}

int lb_clock_opts_store(struct lb_clock_opts *o, const char *store, const char *endpoint, char **ret_own)
{
	char *bucket = NULL, *ep = NULL;

	*ret_own = NULL;
	if (store && lb_startswith(store, "s3://")) {
		bucket = strndup(store + 5, strcspn(store + 5, "/"));
		if (!bucket)
			return -ENOMEM;
	} else if (store && !endpoint && (lb_startswith(store, "https://") || lb_startswith(store, "http://"))) {
		const char *h = strstr(store, "://") + 3;

		endpoint = ep = strndup(store, (size_t)(h - store) + strcspn(h, "/?#"));
		if (!ep)
			return -ENOMEM;
	}
	if (!endpoint)
		endpoint = getenv("AWS_ENDPOINT_URL");
	o->endpoint = endpoint;
	o->bucket = bucket;
	*ret_own = bucket ? bucket : ep; /* never both */
	return 0;
}

static bool ntp_named_at_boot(void)
{
	char *buf = NULL;
	bool named = false;
	char path[512];

	snprintf(path, sizeof(path), "%s/cmdline", lb_root(LB_ROOT_PROC));
	if (lb_read_file(path, 64u << 10, &buf) >= 0)
		named = strstr(buf, "lifeboat.ntp=") != NULL;
	free(buf);
	buf = NULL;
	if (!named && lb_read_file("/run/lifeboat/ntp-servers", 4096, &buf) > 0)
		named = true;
	free(buf);
	return named;
}

void lb_clock_sync_boot(const char *store, const char *endpoint, const char *ca_bundle, bool http_date_ok)
{
	struct lb_clock_opts o = { .ca_bundle = ca_bundle, .http_date_ok = http_date_ok };
	struct lb_clock_result res;
	char *state = NULL, *own = NULL;
	FILE *f;

	if (lb_read_file(LB_CLOCK_STATE, 64, &state) < 0)
		return; /* not the boot image: the host's clock is its own */
	lb_strtrim(state);
	if (strcmp(state, "rtc") != 0 && strcmp(state, "build-time") != 0) {
		free(state);
		return;
	}
	free(state);
	if (lb_clock_opts_store(&o, store, endpoint, &own) < 0 || !o.endpoint)
		goto done;
	o.ntp_named = ntp_named_at_boot();
	o.floor = lb_clock_build_epoch();
	if (lb_clock_sync(&o, &res) == 0 && (f = fopen(LB_CLOCK_STATE, "w"))) {
		fprintf(f, "%s\n", lb_clock_source_name(res.source));
		fclose(f);
	}
done:
	free(own);
}
