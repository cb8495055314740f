/* S3 client; see s3.h. Three parts: a small bounded XML scanner for the
 * handful of elements S3 answers with, credentials and configuration, and
 * the signed requests with their retry loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "backoff.h"
#include "http.h"
#include "s3.h"
#include "sigv4.h"
#include "util.h"

/* ---- XML: just enough for S3, and nothing a hostile server can abuse ----
 *
 * No DTDs (so no entity expansion), no CDATA, no namespaces beyond skipping
 * attributes. Every element name, nesting level and text value has a
 * ceiling; anything outside the subset is -EBADMSG, never a guess. */

#define XML_DEPTH_MAX 16
#define XML_NAME_MAX 64
#define XML_TEXT_MAX 4096 /* S3 keys are at most 1024 bytes of UTF-8 */

typedef int (*xml_end_cb)(void *ud, char path[][XML_NAME_MAX], int depth, const char *text,
			  bool leaf);

static bool name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int utf8_put(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* s points at '&'; decodes into out (room for 4 bytes); returns the bytes
 * consumed from s or -EBADMSG. */
static int xml_entity(const char *s, size_t len, char *out, int *ret_n)
{
	static const struct {
		const char *name;
		char c;
	} named[] = { { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' } };
	const char *semi = memchr(s, ';', len < 12 ? len : 12);
	size_t n;

	if (!semi)
		return -EBADMSG;
	n = (size_t)(semi - s - 1);
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strlen(named[i].name) == n && memcmp(s + 1, named[i].name, n) == 0) {
			out[0] = named[i].c;
			*ret_n = 1;
			return (int)(n + 2);
		}
	}
	if (n >= 2 && s[1] == '#') {
		bool hexa = s[2] == 'x';
		uint32_t cp = 0;
		size_t start = hexa ? 3 : 2;

		if (start >= n + 1)
			return -EBADMSG;
		for (size_t i = start; i <= n; i++) {
			char c = s[i];
			uint32_t d;

			if (c >= '0' && c <= '9')
				d = (uint32_t)(c - '0');
			else if (hexa && c >= 'a' && c <= 'f')
				d = (uint32_t)(c - 'a' + 10);
			else if (hexa && c >= 'A' && c <= 'F')
				d = (uint32_t)(c - 'A' + 10);
			else
				return -EBADMSG;
			cp = cp * (hexa ? 16 : 10) + d;
			if (cp > 0x10ffff)
				return -EBADMSG;
		}
		/* XML 1.0 characters only: no NUL, controls or surrogates */
		if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
			return -EBADMSG;
		*ret_n = utf8_put(cp, out);
		return (int)(n + 2);
	}
	return -EBADMSG;
}

static const char *find(const char *s, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	for (; s + n <= end; s++)
		if (memcmp(s, needle, n) == 0)
			return s;
	return NULL;
}

static int xml_scan(const char *s, size_t len, xml_end_cb cb, void *ud)
{
	char path[XML_DEPTH_MAX][XML_NAME_MAX];
	bool had_child[XML_DEPTH_MAX];
	char text[XML_TEXT_MAX + 8];
	const char *p = s, *end = s + len;
	size_t tlen = 0;
	bool root_done = false;
	int depth = 0, r;

	while (p < end) {
		if (*p != '<') {
			if (depth == 0) {
				if (!xml_space(*p))
					return -EBADMSG;
				p++;
				continue;
			}
			if (tlen > XML_TEXT_MAX)
				return -EBADMSG;
			if (*p == '&') {
				int n = 0;

				r = xml_entity(p, (size_t)(end - p), text + tlen, &n);
				if (r < 0)
					return r;
				tlen += (size_t)n;
				p += r;
			} else {
				if ((unsigned char)*p < 0x20 && !xml_space(*p))
					return -EBADMSG;
				text[tlen++] = *p++;
			}
			continue;
		}
		if (end - p >= 2 && p[1] == '?') {
			const char *q = find(p, end, "?>");

			if (!q || depth > 0)
				return -EBADMSG;
			p = q + 2;
			continue;
		}
		if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			const char *q = find(p + 4, end, "-->");

			if (!q)
				return -EBADMSG;
			p = q + 3;
			continue;
		}
		if (end - p >= 2 && p[1] == '!')
			return -EBADMSG; /* DOCTYPE, CDATA: not in S3's answers */
		if (end - p >= 2 && p[1] == '/') {
			const char *n = p + 2;
			size_t nl = 0;

			while (n + nl < end && name_char(n[nl]))
				nl++;
			p = n + nl;
			while (p < end && xml_space(*p))
				p++;
			if (p >= end || *p != '>' || depth == 0 || nl != strlen(path[depth - 1]) ||
			    memcmp(n, path[depth - 1], nl) != 0)
				return -EBADMSG;
			p++;
			text[tlen] = '\0';
			r = cb(ud, path, depth, had_child[depth - 1] ? "" : text, !had_child[depth - 1]);
			if (r < 0)
				return r;
			depth--;
			tlen = 0;
			if (depth == 0)
				root_done = true;
			continue;
		}
		/* a start tag */
		{
			const char *n = p + 1;
			size_t nl = 0;
			bool empty = false;

			if (root_done || depth == XML_DEPTH_MAX || n >= end || !name_start(*n))
				return -EBADMSG;
			while (n + nl < end && name_char(n[nl]))
				nl++;
			if (nl >= XML_NAME_MAX)
				return -EBADMSG;
			p = n + nl;
			for (;;) { /* attributes: skipped, but their syntax checked */
				char q;

				while (p < end && xml_space(*p))
					p++;
				if (p >= end)
					return -EBADMSG;
				if (*p == '>') {
					p++;
					break;
				}
				if (*p == '/' && p + 1 < end && p[1] == '>') {
					p += 2;
					empty = true;
					break;
				}
				if (!name_start(*p))
					return -EBADMSG;
				while (p < end && name_char(*p))
					p++;
				while (p < end && xml_space(*p))
					p++;
				if (p >= end || *p != '=')
					return -EBADMSG;
				p++;
				while (p < end && xml_space(*p))
					p++;
				if (p >= end || (*p != '"' && *p != '\''))
					return -EBADMSG;
				q = *p++;
				while (p < end && *p != q && *p != '<')
					p++;
				if (p >= end || *p != q)
					return -EBADMSG;
				p++;
			}
			if (depth > 0)
				had_child[depth - 1] = true;
			memcpy(path[depth], n, nl);
			path[depth][nl] = '\0';
			had_child[depth] = false;
			depth++;
			tlen = 0;
			if (empty) {
				r = cb(ud, path, depth, "", true);
				if (r < 0)
					return r;
				depth--;
				if (depth == 0)
					root_done = true;
			}
		}
	}
	return depth == 0 && root_done ? 0 : -EBADMSG;
}

