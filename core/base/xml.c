/* xml.c - reading AWS XML answers with libxml2. */
#include "base/xml.h"
#include "base/error.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dw_xml_parse(const char *data, size_t len, xmlDocPtr *out)
{
	*out = xmlReadMemory(data ? data : "", (int)len, "answer.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!*out || !xmlDocGetRootElement(*out)) {
		xmlFreeDoc(*out);
		*out = NULL;
		return dw_fail("InvalidResponse", "the answer is not XML");
	}
	return 0;
}

static int named(xmlNodePtr n, const char *name, size_t len)
{
	return n->type == XML_ELEMENT_NODE &&
	       (!name || (strlen((const char *)n->name) == len &&
			  strncmp((const char *)n->name, name, len) == 0));
}

xmlNodePtr dw_xml_first(xmlNodePtr parent, const char *name)
{
	if (!parent)
		return NULL;
	for (xmlNodePtr c = parent->children; c; c = c->next)
		if (named(c, name, name ? strlen(name) : 0))
			return c;
	return NULL;
}

xmlNodePtr dw_xml_next(xmlNodePtr node, const char *name)
{
	for (xmlNodePtr c = node ? node->next : NULL; c; c = c->next)
		if (named(c, name, name ? strlen(name) : 0))
			return c;
	return NULL;
}

xmlNodePtr dw_xml_find(xmlNodePtr node, const char *path)
{
	const char *p = path;

	while (node && *p) {
		size_t len = strcspn(p, "/");
		xmlNodePtr c;
		for (c = node->children; c && !named(c, p, len); c = c->next)
			;
		node = c;
		p += len;
		if (*p == '/')
			p++;
	}
	return node;
}

char *dw_xml_text(xmlNodePtr node, const char *path)
{
	xmlNodePtr n = path && *path ? dw_xml_find(node, path) : node;
	xmlChar *text;
	char *copy;

	if (!n)
		return NULL;
	text = xmlNodeGetContent(n);
	copy = strdup(text ? (const char *)text : "");
	xmlFree(text);
	return copy;
}

const char *dw_xml_textbuf(xmlNodePtr node, const char *path, char *buf,
			   size_t len)
{
	char *t = dw_xml_text(node, path);

	snprintf(buf, len, "%s", t ? t : "");
	free(t);
	return buf;
}

void dw_xml_escape(struct dw_buf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': dw_buf_puts(out, "&amp;"); break;
		case '<': dw_buf_puts(out, "&lt;"); break;
		case '>': dw_buf_puts(out, "&gt;"); break;
		case '"': dw_buf_puts(out, "&quot;"); break;
		case '\'': dw_buf_puts(out, "&apos;"); break;
		default: dw_buf_putc(out, *s);
		}
	}
}
