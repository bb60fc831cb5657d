/* dw/zip.h - zip archives of small text files (libzip). */
#ifndef DW_ZIP_H
#define DW_ZIP_H

#include "base/buf.h"

/* Write a new zip at path (replacing any file there) holding one entry per
 * item: key = name inside the archive, value = its contents. */
int dw_zip_write(const char *path, const struct dw_kvlist *files);

#endif
