/* lifeboat --version: our version and every library we link, because a
 * recovery image is only as trustworthy as the TLS and decompression code
 * inside it, and operators ask "which curl is on this ISO?". */
#include <curl/curl.h>
#include <json-c/json_c_version.h>
#include <mbedtls/version.h>
#include <stdio.h>
#include <zstd.h>

#include "hash.h"
#include "lifeboat.h"
#include "probe.h"

#ifndef LIFEBOAT_VERSION
#define LIFEBOAT_VERSION "0.0.0-dev"
#endif

void lb_print_version(void)
{
	const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
	/* the API asks for at least 9 bytes ("255.255.255" needs 12) */
	char mbed[18] = "";

	mbedtls_version_get_string(mbed);
	printf("lifeboat %s\n", LIFEBOAT_VERSION);
	printf("libcurl %s\n", curl && curl->version ? curl->version : "unknown");
	printf("mbedtls %s\n", mbed);
	printf("zstd %s\n", ZSTD_versionString());
	printf("libblkid %s\n", lb_probe_library_version());
	printf("json-c %s\n", json_c_version());
	/* which SHA-256 code this CPU runs: it bounds restore speed */
	printf("sha256 %s\n", lb_sha256_impl());
}