static bool at(char path[][XML_NAME_MAX], int depth, int want_depth, const char *a,
	       const char *b, const char *c)
{
	const char *want[3] = { a, b, c };

	if (depth != want_depth)
		return false;
	for (int i = 0; i < depth; i++)
		if (strcmp(path[i], want[i]) != 0)
			return false;
	return true;
}

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

struct error_state {
	struct lb_s3_error *e;
	bool root;
};

static int error_end(void *ud, char path[][XML_NAME_MAX], int depth, const char *text, bool leaf)
{
	struct error_state *st = ud;

	(void)leaf;
	if (at(path, depth, 1, "Error", NULL, NULL))
		st->root = true;
	else if (at(path, depth, 2, "Error", "Code", NULL))
		copy(st->e->code, sizeof(st->e->code), text);
	else if (at(path, depth, 2, "Error", "Message", NULL))
		copy(st->e->message, sizeof(st->e->message), text);
	else if (at(path, depth, 2, "Error", "RequestId", NULL))
		copy(st->e->request_id, sizeof(st->e->request_id), text);
	return 0;
}

int lb_s3_parse_error(const char *xml, size_t len, struct lb_s3_error *ret)
{
	struct error_state st = { .e = ret };
	int r;

	memset(ret, 0, sizeof(*ret));
	r = xml_scan(xml, len, error_end, &st);
	if (r < 0 || !st.root || !ret->code[0]) {
		memset(ret, 0, sizeof(*ret));
		return -EBADMSG;
	}
	return 0;
}

struct list_state {
	lb_s3_list_cb cb;
	void *userdata;
	struct lb_s3_list_page *page;
	bool root, have_key, have_size;
	int count;
	char key[XML_TEXT_MAX + 8];
	char etag[256];
	char last_modified[64];
	uint64_t size;
};

