/* zip.c - write small zip archives with libzip. */
#include "base/zip.h"

#include <string.h>
#include <zip.h>

static int zip_failed(zip_t *za, const char *path, const char *what)
{
	int rc = dw_fail("ZipFailed", "%s %s: %s", what, path, zip_strerror(za));

	zip_discard(za);
	return rc;
}

int dw_zip_write(const char *path, const struct dw_kvlist *files)
{
	return dw_zip_write_marked(path, files, NULL);
}

int dw_zip_has_comment(const char *path, const char *comment)
{
	int err = 0, len = 0, ours;
	zip_t *za = zip_open(path, ZIP_RDONLY, &err);
	const char *c;

	if (!za)
		return 0;
	c = zip_get_archive_comment(za, &len, ZIP_FL_ENC_RAW);
	ours = c && (size_t)len == strlen(comment) && memcmp(c, comment, (size_t)len) == 0;
	zip_discard(za);
	return ours;
}

int dw_zip_write_marked(const char *path, const struct dw_kvlist *files, const char *comment)
{
	int err = 0;
	zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);

	if (!za) {
		zip_error_t ze;
		zip_error_init_with_code(&ze, err);
		dw_fail("ZipFailed", "cannot create %s: %s", path, zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return -1;
	}
	for (size_t i = 0; i < files->n; i++) {
		const char *data = files->items[i].value;
		/* libzip reads the buffer at zip_close: files outlives it */
		zip_source_t *src = zip_source_buffer(za, data, strlen(data), 0);
		if (!src)
			return zip_failed(za, path, "adding to");
		if (zip_file_add(za, files->items[i].key, src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) < 0) {
			zip_source_free(src);
			return zip_failed(za, path, "adding to");
		}
	}
	if (comment && zip_set_archive_comment(za, comment, (zip_uint16_t)strlen(comment)) < 0)
		return zip_failed(za, path, "marking");
	/* libzip writes a temporary file beside path and renames it over path:
	 * a symlink there is replaced, never followed. */
	if (zip_close(za) < 0)
		return zip_failed(za, path, "writing");
	return 0;
}
