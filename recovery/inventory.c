/* Hardware inventory (inventory.h). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <json-c/json.h>

#include "inventory.h"
#include "lifeboat.h"
#include "util.h"

static struct json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

/* A sysfs attribute as a JSON string, or null. */
static struct json_object *attr(const char *fmt, const char *a, const char *b)
{
	char path[PATH_MAX], *v = NULL;
	struct json_object *o;

	snprintf(path, sizeof(path), fmt, lb_root(LB_ROOT_SYSFS), a, b);
	if (lb_read_str(path, &v) < 0)
		return NULL;
	o = json_object_new_string(v);
	free(v);
	return o;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of physical NICs (a device link, ARPHRD_ETHER), sorted: virtual
 * ones (lo, bridges, bonds made later) say nothing about the machine. */
static int physical_nics(struct lb_strv *ret)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "%s/class/net", lb_root(LB_ROOT_SYSFS));
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && r == 0) {
		char p[PATH_MAX], *type = NULL;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/class/net/%s/device", lb_root(LB_ROOT_SYSFS), de->d_name);
		if (access(p, F_OK) != 0)
			continue;
		snprintf(p, sizeof(p), "%s/class/net/%s/type", lb_root(LB_ROOT_SYSFS), de->d_name);
		if (lb_read_str(p, &type) == 0 && strcmp(type, "1") == 0)
			r = lb_strv_add_unique(ret, de->d_name);
		free(type);
	}
	closedir(d);
	if (ret->n > 1)
		qsort(ret->v, ret->n, sizeof(*ret->v), cmp_str);
	return r;
}

int lb_inventory_machine_id(char *buf, size_t size)
{
	struct lb_strv nics = { 0 };
	char path[PATH_MAX], *v = NULL;
	int r = -ENOENT;

	if (physical_nics(&nics) == 0 && nics.n > 0) {
		snprintf(path, sizeof(path), "%s/class/net/%s/address", lb_root(LB_ROOT_SYSFS), nics.v[0]);
		if (lb_read_str(path, &v) == 0 && strcmp(v, "00:00:00:00:00:00") != 0) {
			snprintf(buf, size, "%s", v);
			r = 0;
		}
		free(v);
		v = NULL;
	}
	lb_strv_clear(&nics);
	if (r == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/class/dmi/id/product_uuid", lb_root(LB_ROOT_SYSFS));
	if (lb_read_str(path, &v) == 0 && strspn(v, "0-") != strlen(v) && strspn(v, "fF-") != strlen(v)) {
		snprintf(buf, size, "%s", v);
		r = 0;
	}
	free(v);
	return r;
}

static struct json_object *cpu(void)
{
	char path[PATH_MAX], *buf = NULL, *line, *save = NULL;
	struct json_object *o = json_object_new_object(), *model = NULL;
	long count = 0;

	snprintf(path, sizeof(path), "%s/cpuinfo", lb_root(LB_ROOT_PROC));
	if (o && lb_read_file(path, LB_READ_MAX, &buf) >= 0) {
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *colon = strchr(line, ':');

			if (!colon)
				continue;
			*colon = '\0';
			lb_strtrim(line);
			if (!strcmp(line, "processor"))
				count++;
			else if (!strcmp(line, "model name") && !model)
				model = str_or_null(lb_strtrim(colon + 1));
		}
	}
	free(buf);
	if (!o)
		return NULL;
	json_object_object_add(o, "model", model);
	json_object_object_add(o, "count", json_object_new_int64(count ? count : sysconf(_SC_NPROCESSORS_ONLN)));
	return o;
}

static struct json_object *memory(void)
{
	char path[PATH_MAX], *buf = NULL, *p;
	unsigned long long kb = 0;
	struct json_object *o = NULL;

	snprintf(path, sizeof(path), "%s/meminfo", lb_root(LB_ROOT_PROC));
	if (lb_read_file(path, LB_READ_MAX, &buf) >= 0 && (p = strstr(buf, "MemTotal:")) &&
	    sscanf(p + 9, "%llu", &kb) == 1)
		o = json_object_new_uint64((uint64_t)kb * 1024);
	free(buf);
	return o;
}

static struct json_object *dmi(void)
{
	static const char *const keys[] = { "sys_vendor", "product_name", "product_serial", "product_uuid",
					    "board_serial" };
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; o && i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_object_add(o, keys[i], attr("%s/class/dmi/id/%s%s", keys[i], ""));
	return o;
}

static struct json_object *disks(const struct lb_disk_list *l)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && l && i < l->n; i++) {
		const struct lb_disk *d = &l->disks[i];
		struct json_object *o;