static int parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EBADMSG;
	for (; *s; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (*s < '0' || *s > '9' || v > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

static int list_end(void *ud, char path[][XML_NAME_MAX], int depth, const char *text, bool leaf)
{
	struct list_state *st = ud;
	struct lb_s3_entry e = { 0 };
	int r;

	(void)leaf;
	if (depth == 1) {
		if (strcmp(path[0], "ListBucketResult") != 0)
			return -EBADMSG;
		st->root = true;
	} else if (at(path, depth, 2, "ListBucketResult", "IsTruncated", NULL)) {
		if (strcmp(text, "true") == 0)
			st->page->truncated = true;
		else if (strcmp(text, "false") == 0)
			st->page->truncated = false;
		else
			return -EBADMSG;
	} else if (at(path, depth, 2, "ListBucketResult", "NextContinuationToken", NULL)) {
		free(st->page->next_token);
		st->page->next_token = strdup(text);
		if (!st->page->next_token)
			return -ENOMEM;
	} else if (at(path, depth, 3, "ListBucketResult", "Contents", "Key") ||
		   at(path, depth, 3, "ListBucketResult", "CommonPrefixes", "Prefix")) {
		copy(st->key, sizeof(st->key), text);
		st->have_key = true;
	} else if (at(path, depth, 3, "ListBucketResult", "Contents", "Size")) {
		if (parse_u64(text, &st->size) < 0)
			return -EBADMSG;
		st->have_size = true;
	} else if (at(path, depth, 3, "ListBucketResult", "Contents", "ETag")) {
		copy(st->etag, sizeof(st->etag), text);
	} else if (at(path, depth, 3, "ListBucketResult", "Contents", "LastModified")) {
		copy(st->last_modified, sizeof(st->last_modified), text);
	} else if (at(path, depth, 2, "ListBucketResult", "Contents", NULL) ||
		   at(path, depth, 2, "ListBucketResult", "CommonPrefixes", NULL)) {
		e.is_prefix = strcmp(path[1], "CommonPrefixes") == 0;
		/* an entry without its key (or an object without its size)
		 * is a broken listing, not an empty name */
		if (!st->have_key || (!e.is_prefix && !st->have_size))
			return -EBADMSG;
		e.key = st->key;
		e.size = e.is_prefix ? 0 : st->size;
		e.etag = e.is_prefix ? "" : st->etag;
		e.last_modified = e.is_prefix ? "" : st->last_modified;
		st->count++;
		r = st->cb ? st->cb(&e, st->userdata) : 0;
		st->have_key = st->have_size = false;
		st->key[0] = st->etag[0] = st->last_modified[0] = '\0';
		st->size = 0;
		if (r < 0)
			return r;
	}
	return 0;
}

int lb_s3_parse_list(const char *xml, size_t len, lb_s3_list_cb cb, void *userdata,
		     struct lb_s3_list_page *ret)
{
	struct list_state *st;
	int r;

	memset(ret, 0, sizeof(*ret));
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cb = cb;
	st->userdata = userdata;
	st->page = ret;
	r = xml_scan(xml, len, list_end, st);
	if (r == 0 && !st->root)
		r = -EBADMSG;
	if (r == 0)
		r = st->count;
	free(st);
	if (r < 0) {
		free(ret->next_token);
		memset(ret, 0, sizeof(*ret));
	}
	return r;
}

/* ---- times in answers ---- */

int lb_s3_parse_http_date(const char *s, int64_t *ret)
{
	struct tm tm = { 0 };
	const char *end;

	/* strptime's %a and %b take English names in the C locale, which is
	 * the only one a static initramfs binary has. */
	end = s ? strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
	if (!end || *end || strlen(s) != 29)
		return -EINVAL;
	*ret = (int64_t)timegm(&tm);
	return 0;
}

int lb_s3_parse_iso_time(const char *s, int64_t *ret)
{
	struct tm tm = { 0 };
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;

	if (!end || strlen(s) < 20)
		return -EINVAL;
	if (*end == '.') {
		end++;
		if (*end < '0' || *end > '9')
			return -EINVAL;
		while (*end >= '0' && *end <= '9')
			end++;
	}
	if (strcmp(end, "Z") != 0)
		return -EINVAL;
	*ret = (int64_t)timegm(&tm);
	return 0;
}

/* ---- credentials ---- */

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void lb_s3_credentials_clear(struct lb_s3_credentials *c)
{
	if (!c)
		return;
	wipe_free(c->access_key);
	wipe_free(c->secret_key);
	wipe_free(c->session_token);
	memset(c, 0, sizeof(*c));
}

static int creds_from_file(const char *path, const char *profile, struct lb_s3_credentials *c)
{
	char *buf = NULL, *line, *save = NULL;
	bool in = false;
	int r;

	r = lb_read_file(path, 1u << 20, &buf);
	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq, *k, *v, **dst = NULL;

		lb_strtrim(line);
		if (!*line || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			char *close = strchr(line, ']');

			if (close)
				*close = '\0';
			in = strcmp(lb_strtrim(line + 1), profile) == 0;
			continue;
		}
		eq = strchr(line, '=');
		if (!in || !eq)
			continue;
		*eq = '\0';
		k = lb_strtrim(line);
		v = lb_strtrim(eq + 1);
		if (strcmp(k, "aws_access_key_id") == 0)
			dst = &c->access_key;
		else if (strcmp(k, "aws_secret_access_key") == 0)
			dst = &c->secret_key;
		else if (strcmp(k, "aws_session_token") == 0)
			dst = &c->session_token;
		if (dst && *v) {
			wipe_free(*dst);
			*dst = strdup(v);
			if (!*dst) {
				r = -ENOMEM;
				goto fail;
			}
		}
	}
	r = 0;
fail:
	explicit_bzero(buf, strlen(buf));
	free(buf);
	return r;
}

static int dup_creds(const struct lb_s3_credentials *from, struct lb_s3_credentials *to);

/* Credentials from the environment, taken once: copied here, then blanked
 * in the environment so that /proc/PID/environ (readable by the same user,
 * and kept for the life of the process) no longer shows them. Every later
 * client of the process gets a copy of this. */
static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lb_s3_credentials env_creds;
static bool env_taken;

static int take_env_creds(void)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tok = getenv("AWS_SESSION_TOKEN");
	struct lb_s3_credentials c = { 0 };

	if (!ak || !*ak || !sk || !*sk)
		return 0;
	c.access_key = strdup(ak);
	c.secret_key = strdup(sk);
	c.session_token = tok && *tok ? strdup(tok) : NULL;
	if (!c.access_key || !c.secret_key || (tok && *tok && !c.session_token)) {
		lb_s3_credentials_clear(&c);
		return -ENOMEM;
	}
	lb_env_blank("AWS_SECRET_ACCESS_KEY");
	lb_env_blank("AWS_SESSION_TOKEN");
	env_creds = c;
	return 0;
}

/* A shared credentials file holding a secret must be the owner's alone,
 * as the config file must (config.c). */
static int private_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (st.st_mode & 077) {
		lb_log("credentials %s: readable by others (mode %03o): refused; chmod 600 it", path,
		       (unsigned)(st.st_mode & 0777));
		return -EPERM;
	}
	return 0;
}

int lb_s3_credentials_load(struct lb_s3_credentials *ret)
{
	const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = getenv("AWS_PROFILE"), *home = getenv("HOME");
	struct lb_s3_credentials c = { 0 };
	char *path = NULL;
	int r;

	pthread_mutex_lock(&env_lock);
	r = 0;
	if (!env_taken) {
		r = take_env_creds();
		env_taken = r == 0;
	}
	if (r == 0 && env_creds.access_key)
		r = dup_creds(&env_creds, &c) < 0 ? -ENOMEM : 1;
	pthread_mutex_unlock(&env_lock);
	if (r < 0)
		goto fail;
	if (r == 1) {
		*ret = c;
		return 0;
	}
	if (!profile || !*profile)
		profile = "default";
	path = file && *file ? strdup(file) : lb_strdupf("%s/.aws/credentials", home ? home : "");
	if (!path) {
		r = -ENOMEM;
		goto fail;
	}
	r = private_file(path);
	if (r == 0)
		r = creds_from_file(path, profile, &c);
	if (r == -EPERM)
		goto fail;
	if (r < 0 && r != -ENOENT) {
		lb_log("read credentials %s: %s", path, strerror(-r));
		goto fail;
	}
	if (!c.access_key || !c.secret_key) {
		lb_log("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
		       "profile [%s] in %s",
		       profile, path);
		r = -ENOKEY;
		goto fail;
	}
	free(path);
	*ret = c;
	return 0;
fail:
	free(path);
	lb_s3_credentials_clear(&c);
	return r;
}

