/*
 * jpos.h: source positions for JSON text, and comment stripping.
 *
 * jansson keeps no per-node line numbers, so cfg.c finds the position of a
 * key path ("backends[1].tls.ca") by scanning the text again with
 * jpos_find().  The same module strips the // and block comments that
 * sparkgate config files may contain, before the text goes to jansson.
 *
 * Pure: no I/O, no allocation, no logging; every function works on a
 * caller's buffer of explicit length (NUL bytes are ordinary bytes) and
 * never reads past it.  No recursion: nesting depth costs no stack.
 *
 * Positions: lines are counted by '\n' (a CRLF file has the same line
 * numbers, the '\r' is the last column of its line).  Columns are 1-based
 * and count characters (UTF-8 code points: every byte that is not a
 * continuation byte 10xxxxxx), with a tab counting as one column.  That is
 * what jansson's json_error_t.column counts, so jansson's syntax errors and
 * ours agree.  A UTF-8 byte order mark at the very start is skipped and
 * takes no column.
 *
 * Key paths: members are joined by '.', array elements are "[N]" (decimal,
 * 0-based): "listen[0].tls.certificate", "[2]" at the top of an array.  The
 * empty path is the top-level value.  Inside a member name, '.', '[', ']'
 * and '\' are written "\.", "\[", "\]", "\\", and bytes below 0x20 and 0x7f
 * as "\xHH", so any JSON key can be named and every path is one printable
 * line; jpos_path_key() writes that form.
 */
#ifndef SPARKGATE_JPOS_H
#define SPARKGATE_JPOS_H

#include <stddef.h>

/* A position in the text. */
struct jpos_loc {
    size_t off;  /* byte offset from the start of the text */
    size_t line; /* 1-based */
    size_t col;  /* 1-based, in characters (see above) */
};

/* jpos_find() |what|: where to point for a path that ends in a member name. */
enum jpos_what {
    JPOS_KEY = 0,   /* the opening quote of the member name */
    JPOS_VALUE = 1, /* the first character of the member's value */
};

/*
 * Copies |len| bytes of |in| to |out|, replacing every character of every
 * comment with one space: "//" to the end of the line (the '\n' is kept)
 * and "/" "*" to the next "*" "/" (newlines inside are kept).  Comment
 * markers inside JSON strings are ordinary string bytes.  A multi-byte
 * UTF-8 character inside a comment becomes ONE space and a leading byte
 * order mark is dropped, so |*outlen| may be less than |len|; this keeps
 * every line and character column of the remaining text unchanged.
 * |out| must hold |len| bytes and may be the same buffer as |in| (the
 * output never overtakes the input); it is not NUL-terminated.  Any other
 * text, valid JSON or not, is copied unchanged: the JSON parser reports it.
 *
 * Returns 0 and sets |*outlen|, or -1 when a block comment is not closed
 * before the end; then |*where| (if not NULL) is the position of its "/"
 * in |in| and |out| holds a partial copy.
 */
int jpos_strip_comments(const char *in, size_t len, char *out, size_t *outlen,
                        struct jpos_loc *where);

/*
 * Finds the member or element named by |path| (see above) in the JSON text
 * |text| of |len| bytes.  For a path ending in a member name, |what| picks
 * the name or its value; an element, or the empty path, is always its
 * value.  Comments and a leading byte order mark are skipped, so |text| may
 * be the file as written or the output of jpos_strip_comments(); offsets
 * and positions then refer to that same buffer.  The text before the
 * target must be well-formed enough to walk (brackets, strings, commas);
 * what follows is not examined.  When a name occurs twice in one object the
 * first one is found.
 *
 * Returns 0 with |*loc| set, or -1 when the path is malformed or does not
 * exist in the text (|*loc| is then unspecified).
 */
int jpos_find(const char *text, size_t len, const char *path, enum jpos_what what,
              struct jpos_loc *loc);

/*
 * The innermost member or element of |text| that contains byte offset
 * |off|: a member spans from its name to the end of its value, an element
 * is its value.  Writes its path (NUL-terminated, escaped as above) into
 * |path| (|pathlen| bytes) and the position of its name (or element start)
 * into |*loc|.  An offset outside every member yields the empty path and
 * the start of the top-level value.  cfg.c uses it to name the key of a
 * jansson error that only has a byte offset (duplicate keys).
 *
 * Returns 0, or -1 when the path does not fit (|path| then holds a
 * truncated, NUL-terminated prefix) or the text cannot be walked.
 */
int jpos_path_at(const char *text, size_t len, size_t off, char *path, size_t pathlen,
                 struct jpos_loc *loc);

/*
 * Decodes the JSON string that starts (with its '"') at byte |off| of
 * |text| into |buf|: escapes resolved, UTF-8, NUL-terminated; a "\u0000"
 * escape ends it early.  Returns the decoded length, or -1 when there is no
 * complete string at |off| or it does not fit in |buflen| - 1 bytes (|buf|
 * then holds a truncated, NUL-terminated prefix if |buflen| > 0).
 */
int jpos_string_at(const char *text, size_t len, size_t off, char *buf, size_t buflen);

/*
 * Appends one path component to the NUL-terminated path in |path| (a
 * buffer of |size| bytes whose current length is |*plen|): a member name
 * (escaped as above, with a '.' before it unless the path is empty) or an
 * array index "[N]".  On success updates |*plen| and returns 0.  When it
 * does not fit, returns -1 and leaves the path as it was.
 */
int jpos_path_key(char *path, size_t size, size_t *plen, const char *key);
int jpos_path_index(char *path, size_t size, size_t *plen, size_t index);

#endif
