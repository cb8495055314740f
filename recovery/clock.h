/* The system clock from the network, for a machine whose RTC is dead or
 * years off: TLS certificates and SigV4 signatures both depend on it.
 *
 * Sources, in order: NTP (a server named in the config, on the kernel
 * command line or by DHCP), else the Date header of the object store's
 * answer to one unsigned HEAD. Over HTTPS that answer is authenticated;
 * when the certificate check fails only because of its dates (which is
 * what a wrong clock does), the request is made once more with the dates
 * not checked (chain, signatures and host name still are) and the time
 * taken is then required to fall inside the certificate's validity and
 * after the image's build. Over plain HTTP the Date is unauthenticated:
 * used only when allowed, or when there is no other source, and the log
 * says so. */
#ifndef LB_CLOCK_H
#define LB_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum lb_clock_source {
	LB_CLOCK_NONE,       /* nothing answered: the clock was left alone */
	LB_CLOCK_NTP,
	LB_CLOCK_HTTPS_DATE, /* Date over a verified TLS connection */
	LB_CLOCK_HTTP_DATE,  /* Date over plain HTTP: unauthenticated */
};

struct lb_clock_opts {
	const char *ntp;       /* host[:port] (IPv6 in brackets); NULL: none known */
	const char *endpoint;  /* http(s)://host[:port] of the object store; NULL: none */
	const char *bucket;    /* HEAD /bucket (any status will do: RGW and S3 date a 403 too) */
	const char *ca_bundle; /* for https; NULL: the built-in default */
	bool http_date_ok;     /* accept Date over plain HTTP even when NTP was tried */
	bool ntp_named;        /* an NTP server is known but was tried before (and
				* failed): plain HTTP's Date then needs http_date_ok */
	bool dry_run;          /* find the time, do not set it */
	int64_t floor;         /* a time earlier than this (the build) is refused; 0: none */
};

struct lb_clock_result {
	enum lb_clock_source source;
	char from[300];        /* "NTP 10.0.2.2:123", "https://s3.example:443" */
	struct timespec before; /* our clock when the time was taken */
	struct timespec after;  /* the time found, at the same moment */
	double step;            /* after - before, seconds */
	bool set;               /* the clock was changed (not dry_run, step large enough) */
	bool dates_unchecked;   /* HTTPS: the certificate's dates were forgiven */
};

/* Find the time and set the clock. 0 with ret filled (source NONE is not
 * returned: then -EHOSTUNREACH, nothing answered, or -EPERM, an answer
 * that was refused, both logged), -EPERM also when clock_settime is not
 * permitted. Logs which source set the clock and the step. */
int lb_clock_sync(const struct lb_clock_opts *o, struct lb_clock_result *ret);

const char *lb_clock_source_name(enum lb_clock_source s);

/* Where init records what set the clock: rtc, build-time (neither from the
 * network), ntp, https-date, http-date. Absent outside the boot image. */
#define LB_CLOCK_STATE "/run/lifeboat/clock-source"
#define LB_CLOCK_BUILD_EPOCH "/etc/lifeboat/build-epoch"

/* The build time of the image (LB_CLOCK_BUILD_EPOCH), 0 when unknown. */
int64_t lb_clock_build_epoch(void);

/* Fill o->endpoint and o->bucket from a store (s3://bucket/..., or an
 * http(s):// store, which is its own endpoint) and an endpoint (which wins;
 * NULL: AWS_ENDPOINT_URL). *ret_own is what to free afterwards. */
int lb_clock_opts_store(struct lb_clock_opts *o, const char *store, const char *endpoint, char **ret_own);

/* In the boot image, when LB_CLOCK_STATE says the clock did not come from
 * the network yet (init knew no source): take it from this store now and
 * record the source. Elsewhere, and when it already did, nothing. For
 * deploy and the console, before they use the store; never fails them
 * (a refusal is logged, and SigV4 still adapts to the server's clock). */
void lb_clock_sync_boot(const char *store, const char *endpoint, const char *ca_bundle, bool http_date_ok);

/* One SNTP (RFC 4330) exchange with server (host[:port]): the offset to add
 * to CLOCK_REALTIME, in seconds. -errno, logged. */
int lb_clock_ntp_offset(const char *server, int timeout_ms, double *ret_offset);

#endif
