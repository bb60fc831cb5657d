/* dw/xml.h - small helpers over libxml2 for AWS answers.  Names are
 * matched by local name, so namespaces do not matter. */
#ifndef DW_XML_H
#define DW_XML_H

#include <libxml/tree.h>
#include "base/buf.h"

int dw_xml_parse(const char *data, size_t len, xmlDocPtr *out);
/* Walk "A/B/C" by local names from node; NULL when absent. */
xmlNodePtr dw_xml_find(xmlNodePtr node, const char *path);
/* First / next element child named name (NULL name: any element). */
xmlNodePtr dw_xml_first(xmlNodePtr parent, const char *name);
xmlNodePtr dw_xml_next(xmlNodePtr node, const char *name);
/* Text of the element at path below node as a new string, or NULL. */
char *dw_xml_text(xmlNodePtr node, const char *path);
/* Same, into a fixed buffer ("" when absent); returns buf. */
const char *dw_xml_textbuf(xmlNodePtr node, const char *path, char *buf,
			   size_t len);
/* Escape text for XML content or attribute values. */
void dw_xml_escape(struct dw_buf *out, const char *s);

#endif
