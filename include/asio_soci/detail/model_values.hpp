// model_values: a model member to and from SOCI's soci::values, whatever type the
// backend reports for the column (SOCI's rows are strict: an int8 column holds a long
// long, an int4 one an int, SQLite's a type derived from the declared name).
#pragma once

#include <soci/soci-backend.h>
#include <soci/values.h>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace asio_soci::detail {

template <class M>
concept model_integer = std::signed_integral<M> && !std::same_as<M, bool>;

/// The members a blob column stores.
template <class M>
concept model_bytes =
    std::same_as<M, std::vector<std::byte>> || std::same_as<M, std::vector<unsigned char>>;

/// Bytes as SOCI binds them: text, \x and two hex digits per byte (PostgreSQL's bytea
/// input; on SQLite, the typed statements decode it with the function asio_soci_unhex).
std::string model_hex(const unsigned char* bytes, std::size_t size);
/// A blob column's value as SOCI reads it: PostgreSQL's bytea output (\x and hex), or
/// SQLite's bytes as they are (`raw`, or text without the \x). Throws soci_error naming
/// `column` for bad hex.
std::vector<unsigned char> model_unhex(const std::string& column, const std::string& text,
                                       bool raw);

template <class M>
struct model_nullable {
    static constexpr bool value = false;
    using value_type = M;
};
template <class M>
struct model_nullable<std::optional<M>> {
    static constexpr bool value = true;
    using value_type = M;
};

/// What SOCI binds a member type as.
template <class M>
auto model_base(const M& value) {
    if constexpr (std::same_as<M, bool>)
        return value ? 1 : 0;
    else if constexpr (model_integer<M> && sizeof(M) <= sizeof(int))
        return static_cast<int>(value);
    else if constexpr (model_integer<M>)
        return static_cast<long long>(value);
    else if constexpr (std::is_floating_point_v<M>)
        return static_cast<double>(value);
    else if constexpr (model_bytes<M>)
        return model_hex(reinterpret_cast<const unsigned char*>(value.data()), value.size());
    else if constexpr (std::same_as<M, std::chrono::system_clock::time_point>) {
        const std::time_t seconds = std::chrono::system_clock::to_time_t(value);
        std::tm utc{};
        gmtime_r(&seconds, &utc);
        return utc;
    } else
        return value;  // std::string, std::tm
}

template <class M>
void model_write(soci::values& values, const std::string& name, const M& value) {
    values.set(name, model_base(value));
}
template <class M>
void model_write(soci::values& values, const std::string& name, const std::optional<M>& value) {
    if (value)
        values.set(name, model_base(*value));
    else
        values.set(name, model_base(M{}), soci::i_null);
}

[[noreturn]] void model_read_failure(const std::string& column, const std::string& why);
/// "YYYY-MM-DD[ HH:MM:SS]" (SQLite's dates are text, and SOCI reads only some declared
/// types as dates).
std::tm model_parse_time(const std::string& column, const std::string& text);

/// A column's value as SOCI holds it, converted to `M`.
template <class M>
M model_convert(const soci::values& values, const std::string& name) {
    const auto type = values.get_properties(name).get_data_type();
    auto integer = [&]() -> long long {
        switch (type) {
            case soci::dt_integer:
                return values.get<int>(name);
            case soci::dt_long_long:
                return values.get<long long>(name);
            case soci::dt_unsigned_long_long: {
                const auto v = values.get<unsigned long long>(name);
                if (v > static_cast<unsigned long long>(std::numeric_limits<long long>::max()))
                    model_read_failure(name, "the value is out of range");
                return static_cast<long long>(v);
            }
            case soci::dt_double:
                return static_cast<long long>(values.get<double>(name));
            case soci::dt_string: {
                const auto text = values.get<std::string>(name);
                if (text == "t" || text == "true")
                    return 1;
                if (text == "f" || text == "false")
                    return 0;
                char* end = nullptr;
                const long long v = std::strtoll(text.c_str(), &end, 10);
                if (text.empty() || *end != '\0')
                    model_read_failure(name, "'" + text + "' is not a number");
                return v;
            }
            default:
                model_read_failure(name, "its type is not a number");
        }
    };
    if constexpr (std::same_as<M, bool>) {
        return integer() != 0;
    } else if constexpr (model_integer<M>) {
        const long long v = integer();
        if (v < std::numeric_limits<M>::min() || v > std::numeric_limits<M>::max())
            model_read_failure(name, "the value is out of range");
        return static_cast<M>(v);
    } else if constexpr (std::is_floating_point_v<M>) {
        if (type == soci::dt_double)
            return static_cast<M>(values.get<double>(name));
        if (type == soci::dt_string)
            return static_cast<M>(std::strtod(values.get<std::string>(name).c_str(), nullptr));
        return static_cast<M>(integer());
    } else if constexpr (model_bytes<M>) {
        if (type != soci::dt_string && type != soci::dt_blob)
            model_read_failure(name, "its type is not bytes");
        // SQLite reports a column declared blob as such, and hands its bytes over as they
        // are; PostgreSQL's bytea comes as text.
        const auto bytes = model_unhex(name, values.get<std::string>(name), type == soci::dt_blob);
        return M(reinterpret_cast<const typename M::value_type*>(bytes.data()),
                 reinterpret_cast<const typename M::value_type*>(bytes.data() + bytes.size()));
    } else if constexpr (std::same_as<M, std::string>) {
        if (type == soci::dt_string)
            return values.get<std::string>(name);
        if (type == soci::dt_double)
            return std::to_string(values.get<double>(name));
        return std::to_string(integer());
    } else {
        static_assert(std::same_as<M, std::tm> ||
                      std::same_as<M, std::chrono::system_clock::time_point>);
        std::tm value{};
        if (type == soci::dt_date)
            value = values.get<std::tm>(name);
        else if (type == soci::dt_string)
            value = model_parse_time(name, values.get<std::string>(name));
        else
            model_read_failure(name, "its type is not a date");
        if constexpr (std::same_as<M, std::tm>)
            return value;
        else
            return std::chrono::system_clock::from_time_t(timegm(&value));
    }
}

/// True when the row of `values` has a column `name` (a select may name some columns
/// only).
bool model_has_column(const soci::values& values, const std::string& name);

/// Reads the column `name` into `member`; a column the row lacks leaves it as it is, and
/// so does SOCI converting the values of a soci::use back after a statement (no row).
template <class M>
void model_read(const soci::values& values, const std::string& name, M& member) {
    if (!model_has_column(values, name))
        return;
    if constexpr (model_nullable<M>::value) {
        if (values.get_indicator(name) == soci::i_null)
            member.reset();
        else
            member = model_convert<typename M::value_type>(values, name);
    } else {
        if (values.get_indicator(name) == soci::i_null)
            model_read_failure(name, "it is NULL, and its member is not a std::optional");
        member = model_convert<M>(values, name);
    }
}

/// An identity member gets the key the database assigned.
template <class M>
void model_assign_key(M& member, long long key) {
    if constexpr (model_integer<typename model_nullable<M>::value_type>)
        member = static_cast<typename model_nullable<M>::value_type>(key);
}

}  // namespace asio_soci::detail