/* ---- the client ---- */

struct lb_s3 {
	struct lb_http *http;
	char *scheme;   /* "http" or "https" */
	char *host;     /* Host header: endpoint host[:port], bucket. prepended for vhost */
	char *bucket;
	char *region;
	bool path_style;
	struct lb_s3_credentials creds;
	struct lb_retry_policy policy;
	unsigned list_page;
	uint64_t rng;
	int64_t date;          /* the Date of the latest answer, -1 before one */
	uint64_t date_mono;    /* lb_mono_ms() when it arrived */
	int64_t skew;          /* seconds added to our clock when signing: the
				* server's clock minus ours, once it refused a
				* request as too skewed (0 until then) */
	struct lb_http_response *resp; /* big (error body); one per client */
	char last_error[128];          /* S3's code for the last refusal, or "" */
	const int *cancel;             /* lb_s3_set_cancel */
};

void lb_s3_free(struct lb_s3 *s3)
{
	if (!s3)
		return;
	lb_http_free(s3->http);
	free(s3->scheme);
	free(s3->host);
	free(s3->bucket);
	free(s3->region);
	lb_s3_credentials_clear(&s3->creds);
	free(s3->resp);
	free(s3);
}

const char *lb_s3_last_error(const struct lb_s3 *s3)
{
	return s3->last_error;
}

static const char *env_or(const char *v, const char *name)
{
	const char *e;

	if (v && *v)
		return v;
	e = getenv(name);
	return e && *e ? e : NULL;
}

static int dup_creds(const struct lb_s3_credentials *from, struct lb_s3_credentials *to)
{
	to->access_key = strdup(from->access_key);
	to->secret_key = strdup(from->secret_key);
	to->session_token = from->session_token ? strdup(from->session_token) : NULL;
	if (!to->access_key || !to->secret_key || (from->session_token && !to->session_token))
		return -ENOMEM;
	return 0;
}

int lb_s3_new(const struct lb_s3_config *cfg, struct lb_s3 **ret)
{
	const char *endpoint = env_or(cfg->endpoint, "AWS_ENDPOINT_URL");
	const char *region = env_or(cfg->region, "AWS_REGION");
	const char *ca = env_or(cfg->ca_bundle, "AWS_CA_BUNDLE");
	const char *hostport, *v;
	struct lb_http_config hc = { 0 };
	struct lb_s3 *s3;
	size_t hl;
	int r;

	if (!region)
		region = env_or(NULL, "AWS_DEFAULT_REGION");
	if (!region)
		region = "us-east-1";
	if (!cfg->bucket || !*cfg->bucket || strchr(cfg->bucket, '/')) {
		lb_log("s3: bad bucket name '%s'", cfg->bucket ? cfg->bucket : "");
		return -EINVAL;
	}
	s3 = calloc(1, sizeof(*s3));
	if (!s3)
		return -ENOMEM;
	s3->resp = calloc(1, sizeof(*s3->resp));
	s3->bucket = strdup(cfg->bucket);
	s3->region = strdup(region);
	if (!s3->resp || !s3->bucket || !s3->region) {
		r = -ENOMEM;
		goto fail;
	}

	if (endpoint) {
		if (lb_startswith(endpoint, "https://")) {
			s3->scheme = strdup("https");
			hostport = endpoint + 8;
		} else if (lb_startswith(endpoint, "http://")) {
			s3->scheme = strdup("http");
			hostport = endpoint + 7;
		} else {
			lb_log("s3: endpoint '%s' must start with http:// or https://", endpoint);
			r = -EINVAL;
			goto fail;
		}
		hl = strcspn(hostport, "/?#");
		/* a path prefix on the endpoint is not supported */
		if (hl == 0 || (hostport[hl] && strcmp(hostport + hl, "/") != 0) ||
		    memchr(hostport, '@', hl)) {
			lb_log("s3: endpoint '%s' must be scheme://host[:port]", endpoint);
			r = -EINVAL;
			goto fail;
		}
		s3->host = strndup(hostport, hl);
		s3->path_style = cfg->addressing != LB_S3_ADDR_VHOST;
	} else {
		s3->scheme = strdup("https");
		s3->host = lb_strdupf("s3.%s.amazonaws.com", region);
		/* a dotted bucket name breaks the wildcard certificate */
		s3->path_style = cfg->addressing == LB_S3_ADDR_PATH ||
				 (cfg->addressing == LB_S3_ADDR_AUTO && strchr(cfg->bucket, '.'));
	}
	if (!s3->scheme || !s3->host) {
		r = -ENOMEM;
		goto fail;
	}
	if (!s3->path_style) {
		char *vh = lb_strdupf("%s.%s", cfg->bucket, s3->host);

		if (!vh) {
			r = -ENOMEM;
			goto fail;
		}
		free(s3->host);
		s3->host = vh;
	}

	if (cfg->creds)
		r = dup_creds(cfg->creds, &s3->creds);
	else
		r = lb_s3_credentials_load(&s3->creds);
	if (r < 0)
		goto fail;

	if ((r = lb_retry_policy_env(&s3->policy)) < 0)
		goto fail;
	if (cfg->retries >= 0)
		s3->policy.retries = cfg->retries;
	if (cfg->retry_time_ms)
		s3->policy.budget_ms = cfg->retry_time_ms;
	s3->list_page = cfg->list_page;
	if (!s3->list_page) {
		v = getenv("LIFEBOAT_LIST_PAGE");
		s3->list_page = v && *v ? (unsigned)strtoul(v, NULL, 10) : 1000;
		if (s3->list_page < 1 || s3->list_page > 1000)
			s3->list_page = 1000;
	}
	s3->rng = lb_backoff_seed();
	s3->date = -1;

	hc.ca_bundle = ca;
	hc.connect_timeout_s = cfg->connect_timeout_s;
	hc.stall_timeout_s = cfg->stall_timeout_s;
	r = lb_http_new(&hc, &s3->http);
	if (r < 0)
		goto fail;
	*ret = s3;
	return 0;
fail:
	lb_s3_free(s3);
	return r;
}

