/* copy.c - private warehouse copies: RDS instances restored for one
 * engineer, found by their tags, waited on, and deleted again. */
#include "dw/copy.h"
#include "dw/log.h"
#include "dw/rds.h"
#include "dw/timefmt.h"
#include "dw/xml.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_POLL_S 30

/* ---- names ------------------------------------------------------------- */

int dw_copy_valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 63 || !isalpha((unsigned char)name[0]) || name[len - 1] == '-')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '-')
			return 0;
		if (c == '-' && name[i + 1] == '-')
			return 0;
	}
	return 1;
}

int dw_copy_default_name(const char *owner, char *out, size_t len)
{
	static const char prefix[] = "dw-snapshot-";
	size_t n = strlen(prefix), limit = len - 1 < 63 ? len - 1 : 63;

	memcpy(out, prefix, n);
	/* Anything but a letter or digit becomes one hyphen: "Jane.Doe@x" ->
	 * "jane-doe-x". */
	for (const char *p = owner; *p && n < limit; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) && c < 0x80)
			out[n++] = (char)tolower(c);
		else if (out[n - 1] != '-')
			out[n++] = '-';
	}
	while (out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n <= sizeof(prefix) - 2)
		return dw_invalid("owner", "owner \"%s\" has no letters or digits to name a copy after; "
				  "give instance_name", owner);
	return 0;
}

/* ---- reading instances ------------------------------------------------- */

static void read_tag(struct dw_copy *c, const char *key, const char *value)
{
	if (strcmp(key, DW_TAG_MANAGED_BY) == 0)
		c->managed = strcmp(value, DW_MANAGED_BY) == 0;
	else if (strcmp(key, DW_TAG_OWNER) == 0)
		snprintf(c->owner, sizeof(c->owner), "%s", value);
	else if (strcmp(key, DW_TAG_SOURCE) == 0)
		snprintf(c->source, sizeof(c->source), "%s", value);
	else if (strcmp(key, DW_TAG_SNAPSHOT) == 0)
		snprintf(c->snapshot, sizeof(c->snapshot), "%s", value);
	else if (strcmp(key, DW_TAG_EXPIRES_AT) == 0) {
		snprintf(c->expires_at, sizeof(c->expires_at), "%s", value);
		time_t t = dw_time_parse_iso(value);
		c->expires = t > 0 ? t : 0;
	}
}

static void read_tags(struct dw_copy *c, xmlNodePtr list)
{
	for (xmlNodePtr t = dw_xml_first(list, "Tag"); t; t = dw_xml_next(t, "Tag")) {
		char key[128], value[256];
		read_tag(c, dw_xml_textbuf(t, "Key", key, sizeof(key)),
			 dw_xml_textbuf(t, "Value", value, sizeof(value)));
	}
}

/* Older API versions leave TagList out of DescribeDBInstances. */
static int fetch_tags(struct dw_aws *aws, const char *arn, struct dw_copy *c)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;

	dw_kv_init(&params);
	dw_kv_add(&params, "ResourceName", arn);
	int rc = dw_rds_call(aws, "ListTagsForResource", &params, &doc);
	dw_kv_free(&params);
	if (rc)
		return dw_error_context("reading the tags of %s", c->instance);
	read_tags(c, dw_xml_find(xmlDocGetRootElement(doc), "ListTagsForResourceResult/TagList"));
	xmlFreeDoc(doc);
	return 0;
}

static int read_instance(struct dw_aws *aws, xmlNodePtr n, struct dw_copy *c)
{
	char port[16], retention[16], arn[512];

	memset(c, 0, sizeof(*c));
	dw_xml_textbuf(n, "DBInstanceIdentifier", c->instance, sizeof(c->instance));
	dw_xml_textbuf(n, "DBInstanceStatus", c->status, sizeof(c->status));
	dw_xml_textbuf(n, "Endpoint/Address", c->address, sizeof(c->address));
	c->port = atoi(dw_xml_textbuf(n, "Endpoint/Port", port, sizeof(port)));
	dw_xml_textbuf(n, "InstanceCreateTime", c->created, sizeof(c->created));
	dw_xml_textbuf(n, "DBInstanceClass", c->instance_class, sizeof(c->instance_class));
	c->backup_retention = atoi(dw_xml_textbuf(n, "BackupRetentionPeriod", retention,
						  sizeof(retention)));
	xmlNodePtr tags = dw_xml_find(n, "TagList");
	if (tags) {
		read_tags(c, tags);
		return 0;
	}
	return fetch_tags(aws, dw_xml_textbuf(n, "DBInstanceArn", arn, sizeof(arn)), c);
}

struct instance_page {
	struct dw_copy *items;
	size_t n, cap;
};

/* One DescribeDBInstances page; *marker is replaced by the next one. */
static int describe_page(struct dw_aws *aws, const char *instance, char **marker,
			 struct instance_page *page)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;
	int rc = 0;

	dw_kv_init(&params);
	if (instance)
		dw_kv_add(&params, "DBInstanceIdentifier", instance);
	else
		dw_kv_add(&params, "MaxRecords", "100");
	if (*marker)
		dw_kv_add(&params, "Marker", *marker);
	rc = dw_rds_call(aws, "DescribeDBInstances", &params, &doc);
	dw_kv_free(&params);
	free(*marker);
	*marker = NULL;
	if (rc)
		return -1;
	xmlNodePtr result = dw_xml_find(xmlDocGetRootElement(doc), "DescribeDBInstancesResult");
	xmlNodePtr list = dw_xml_find(result, "DBInstances");
	for (xmlNodePtr n = dw_xml_first(list, "DBInstance"); n && rc == 0;
	     n = dw_xml_next(n, "DBInstance")) {
		if (page->n == page->cap) {
			page->cap = page->cap ? 2 * page->cap : 16;
			page->items = dw_xrealloc(page->items, page->cap * sizeof(*page->items));
		}
		rc = read_instance(aws, n, &page->items[page->n]);
		if (rc == 0)
			page->n++;
	}
	char *next = dw_xml_text(result, "Marker");
	if (next && *next && rc == 0)
		*marker = next;
	else
		free(next);
	xmlFreeDoc(doc);
	return rc;
}

