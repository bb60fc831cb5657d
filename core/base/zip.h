/* dw/zip.h - zip archives of small text files (libzip). */
#ifndef DW_ZIP_H
#define DW_ZIP_H

#include "base/buf.h"

/* Write a new zip at path (replacing any file there) holding one entry per
 * item: key = name inside the archive, value = its contents. */
int dw_zip_write(const char *path, const struct dw_kvlist *files);
/* The same, with an archive comment (what marks the zip as dwops's). */
int dw_zip_write_marked(const char *path, const struct dw_kvlist *files, const char *comment);
/* 1 when path is a zip archive whose comment is exactly comment. */
int dw_zip_has_comment(const char *path, const char *comment);

#endif