int lb_s3_clone(const struct lb_s3 *from, struct lb_s3 **ret)
{
	struct lb_s3 *s3 = calloc(1, sizeof(*s3));
	int r = -ENOMEM;

	if (!s3)
		return -ENOMEM;
	s3->resp = calloc(1, sizeof(*s3->resp));
	s3->scheme = strdup(from->scheme);
	s3->host = strdup(from->host);
	s3->bucket = strdup(from->bucket);
	s3->region = strdup(from->region);
	if (!s3->resp || !s3->scheme || !s3->host || !s3->bucket || !s3->region)
		goto fail;
	if ((r = dup_creds(&from->creds, &s3->creds)) < 0 || (r = lb_http_clone(from->http, &s3->http)) < 0)
		goto fail;
	s3->path_style = from->path_style;
	s3->policy = from->policy;
	s3->list_page = from->list_page;
	/* the server's clock as the original last saw it */
	s3->date = from->date;
	s3->date_mono = from->date_mono;
	s3->skew = from->skew;
	/* its own jitter: clones that back off together must not retry in step */
	s3->rng = from->rng ^ ((uint64_t)(uintptr_t)s3 * 0x9e3779b97f4a7c15ull);
	*ret = s3;
	return 0;
fail:
	lb_s3_free(s3);
	return r;
}

void lb_s3_set_cancel(struct lb_s3 *s3, const int *flag)
{
	s3->cancel = flag;
	lb_http_set_cancel(s3->http, flag);
}

static bool s3_cancelled(const struct lb_s3 *s3)
{
	return s3->cancel && __atomic_load_n(s3->cancel, __ATOMIC_RELAXED);
}

struct op {
	const char *name;  /* "get", "put", ... for the log */
	const char *method;
	const char *key;   /* NULL for bucket operations */
	const struct lb_sigv4_pair *query;
	size_t n_query;
	const struct lb_sigv4_pair *headers; /* signed and sent */
	size_t n_headers;
	const char *payload_hash;
	const void *body;
	size_t body_len;
	void *buf;
	size_t buf_max;
	uint64_t deadline_ms; /* lb_mono_ms(): not sent, nor retried, from then on */
};

static char *object_path(struct lb_s3 *s3, const char *key)
{
	if (s3->path_style)
		return key ? lb_strdupf("/%s/%s", s3->bucket, key) : lb_strdupf("/%s", s3->bucket);
	return lb_strdupf("/%s", key ? key : "");
}

/* A 403 RequestTimeTooSkewed (or, for a HEAD, whose answer has no body to
 * say so, a 403 whose Date is more than SigV4's 15 minutes from the time
 * the request was signed with): the server's clock and ours disagree. Sign
 * with the server's from now on, say by how much, and have the request
 * signed again. */
static bool too_skewed(struct lb_s3 *s3, const char *what, int64_t signed_at)
{
	struct lb_s3_error e;
	int64_t server, d;
	bool said;

	if (s3->resp->status != 403 || !s3->resp->date[0] || lb_s3_parse_http_date(s3->resp->date, &server) < 0)
		return false;
	d = server - signed_at;
	said = lb_s3_parse_error(s3->resp->error_body, s3->resp->error_len, &e) == 0;
	if (said ? strcmp(e.code, "RequestTimeTooSkewed") != 0 : (d > -900 && d < 900))
		return false;
	s3->skew += d;
	lb_log("%s: %s: the server's clock (%s) is %lld s %s ours; signing with its time", what,
	       said ? "RequestTimeTooSkewed" : "HTTP 403", s3->resp->date, (long long)(d < 0 ? -d : d),
	       d < 0 ? "behind" : "ahead of");
	return true;
}

/* Whether an answer is worth another attempt: the server was busy or
 * broken (5xx, 429), or it says the body it got is not the one that was
 * signed (a 400 naming damage in transit: the bytes went bad on the way,
 * not in the request). Other 4xx will say the same again. why gets
 * "HTTP 503" or "HTTP 400 BadDigest" for the log. */
static bool retryable_status(const struct lb_http_response *resp, char *why, size_t size)
{
	static const char *const damaged[] = { "BadDigest", "XAmzContentSHA256Mismatch", "IncompleteBody" };
	struct lb_s3_error e;

	snprintf(why, size, "HTTP %ld", resp->status);
	if (resp->status >= 500 || resp->status == 429)
		return true;
	if (resp->status != 400 || lb_s3_parse_error(resp->error_body, resp->error_len, &e) < 0)
		return false;
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		if (strcmp(e.code, damaged[i]) == 0) {
			snprintf(why, size, "HTTP 400 %s", e.code);
			return true;
		}
	}
	return false;
}

/* One request, signed afresh per attempt (the clock moves), retried on
 * transport errors, 5xx, 429 and damage in transit, within s3->policy.
 * 0 with s3->resp filled, or -errno. */