int dw_copy_describe(struct dw_aws *aws, const char *instance,
		     struct dw_copy *out)
{
	struct instance_page page = { 0 };
	char *marker = NULL;

	if (describe_page(aws, instance, &marker, &page)) {
		free(page.items);
		return -1;
	}
	free(marker);
	if (page.n == 0) {
		free(page.items);
		return dw_fail("DBInstanceNotFound", "DB instance %s not found", instance);
	}
	*out = page.items[0];
	free(page.items);
	return 0;
}

static int newest_first(const void *a, const void *b)
{
	const struct dw_copy *x = a, *y = b;
	time_t tx = dw_time_parse_iso(x->created), ty = dw_time_parse_iso(y->created);

	if (tx != ty)
		return tx < ty ? 1 : -1;
	return strcmp(x->instance, y->instance);
}

int dw_copy_list(struct dw_aws *aws, const char *owner, struct dw_copy **out,
		 size_t *n)
{
	struct instance_page page = { 0 };
	char *marker = NULL;
	size_t kept = 0;

	do {
		if (describe_page(aws, NULL, &marker, &page)) {
			free(page.items);
			return dw_error_context("listing DB instances");
		}
	} while (marker);
	for (size_t i = 0; i < page.n; i++) {
		const struct dw_copy *c = &page.items[i];
		if (c->managed && (!owner || strcmp(c->owner, owner) == 0))
			page.items[kept++] = *c;
	}
	if (kept)
		qsort(page.items, kept, sizeof(*page.items), newest_first);
	*out = page.items;
	*n = kept;
	return 0;
}

/* ---- deleting ---------------------------------------------------------- */

static int check_may_destroy(const struct dw_copy *c, const char *owner, int as_admin)
{
	if (!c->managed)
		return dw_raise(DW_INVALID, "NotManaged", "instance",
				"%s is not managed by dwops (no %s=%s tag); refusing to touch it",
				c->instance, DW_TAG_MANAGED_BY, DW_MANAGED_BY);
	if (as_admin)
		return 0;
	if (!owner || strcmp(c->owner, owner) != 0)
		return dw_raise(DW_INVALID, "NotOwner", "owner",
				"%s belongs to \"%s\", not to \"%s\"; only its owner or an admin "
				"(as_admin) may destroy it", c->instance, c->owner, owner ? owner : "");
	return 0;
}

static void sleep_s(long s)
{
	struct timespec ts = { s, 0 };

	nanosleep(&ts, NULL);
}

static int wait_gone(struct dw_aws *aws, const char *instance, long timeout_s,
		     long poll_s)
{
	time_t start = time(NULL);

	for (;;) {
		struct dw_copy c;
		long elapsed = (long)(time(NULL) - start);

		if (dw_copy_describe(aws, instance, &c)) {
			if (!dw_error_is("DBInstanceNotFound"))
				return -1;
			dw_error_clear();
			dw_info("%s: gone (%lds)", instance, elapsed);
			return 0;
		}
		dw_info("%s: %s (%lds elapsed)", instance, c.status, elapsed);
		if (elapsed + poll_s > timeout_s)
			return dw_raise(DW_TRANSIENT, "WaiterTimeout", NULL,
					"%s is still %s after %lds; it is being deleted, "
					"run destroy again to wait for it", instance, c.status, elapsed);
		sleep_s(poll_s);
	}
}

int dw_copy_destroy_ex(struct dw_aws *aws, const char *instance,
		       const char *owner, int as_admin, long wait_timeout_s,
		       long poll_interval_s)
{
	struct dw_copy c;
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;

	if (dw_copy_describe(aws, instance, &c))
		return -1;
	if (check_may_destroy(&c, owner, as_admin))
		return -1;
	if (strcmp(c.status, "deleting") != 0) {
		dw_info("deleting %s (owner %s)", instance, c.owner);
		dw_kv_init(&params);
		dw_kv_add(&params, "DBInstanceIdentifier", instance);
		dw_kv_add(&params, "SkipFinalSnapshot", "true");
		dw_kv_add(&params, "DeleteAutomatedBackups", "true");
		int rc = dw_rds_call(aws, "DeleteDBInstance", &params, &doc);
		dw_kv_free(&params);
		xmlFreeDoc(doc);
		if (rc)
			return dw_error_context("deleting %s", instance);
	}
	if (wait_timeout_s <= 0)
		return 0;
	return wait_gone(aws, instance, wait_timeout_s,
			 poll_interval_s > 0 ? poll_interval_s : DEFAULT_POLL_S);
}

int dw_copy_destroy(struct dw_aws *aws, const char *instance,
		    const char *owner, int as_admin, long wait_timeout_s)
{
	return dw_copy_destroy_ex(aws, instance, owner, as_admin, wait_timeout_s,
				  DEFAULT_POLL_S);
}
