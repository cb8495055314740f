/* config.c: the deploy config's KEY = VALUE lines. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tap.h"

static int parse(struct lb_config *c, const char *text, bool creds_ok)
{
	char *buf = strdup(text);
	int r = lb_config_parse(c, buf, "test.conf", creds_ok, "is readable by others");

	free(buf);
	return r;
}

TEST(settings_merge)
{
	struct lb_config c = { 0 };

	CHECK_INT(parse(&c,
			"# a site\n\nstore = s3://b/p\npoint = web01/latest  # comment\n"
			"disk.system = serial=S1,size>=1G\r\ntrust_key = /etc/a.pub\ntrust_key=/etc/b.pub\n"
			"trust_key = /etc/a.pub\n",
			false),
		  0);
	CHECK_STR(lb_config_get(&c, "store"), "s3://b/p");
	CHECK_STR(lb_config_get(&c, "point"), "web01/latest");
	CHECK_STR(lb_config_get(&c, "endpoint"), NULL);
	CHECK_INT(c.disks.n, 1);
	CHECK_STR(c.disks.names[0], "system");
	CHECK_STR(c.disks.values[0], "serial=S1,size>=1G");
	CHECK_INT(c.trust_keys.n, 2); /* they add up, each once */
	CHECK_STR(c.trust_keys.v[1], "/etc/b.pub");
	/* a later source wins */
	CHECK_INT(lb_config_set(&c, "point", "web01/20261126T143000Z-3f9a0c1e", "cmdline"), 0);
	CHECK_STR(lb_config_get(&c, "point"), "web01/20261126T143000Z-3f9a0c1e");
	/* the retry bounds are settings too (deploy passes them on as
	 * LIFEBOAT_RETRIES, LIFEBOAT_RETRY_TIME, LIFEBOAT_STALL_TIMEOUT) */
	CHECK_INT(lb_config_set(&c, "retries", "3", "cmdline"), 0);
	CHECK_INT(lb_config_set(&c, "retry_time", "30", "cmdline"), 0);
	CHECK_INT(lb_config_set(&c, "stall_timeout", "10", "cmdline"), 0);
	CHECK_STR(lb_config_get(&c, "retry_time"), "30");
	lb_config_clear(&c);
}

TEST(refusals)
{
	struct lb_config c = { 0 };

	CHECK_INT(parse(&c, "store = x\n\n\nnonsense\n", false), -EINVAL); /* logged as line 4 */
	CHECK_INT(parse(&c, "colour = blue\n", false), -EINVAL);
	CHECK_INT(parse(&c, "secret_access_key = s\n", false), -EPERM);
	CHECK_INT(parse(&c, "secret_access_key = s\n", true), 0);
	CHECK_INT(parse(&c, "trust_key =\n", true), -EINVAL);
	CHECK_INT(parse(&c, "point =\n", true), -EINVAL);
	CHECK_INT(parse(&c, "", true), 0);
	lb_config_clear(&c);
}

int main(void)
{
	RUN(settings_merge);
	RUN(refusals);
	return tap_done();
}