static int s3_request(struct lb_s3 *s3, const struct op *op, const char *what)
{
	const struct lb_sigv4_creds creds = { s3->creds.access_key, s3->creds.secret_key,
					      s3->creds.session_token };
	uint64_t start = lb_mono_ms();
	char *path = object_path(s3, op->key);
	bool skew_tried = false;
	int r = -ENOMEM;

	if (!path)
		return -ENOMEM;
	s3->last_error[0] = '\0';
	for (int attempt = 0;; attempt++) {
		struct lb_sigv4_request req = {
			.method = op->method, .host = s3->host, .path = path,
			.query = op->query, .n_query = op->n_query,
			.headers = op->headers, .n_headers = op->n_headers,
			.payload_hash = op->payload_hash, .region = s3->region, .service = "s3",
		};
		struct lb_sigv4_result *sig = NULL;
		uint64_t now = lb_mono_ms();
		const char *hdrs[16];
		char *owned[16] = { 0 };
		size_t nh = 0;
		char *url = NULL;
		struct lb_http_request hr;
		char why[160];
		bool retry;
		int64_t signed_at;

		if (op->deadline_ms && now >= op->deadline_ms) {
			lb_log("%s: not sent: its window closed", what);
			r = -ETIMEDOUT;
			break;
		}
		signed_at = (int64_t)lb_sigv4_now() + s3->skew;
		r = lb_sigv4_sign(&req, &creds, (time_t)signed_at, &sig);
		if (r < 0) {
			lb_log("%s: cannot sign the request: %s", what, strerror(-r));
			break;
		}
		url = lb_strdupf("%s://%s%s%s%s", s3->scheme, s3->host, sig->canonical_uri,
				 sig->canonical_query[0] ? "?" : "", sig->canonical_query);
		owned[nh] = lb_strdupf("Host: %s", s3->host), nh++;
		owned[nh] = lb_strdupf("x-amz-date: %s", sig->amz_date), nh++;
		owned[nh] = lb_strdupf("x-amz-content-sha256: %s", op->payload_hash), nh++;
		owned[nh] = lb_strdupf("Authorization: %s", sig->authorization), nh++;
		if (creds.session_token && *creds.session_token)
			owned[nh] = lb_strdupf("x-amz-security-token: %s", creds.session_token), nh++;
		for (size_t i = 0; i < op->n_headers && nh < 15; i++)
			owned[nh] = lb_strdupf("%s: %s", op->headers[i].name, op->headers[i].value), nh++;
		r = url ? 0 : -ENOMEM;
		for (size_t i = 0; i < nh; i++) {
			hdrs[i] = owned[i];
			if (!owned[i])
				r = -ENOMEM;
		}
		hdrs[nh] = NULL;
		if (r == 0) {
			hr = (struct lb_http_request){
				.method = op->method, .url = url, .headers = hdrs,
				.body = op->body, .body_len = op->body_len,
				.buf = op->buf, .buf_max = op->buf_max, .what = what,
				.timeout_ms = op->deadline_ms ? (long)(op->deadline_ms - now) : 0,
			};
			r = lb_http_perform(s3->http, &hr, s3->resp);
			if (r == 0 && s3->resp->date[0] &&
			    lb_s3_parse_http_date(s3->resp->date, &s3->date) == 0)
				s3->date_mono = lb_mono_ms();
		}
		for (size_t i = 0; i < nh; i++)
			wipe_free(owned[i]);
		free(url);
		lb_sigv4_result_free(sig);

		if (r == 0 && !skew_tried && too_skewed(s3, what, signed_at)) {
			/* signed again at once with the server's clock; not a
			 * retry of a failure (nothing was wrong but the time) */
			skew_tried = true;
			attempt--;
			continue;
		}
		retry = r < 0 ? lb_http_transient(r) : retryable_status(s3->resp, why, sizeof(why));
		if (!retry || !lb_retry_wait(&s3->policy, attempt, start, &s3->rng, s3->cancel, what,
					     r == 0 ? why : NULL))
			break;
		if (s3_cancelled(s3)) {
			r = -ECANCELED;
			break;
		}
	}
	free(path);
	return r;
}

/* The one log line for a refused request, and the errno it maps to. */
static int refused(struct lb_s3 *s3, const char *what)
{
	struct lb_http_response *resp = s3->resp;
	struct lb_s3_error e;
	const char *code, *msg = "", *rid = resp->request_id;

	if (lb_s3_parse_error(resp->error_body, resp->error_len, &e) == 0) {
		code = e.code;
		msg = e.message;
		if (e.request_id[0])
			rid = e.request_id;
	} else {
		/* HEAD answers carry no body */
		code = resp->status == 404 ? "NotFound" : resp->status == 403 ? "Forbidden" : "-";
	}
	lb_log("%s: HTTP %ld %s%s%s%s%s%s", what, resp->status, code, msg[0] ? ": " : "", msg,
	       rid[0] ? " (request id " : "", rid, rid[0] ? ")" : "");
	snprintf(s3->last_error, sizeof(s3->last_error), "%s", code);
	if (resp->status == 404)
		return -ENOENT;
	if (resp->status == 403 || resp->status == 401)
		return -EACCES;
	return -EIO;
}

static void describe(struct lb_s3 *s3, const char *op, const char *key, char *buf, size_t size)
{
	snprintf(buf, size, "s3 %s s3://%s/%s", op, s3->bucket, key ? key : "");
}

static int check_key(const char *key)
{
	if (!key || !*key || strlen(key) > 1024) {
		lb_log("s3: object keys are 1 to 1024 bytes");
		return -EINVAL;
	}
	return 0;
}

