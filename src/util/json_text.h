// Strict JSON text handling without a DOM: validating untrusted JSON (the child's result) so it
// can be embedded verbatim, and writing JSON strings from arbitrary bytes. Used by the server.
//
// Why no DOM: the result must reach the client byte for byte (2**64+1 and 0.1 must not pass
// through a double), and a hostile child must not be able to exhaust the server's stack with
// deep nesting, so validation is iterative and bounded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/result.h"

namespace pyexec {

// Checks that `text` is exactly one strict RFC 8259 JSON value (whitespace around it allowed):
// no NaN/Infinity, no trailing commas, valid escapes, no raw control characters in strings,
// well-formed UTF-8 (no overlong forms, no encoded surrogates), nesting at most `max_depth`.
// The error message names the byte offset and what was wrong.
Status ValidateJson(std::string_view text, size_t max_depth);

// Appends `bytes` as a quoted JSON string. Invalid UTF-8 sequences become U+FFFD, so the output
// is always valid JSON; valid UTF-8 (NUL and U+2028 included) round-trips exactly.
void AppendJsonString(std::string* out, std::string_view bytes);

// The length of `bytes` without a UTF-8 sequence cut short at its end, so that output
// truncated at a byte cap does not end in half a character.
size_t Utf8TrimIncomplete(std::string_view bytes);

}  // namespace pyexec
