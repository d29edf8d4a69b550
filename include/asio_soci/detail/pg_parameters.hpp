// The parameters of a zero-hop PostgreSQL statement, encoded for libpq: binary for the
// types whose PostgreSQL type is known, text (type left to the server) for strings.
#pragma once

#include <asio_soci/pg/result.hpp>

#include <bit>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace asio_soci::detail {

/// PostgreSQL type OIDs (pg_type.dat) of the parameter types the library encodes.
namespace pg_oid {
inline constexpr unsigned unknown = 0;  // text: the server infers the type from context
inline constexpr unsigned boolean = 16;
inline constexpr unsigned bytea = 17;
inline constexpr unsigned int8 = 20;
inline constexpr unsigned int2 = 21;
inline constexpr unsigned int4 = 23;
inline constexpr unsigned float4 = 700;
inline constexpr unsigned float8 = 701;
inline constexpr unsigned timestamptz = 1184;
}  // namespace pg_oid

class pg_parameters {
public:
    struct parameter {
        unsigned type;       // an OID, or pg_oid::unknown
        std::size_t offset;  // into data()
        int length;          // -1: NULL
        int format;          // 0 text, 1 binary
    };

    void add_null(unsigned type) { parameters_.push_back({type, 0, -1, 0}); }
    void add_text(std::string_view text) {
        parameters_.push_back({pg_oid::unknown, data_.size(), checked_length(text.size()), 0});
        data_.append(text);
    }
    void add_binary(unsigned type, const void* bytes, std::size_t size) {
        parameters_.push_back({type, data_.size(), checked_length(size), 1});
        data_.append(static_cast<const char*>(bytes), size);
    }
    /// `value`'s `size` low bytes, most significant first (PostgreSQL's byte order).
    void add_big_endian(unsigned type, std::uint64_t value, std::size_t size) {
        char bytes[8];
        for (std::size_t i = 0; i < size; ++i)
            bytes[i] = static_cast<char>(value >> (8 * (size - 1 - i)));
        add_binary(type, bytes, size);
    }

    const std::vector<parameter>& list() const noexcept { return parameters_; }
    const std::string& data() const noexcept { return data_; }

private:
    static int checked_length(std::size_t size) {
        if (size > static_cast<std::size_t>(std::numeric_limits<int>::max()))
            throw pg::conversion_error("pg::async_query: a parameter of " + std::to_string(size) +
                                       " bytes is more than libpq can send");
        return static_cast<int>(size);
    }

    std::string data_;
    std::vector<parameter> parameters_;
};

/// The type OID a NULL of T is sent with: the one a value of T is sent with (strings:
/// left to the server).
template <class T>
constexpr unsigned null_type_of() {
    if constexpr (std::is_same_v<T, bool>)
        return pg_oid::boolean;
    else if constexpr (std::is_integral_v<T>)
        return std::is_signed_v<T> && sizeof(T) <= 2                       ? pg_oid::int2
               : sizeof(T) <= 2 || (std::is_signed_v<T> && sizeof(T) <= 4) ? pg_oid::int4
                                                                           : pg_oid::int8;
    else if constexpr (std::is_same_v<T, float>)
        return pg_oid::float4;
    else if constexpr (std::is_same_v<T, double>)
        return pg_oid::float8;
    else if constexpr (std::is_convertible_v<const T&, std::span<const std::byte>>)
        return pg_oid::bytea;
    else if constexpr (requires {
                           requires std::is_same_v<typename T::clock, std::chrono::system_clock>;
                       })
        return pg_oid::timestamptz;
    else
        return pg_oid::unknown;
}

// The encoders: one overload per parameter type (a std::optional of one is NULL or its
// value). What encode() accepts is what pg::async_query() takes as parameters.
inline void encode(pg_parameters& p, bool value) {
    const char byte = value ? 1 : 0;
    p.add_binary(pg_oid::boolean, &byte, 1);
}
template <std::integral T>
requires(!std::is_same_v<T, bool> && !std::is_same_v<T, char> && !std::is_same_v<T, char8_t> &&
         !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t> &&
         !std::is_same_v<T, wchar_t>) void encode(pg_parameters& p, T value) {
    // The narrowest PostgreSQL integer that holds every value of T.
    constexpr unsigned type = null_type_of<T>();
    constexpr std::size_t size = type == pg_oid::int2 ? 2 : type == pg_oid::int4 ? 4 : 8;
    if constexpr (std::is_unsigned_v<T> && sizeof(T) == 8) {
        if (!std::in_range<std::int64_t>(value))
            throw pg::conversion_error("pg::async_query: the unsigned parameter " +
                                       std::to_string(value) + " does not fit PostgreSQL's bigint");
    }
    p.add_big_endian(type, static_cast<std::uint64_t>(value), size);
}
inline void encode(pg_parameters& p, float value) {
    static_assert(sizeof(float) == 4);
    p.add_big_endian(pg_oid::float4, std::bit_cast<std::uint32_t>(value), 4);
}
inline void encode(pg_parameters& p, double value) {
    static_assert(sizeof(double) == 8);
    p.add_big_endian(pg_oid::float8, std::bit_cast<std::uint64_t>(value), 8);
}
inline void encode(pg_parameters& p, std::string_view value) {
    p.add_text(value);
}
inline void encode(pg_parameters& p, const std::string& value) {
    p.add_text(value);
}
inline void encode(pg_parameters& p, const char* value) {
    p.add_text(value);
}
inline void encode(pg_parameters& p, std::span<const std::byte> value) {
    p.add_binary(pg_oid::bytea, value.data(), value.size());
}
inline void encode(pg_parameters& p, const std::vector<std::byte>& value) {
    encode(p, std::span<const std::byte>(value));
}
template <class Duration>
void encode(pg_parameters& p, std::chrono::time_point<std::chrono::system_clock, Duration> value) {
    // timestamptz: microseconds since 2000-01-01 00:00:00 UTC.
    constexpr std::int64_t postgres_epoch_us = 946'684'800'000'000;
    const auto us = std::chrono::floor<std::chrono::microseconds>(value).time_since_epoch().count();
    p.add_big_endian(pg_oid::timestamptz, static_cast<std::uint64_t>(us - postgres_epoch_us), 8);
}
inline void encode(pg_parameters& p, std::nullopt_t) {
    p.add_null(pg_oid::unknown);
}

/// A type pg::async_query() takes as a parameter.
template <class T>
concept pg_parameter = requires(pg_parameters& p, const T& value) {
    encode(p, value);
};

template <pg_parameter T>
void encode(pg_parameters& p, const std::optional<T>& value) {
    if (value)
        encode(p, *value);
    else
        p.add_null(null_type_of<T>());
}

}  // namespace asio_soci::detail
