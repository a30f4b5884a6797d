/*
 * scb_record.c - JSON-lines record writer (see scb_record.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "scb_record.h"
#include "scb_util.h"

static FILE *record;

int
scb_record_open(const char *path)
{
	record = fopen(path, "a");
	return record ? 0 : -1;
}

void
scb_record_close(void)
{
	if (record != NULL)
		fclose(record);
	record = NULL;
}

bool
scb_record_enabled(void)
{
	return record != NULL;
}

void
scb_record_emit(json_t *obj)
{
	char *line;

	if (obj == NULL)
		return;
	if (record != NULL) {
		line = json_dumps(obj, JSON_COMPACT);
		if (line != NULL) {
			/* one write per line, then flush: a reader polling
			 * the file sees whole events as soon as they happen */
			fprintf(record, "%s\n", line);
			fflush(record);
			free(line);
		}
	}
	json_decref(obj);
}

json_t *
scb_json_bytes(const void *p, size_t n)
{
	char *fixed;
	json_t *j;

	if (scb_utf8_valid(p, n))
		return json_stringn_nocheck(n ? p : "", n);
	fixed = scb_utf8_repair(p, n);
	if (fixed == NULL)
		return NULL;
	j = json_stringn_nocheck(fixed, n);
	free(fixed);
	return j;
}