		if (strcmp(d->type, "disk") != 0 || !(o = json_object_new_object()))
			continue;
		json_object_object_add(o, "name", str_or_null(d->name));
		json_object_object_add(o, "path", str_or_null(d->path));
		json_object_object_add(o, "size", json_object_new_uint64(d->size));
		json_object_object_add(o, "model", str_or_null(d->model));
		json_object_object_add(o, "vendor", str_or_null(d->vendor));
		json_object_object_add(o, "serial", str_or_null(d->serial));
		json_object_object_add(o, "wwn", str_or_null(d->wwn));
		json_object_object_add(o, "transport", str_or_null(d->transport));
		json_object_object_add(o, "rotational", json_object_new_boolean(d->rotational));
		json_object_object_add(o, "by_path", str_or_null(d->by_path));
		json_object_array_add(a, o);
	}
	return a;
}

/* "10.0.2.15/24" for every address of ifname. */
static struct json_object *addresses(const struct ifaddrs *all, const char *ifname)
{
	struct json_object *a = json_object_new_array();

	for (const struct ifaddrs *i = all; a && i; i = i->ifa_next) {
		char ip[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN + 16];
		const unsigned char *m;
		size_t mlen;
		int bits = 0;
		const void *addr;

		if (!i->ifa_addr || !i->ifa_name || strcmp(i->ifa_name, ifname) != 0)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			addr = &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
			m = i->ifa_netmask ? (const unsigned char *)&((const struct sockaddr_in *)(const void *)i->ifa_netmask)->sin_addr : NULL;
			mlen = 4;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			addr = &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
			m = i->ifa_netmask ? (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)i->ifa_netmask)->sin6_addr : NULL;
			mlen = 16;
		} else {
			continue;
		}
		if (!inet_ntop(i->ifa_addr->sa_family, addr, ip, sizeof(ip)))
			continue;
		for (size_t k = 0; m && k < mlen; k++)
			bits += __builtin_popcount(m[k]);
		snprintf(s, sizeof(s), "%s/%d", ip, bits);
		json_object_array_add(a, json_object_new_string(s));
	}
	return a;
}

static struct json_object *nics(void)
{
	struct json_object *a = json_object_new_array();
	struct lb_strv names = { 0 };
	struct ifaddrs *ifa = NULL;

	if (!a)
		return NULL;
	physical_nics(&names);
	if (getifaddrs(&ifa) < 0)
		ifa = NULL;
	for (size_t i = 0; i < names.n; i++) {
		const char *n = names.v[i];
		struct json_object *o = json_object_new_object(), *carrier, *speed;
		char path[PATH_MAX], link[PATH_MAX];
		ssize_t len;

		if (!o)
			break;
		json_object_object_add(o, "name", json_object_new_string(n));
		json_object_object_add(o, "mac", attr("%s/class/net/%s/%s", n, "address"));
		snprintf(path, sizeof(path), "%s/class/net/%s/device/driver", lb_root(LB_ROOT_SYSFS), n);
		len = readlink(path, link, sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			json_object_object_add(o, "driver", json_object_new_string(strrchr(link, '/') ? strrchr(link, '/') + 1 : link));
		} else {
			json_object_object_add(o, "driver", NULL);
		}
		/* carrier and speed cannot be read while the link is down */
		carrier = attr("%s/class/net/%s/%s", n, "carrier");
		json_object_object_add(o, "carrier", json_object_new_boolean(carrier && !strcmp(json_object_get_string(carrier), "1")));
		json_object_put(carrier);
		json_object_object_add(o, "operstate", attr("%s/class/net/%s/%s", n, "operstate"));
		speed = attr("%s/class/net/%s/%s", n, "speed");
		json_object_object_add(o, "speed_mbps", speed && atol(json_object_get_string(speed)) > 0 ?
								json_object_new_int64(atol(json_object_get_string(speed))) : NULL);
		json_object_put(speed);
		json_object_object_add(o, "addresses", addresses(ifa, n));
		json_object_array_add(a, o);
	}
	if (ifa)
		freeifaddrs(ifa);
	lb_strv_clear(&names);
	return a;
}

struct json_object *lb_inventory_json(const struct lb_disk_list *l)
{
	struct json_object *o = json_object_new_object();
	char host[256] = "";
	struct utsname u;

	if (!o)
		return NULL;
	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	json_object_object_add(o, "hostname", str_or_null(host));
	json_object_object_add(o, "lifeboat", json_object_new_string(LIFEBOAT_VERSION));
	json_object_object_add(o, "kernel", uname(&u) == 0 ? json_object_new_string(u.release) : NULL);
	json_object_object_add(o, "cpu", cpu());
	json_object_object_add(o, "memory_bytes", memory());
	json_object_object_add(o, "dmi", dmi());
	json_object_object_add(o, "disks", disks(l));
	json_object_object_add(o, "nics", nics());
	return o;
}
