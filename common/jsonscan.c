/*
 * jsonscan.c - finds a member's value in the text of a JSON object (see
 * jsonscan.h).  The text has already been accepted by json-c's strict
 * tokenizer, so this scanner only needs to find boundaries; it still
 * stops with -1 at anything unexpected rather than read past the end.
 */
#include "jsonscan.h"

#include <string.h>

#include <json-c/json.h>

static size_t js_blank(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
			   s[i] == '\n'))
		i++;
	return i;
}

/* Offset just past the string that starts at s[i] ('"'), or 0. */
static size_t js_string_end(const char *s, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return 0;
}

/* Offset just past the value that starts at s[i], or 0. */
static size_t js_value_end(const char *s, size_t len, size_t i)
{
	size_t depth = 0;

	if (i >= len)
		return 0;
	if (s[i] != '{' && s[i] != '[') {
		if (s[i] == '"')
			return js_string_end(s, len, i);
		while (i < len && !strchr(",}] \t\r\n", s[i]))
			i++;
		return i;
	}
	/* Nested: count brackets, stepping over strings whole. */
	while (i < len) {
		if (s[i] == '"') {
			i = js_string_end(s, len, i);
			if (i == 0)
				return 0;
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			depth++;
		else if (s[i] == '}' || s[i] == ']') {
			if (--depth == 0)
				return i + 1;
		}
		i++;
	}
	return 0;
}

/* Whether the string literal s[0..n) (quotes included) names key. */
static bool js_name_is(const char *s, size_t n, const char *key)
{
	size_t klen = strlen(key);
	struct json_tokener *tok;
	json_object *o;
	bool same;

	if (!memchr(s, '\\', n))
		return n == klen + 2 && memcmp(s + 1, key, klen) == 0;
	/* Escapes: let json-c decode the name.  It is compared as the C
	 * string json-c keeps as the member's name: json-c cuts a name at a
	 * NUL, so "tag\u0000x" is its "tag", and must be ours too. */
	tok = json_tokener_new();
	if (!tok)
		return false;
	o = json_tokener_parse_ex(tok, s, (int)n);
	json_tokener_free(tok);
	same = o && json_object_is_type(o, json_type_string) &&
	       strcmp(json_object_get_string(o), key) == 0;
	json_object_put(o);
	return same;
}

int tp_json_member(const char *text, size_t len, const char *key,
		   size_t *off, size_t *n)
{
	size_t i = js_blank(text, len, 0);
	int found = -1;

	if (i >= len || text[i] != '{')
		return -1;
	i = js_blank(text, len, i + 1);
	if (i < len && text[i] == '}')
		return -1;
	while (i < len && text[i] == '"') {
		size_t name = i, end = js_string_end(text, len, i), v, vend;

		if (end == 0)
			return -1;
		i = js_blank(text, len, end);
		if (i >= len || text[i] != ':')
			return -1;
		v = js_blank(text, len, i + 1);
		vend = js_value_end(text, len, v);
		if (vend == 0)
			return -1;
		if (js_name_is(text + name, end - name, key)) {
			*off = v;
			*n = vend - v;
			found = 0;
		}
		i = js_blank(text, len, vend);
		if (i < len && text[i] == ',')
			i = js_blank(text, len, i + 1);
		else
			break;
	}
	return found;
}

static size_t js_digits(const char *s, size_t len, size_t i)
{
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

bool tp_json_is_number(const char *s, size_t len)
{
	size_t i = 0, j;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (i < len && s[i] >= '1' && s[i] <= '9')
		i = js_digits(s, len, i);
	else
		return false;
	if (i < len && s[i] == '.') {
		j = js_digits(s, len, i + 1);
		if (j == i + 1)
			return false;
		i = j;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		j = js_digits(s, len, i);
		if (j == i)
			return false;
		i = j;
	}
	return i == len;
}
