// The C boundary: every entry point runs its body through guard(), which clears this thread's
// last error, turns any exception into a status and a message, and lets nothing escape.
// Helpers here check the caller's pointers and copy the versioned structs in and out.
#pragma once

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "gpu/error.h"
#include "moevk/moevk.h"

namespace moevk::api {

// A failure with a status of the C API's own that no engine ErrorCode stands for.
class ApiError : public std::runtime_error {
public:
    ApiError(moevk_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    moevk_status status() const { return status_; }

private:
    moevk_status status_;
};

// Sets this thread's last error and returns the status.
moevk_status fail(moevk_status status, const std::string& message);
void clear_error();
const char* last_error_text();
moevk_status status_of(ErrorCode code);
// The status and message of the exception being handled.
moevk_status status_of_current_exception();

template <class Body>
moevk_status guard(Body&& body) noexcept {
    clear_error();
    try {
        body();
        return MOEVK_OK;
    } catch (...) {
        return status_of_current_exception();
    }
}

// A second part of a call, after a first that gave `status`: runs without clearing the
// first part's error, and reports its own failure only when the first part succeeded.
template <class Body>
moevk_status guard_then(moevk_status status, Body&& body) noexcept {
    try {
        body();
        return status;
    } catch (...) {
        if (status != MOEVK_OK) return status;
        return status_of_current_exception();
    }
}

// Error(InvalidArgument) naming the function and the argument when `p` is NULL.
template <class T>
T& need(T* p, const char* function, const char* argument) {
    if (!p) throw Error(ErrorCode::InvalidArgument, std::string(function) + ": " + argument + " is NULL");
    return *p;
}

// A NUL-terminated string argument that must be there.
inline std::string need_text(const char* p, const char* function, const char* argument) {
    need(p, function, argument);
    return p;
}

// Options from the caller: what its struct_size covers over the defaults, so a program built
// against an older, shorter struct still works.
template <class T>
T read_struct(const T* given, T defaults, const char* function, const char* argument) {
    if (!given) return defaults;
    if (given->struct_size < sizeof(uint32_t) * 2)
        throw Error(ErrorCode::InvalidArgument, std::string(function) + ": " + argument +
                                                    "->struct_size is " + std::to_string(given->struct_size) +
                                                    " (take the struct from its _default() function)");
    std::memcpy(&defaults, given, std::min<size_t>(given->struct_size, sizeof(T)));
    defaults.struct_size = sizeof(T);
    return defaults;
}

// Results for the caller: as many bytes as its struct_size says it has room for.
template <class T>
void write_struct(T* out, T value, const char* function, const char* argument) {
    T& dst = need(out, function, argument);
    uint32_t size = dst.struct_size;
    if (size < sizeof(uint32_t) * 2)
        throw Error(ErrorCode::InvalidArgument, std::string(function) + ": " + argument + "->struct_size is " +
                                                    std::to_string(size) + " (set it to sizeof the struct)");
    value.struct_size = size;
    std::memcpy(&dst, &value, std::min<size_t>(size, sizeof(T)));
}

// Copies text into a caller's buffer: at most `capacity` bytes with a NUL when it fits;
// `*length` gets the text's length. ApiError(MOEVK_ERROR_BUFFER_TOO_SMALL) when text and NUL
// do not fit.
void write_text(const std::string& text, char* out, size_t capacity, size_t* length, const char* function);

// ApiError(MOEVK_ERROR_BUFFER_TOO_SMALL) when `needed` values (of `what`) pass `capacity`.
void require_room(size_t needed, size_t capacity, const char* function, const char* what);
// Copies token ids into a caller's array: at most `capacity`, `*count` gets how many there are,
// and require_room's error when they do not all fit. `out` may be NULL only with capacity 0.
void write_ids(const std::vector<uint32_t>& ids, int32_t* out, size_t capacity, size_t* count, const char* function,
               const char* what);

// Copies a NUL-terminated string into a fixed char array, cut to fit.
template <size_t N>
void copy_name(char (&dst)[N], const std::string& src) {
    size_t n = std::min(src.size(), N - 1);
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

}  // namespace moevk::api