int lb_s3_head(struct lb_s3 *s3, const char *key, uint64_t *ret_size, char **ret_etag)
{
	struct op op = { .name = "head", .method = "HEAD", .key = key,
			 .payload_hash = LB_SIGV4_EMPTY_SHA256 };
	char what[1200];
	int r;

	r = check_key(key);
	if (r < 0)
		return r;
	describe(s3, "head", key, what, sizeof(what));
	r = s3_request(s3, &op, what);
	if (r < 0)
		return r;
	/* HEAD is how callers ask whether an object exists (a backup asks it
	 * for every chunk): absence is an answer, not an error, so a 404 is
	 * returned unlogged and the caller says what it means. */
	if (s3->resp->status == 404)
		return -ENOENT;
	if (s3->resp->status != 200)
		return refused(s3, what);
	if (!s3->resp->has_content_length) {
		lb_log("%s: no Content-Length in the answer", what);
		return -EBADMSG;
	}
	if (ret_etag) {
		*ret_etag = strdup(s3->resp->etag);
		if (!*ret_etag)
			return -ENOMEM;
	}
	*ret_size = s3->resp->content_length;
	return 0;
}

int lb_s3_stat(struct lb_s3 *s3, const char *key, struct lb_s3_stat *st)
{
	uint64_t size;
	int r = lb_s3_head(s3, key, &size, NULL);

	if (r < 0)
		return r;
	if (lb_s3_parse_http_date(s3->resp->last_modified, &st->mtime) < 0) {
		lb_log("s3 head s3://%s/%s: no usable Last-Modified ('%s')", s3->bucket, key,
		       s3->resp->last_modified);
		return -EBADMSG;
	}
	st->size = size;
	return 0;
}

int64_t lb_s3_server_time(struct lb_s3 *s3)
{
	if (s3->date < 0)
		return -1;
	return s3->date + (int64_t)((lb_mono_ms() - s3->date_mono) / 1000);
}

int lb_s3_get_object(struct lb_s3 *s3, const char *key, void *buf, size_t max, size_t *ret_len)
{
	struct op op = { .name = "get", .method = "GET", .key = key, .payload_hash = LB_SIGV4_EMPTY_SHA256,
			 .buf = buf, .buf_max = max };
	char what[1200];
	int r;

	r = check_key(key);
	if (r < 0)
		return r;
	if (max == 0 || max > INT32_MAX)
		return -EINVAL;
	snprintf(what, sizeof(what), "s3 get s3://%s/%s", s3->bucket, key);
	r = s3_request(s3, &op, what);
	if (r < 0)
		return r;
	/* A missing key is the caller's to explain (a missing chunk, no such
	 * point); a missing bucket, or anything else, is logged here. */
	if (s3->resp->status == 404) {
		struct lb_s3_error e;

		if (lb_s3_parse_error(s3->resp->error_body, s3->resp->error_len, &e) == 0 &&
		    strcmp(e.code, "NoSuchKey") == 0)
			return -ENOENT;
	}
	if (s3->resp->status != 200)
		return refused(s3, what);
	/* A body cut short by the connection is caught by curl against
	 * Content-Length; one over max by the ceiling (-EMSGSIZE). */
	*ret_len = s3->resp->body_len;
	return 0;
}

int lb_s3_get(struct lb_s3 *s3, const char *key, uint64_t offset, size_t length, void *buf)
{
	char range[64], what[1200];
	struct lb_sigv4_pair h[1] = { { "Range", range } };
	struct op op = { .name = "get", .method = "GET", .key = key, .headers = h, .n_headers = 1,
			 .payload_hash = LB_SIGV4_EMPTY_SHA256, .buf = buf, .buf_max = length };
	int r;

	r = check_key(key);
	if (r < 0)
		return r;
	if (length == 0 || length > INT32_MAX || offset > UINT64_MAX - length)
		return -EINVAL;
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, offset,
		 offset + length - 1);
	snprintf(what, sizeof(what), "s3 get s3://%s/%s [%s]", s3->bucket, key, range + 6);
	r = s3_request(s3, &op, what);
	if (r < 0)
		return r;
	/* 200 means the server ignored Range and sent the whole object: only
	 * right when that is exactly what was asked for */
	if (s3->resp->status != 206 && !(s3->resp->status == 200 && offset == 0))
		return refused(s3, what);
	if (s3->resp->body_len != length) {
		lb_log("%s: got %zu bytes, expected %zu", what, s3->resp->body_len, length);
		return -EBADMSG;
	}
	return (int)length;
}

int lb_s3_put(struct lb_s3 *s3, const char *key, const void *data, size_t len)
{
	char hash[65], md5[25], what[1200];
	struct lb_sigv4_pair h[1] = { { "Content-MD5", md5 } };
	struct op op = { .name = "put", .method = "PUT", .key = key, .headers = h, .n_headers = 1,
			 .payload_hash = hash, .body = data, .body_len = len };
	int r;

	r = check_key(key);
	if (r < 0)
		return r;
	r = lb_sha256_hex(data, len, hash);
	if (r == 0)
		r = lb_md5_base64(data, len, md5);
	if (r < 0)
		return r;
	describe(s3, "put", key, what, sizeof(what));
	r = s3_request(s3, &op, what);
	if (r < 0)
		return r;
	if (s3->resp->status != 200)
		return refused(s3, what);
	return 0;
}

int lb_s3_delete(struct lb_s3 *s3, const char *key)
{
	return lb_s3_delete_by(s3, key, 0);
}

int lb_s3_delete_by(struct lb_s3 *s3, const char *key, uint64_t deadline_ms)
{
	struct op op = { .name = "rm", .method = "DELETE", .key = key,
			 .payload_hash = LB_SIGV4_EMPTY_SHA256, .deadline_ms = deadline_ms };
	char what[1200];
	int r;

	r = check_key(key);
	if (r < 0)
		return r;
	describe(s3, "rm", key, what, sizeof(what));
	r = s3_request(s3, &op, what);
	if (r < 0)
		return r;
	if (s3->resp->status != 204 && s3->resp->status != 200)
		return refused(s3, what);
	return 0;
}

int lb_s3_touch(struct lb_s3 *s3, const char *key)
{
	char what[1200], body[4096];
	char *src = NULL, *enc = NULL;
	struct lb_sigv4_pair h[2] = { { "x-amz-copy-source", NULL }, { "x-amz-metadata-directive", "REPLACE" } };
	struct op op = { .name = "touch", .method = "PUT", .key = key, .headers = h, .n_headers = 2,
			 .payload_hash = LB_SIGV4_EMPTY_SHA256, .body = "", .buf = body, .buf_max = sizeof(body) - 1 };
	int r;

	r = check_key(key);
	if (r < 0)
		return r;
	enc = lb_sigv4_uri_encode(key, 1);
	src = enc ? lb_strdupf("/%s/%s", s3->bucket, enc) : NULL;
	if (!src) {
		r = -ENOMEM;
		goto fail;
	}
	h[0].value = src;
	describe(s3, "touch", key, what, sizeof(what));
	r = s3_request(s3, &op, what);
	if (r < 0)
		goto fail;
	if (s3->resp->status != 200) {
		r = refused(s3, what);
		goto fail;
	}
	/* CopyObject may answer 200 and still fail: the verdict is the body. */
	body[s3->resp->body_len] = '\0';
	if (!strstr(body, "<CopyObjectResult")) {
		struct lb_s3_error e;

		if (lb_s3_parse_error(body, s3->resp->body_len, &e) == 0)
			lb_log("%s: %s: %s", what, e.code, e.message);
		else
			lb_log("%s: the answer is not a CopyObjectResult", what);
		r = -EIO;
		goto fail;
	}
	r = 0;
fail:
	free(enc);
	free(src);
	return r;
}

int lb_s3_list(struct lb_s3 *s3, const char *prefix, const char *delimiter, lb_s3_list_cb cb,
	       void *userdata)
{
	struct lb_s3_list_page page = { 0 };
	char *buf, *token = NULL, max_keys[16], what[1200];
	int r, total = 0;

	buf = malloc(LB_S3_LIST_BODY_MAX);
	if (!buf)
		return -ENOMEM;
	snprintf(max_keys, sizeof(max_keys), "%u", s3->list_page);
	describe(s3, "ls", prefix, what, sizeof(what));
	for (;;) {
		struct lb_sigv4_pair q[5];
		size_t nq = 0;
		struct op op = { .name = "ls", .method = "GET", .query = q,
				 .payload_hash = LB_SIGV4_EMPTY_SHA256, .buf = buf,
				 .buf_max = LB_S3_LIST_BODY_MAX - 1 };

		q[nq++] = (struct lb_sigv4_pair){ "list-type", "2" };
		q[nq++] = (struct lb_sigv4_pair){ "max-keys", max_keys };
		if (prefix && *prefix)
			q[nq++] = (struct lb_sigv4_pair){ "prefix", prefix };
		if (delimiter && *delimiter)
			q[nq++] = (struct lb_sigv4_pair){ "delimiter", delimiter };
		if (token)
			q[nq++] = (struct lb_sigv4_pair){ "continuation-token", token };
		op.n_query = nq;

		r = s3_request(s3, &op, what);
		if (r < 0)
			goto fail;
		if (s3->resp->status != 200) {
			r = refused(s3, what);
			goto fail;
		}
		r = lb_s3_parse_list(buf, s3->resp->body_len, cb, userdata, &page);
		if (r == -EBADMSG)
			lb_log("%s: malformed listing (%zu bytes)", what, s3->resp->body_len);
		if (r < 0)
			goto fail;
		total += r;
		if (!page.truncated)
			break;
		/* a truncated page must say where to go on, and somewhere new */
		if (!page.next_token || !*page.next_token ||
		    (token && strcmp(token, page.next_token) == 0)) {
			lb_log("%s: truncated listing without a new continuation token", what);
			r = -EBADMSG;
			goto fail;
		}
		free(token);
		token = page.next_token;
		page.next_token = NULL;
	}
	r = total;
fail:
	free(page.next_token);
	free(token);
	free(buf);
	return r;
}

int lb_s3_presign_get(struct lb_s3 *s3, const char *key, unsigned expires, char **ret_url)
{
	const struct lb_sigv4_creds creds = { s3->creds.access_key, s3->creds.secret_key,
					      s3->creds.session_token };
	struct lb_sigv4_result *sig = NULL;
	char *path;
	int r;

	r = check_key(key);
	if (r < 0)
		return r;
	path = object_path(s3, key);
	if (!path)
		return -ENOMEM;
	{
		struct lb_sigv4_request req = { .method = "GET", .host = s3->host, .path = path,
						.region = s3->region, .service = "s3" };

		r = lb_sigv4_presign(&req, &creds, (time_t)((int64_t)lb_sigv4_now() + s3->skew), expires, &sig);
	}
	free(path);
	if (r < 0) {
		lb_log("s3 presign s3://%s/%s: %s", s3->bucket, key, strerror(-r));
		return r;
	}
	*ret_url = lb_strdupf("%s://%s%s?%s", s3->scheme, s3->host, sig->canonical_uri,
			      sig->canonical_query);
	lb_sigv4_result_free(sig);
	return *ret_url ? 0 : -ENOMEM;
}
