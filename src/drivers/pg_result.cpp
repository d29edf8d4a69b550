// pg::result and the reading of its values. Results come in PostgreSQL's binary format
// (the zero-hop path asks for it): exact, and cheaper to read than text.
#include <asio_soci/pg/result.hpp>

#include <libpq-fe.h>

#include <bit>
#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace asio_soci::detail {

using pg::conversion_error;

namespace {

namespace oid {
constexpr Oid boolean = 16, bytea = 17, single_char = 18, name = 19, int8 = 20, int2 = 21,
              int4 = 23, text = 25, object_id = 26, json = 114, xml = 142, float4 = 700,
              float8 = 701, unknown = 705, bpchar = 1042, varchar = 1043, date = 1082,
              timestamp = 1114, timestamptz = 1184, numeric = 1700, uuid = 2950, jsonb = 3802;
constexpr Oid first_user_type = 16384;  // enums and other user types: their binary form is text
}  // namespace oid

std::string column_label(const PGresult* r, int column) {
    const char* name = PQfname(r, column);
    return "column " + std::to_string(column) + " (\"" + (name ? name : "?") + "\", type oid " +
           std::to_string(PQftype(r, column)) + ")";
}

[[noreturn]] void cannot_read(const PGresult* r, int column, const char* as) {
    throw conversion_error("pg::result: " + column_label(r, column) + " cannot be read as " + as);
}

const unsigned char* bytes(const PGresult* r, int row, int column) {
    return reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, column));
}

std::uint64_t big_endian(const unsigned char* p, int size) {
    std::uint64_t value = 0;
    for (int i = 0; i < size; ++i)
        value = value << 8 | p[i];
    return value;
}

// A signed big-endian integer of 2, 4 or 8 bytes.
std::int64_t signed_big_endian(const unsigned char* p, int size) {
    const auto raw = big_endian(p, size);
    const int unused = 64 - 8 * size;
    return static_cast<std::int64_t>(raw << unused) >> unused;
}

bool is_text(Oid type) {
    switch (type) {
        case oid::text:
        case oid::varchar:
        case oid::bpchar:
        case oid::name:
        case oid::single_char:
        case oid::json:
        case oid::xml:
        case oid::unknown:
            return true;
        default:
            return type >= oid::first_user_type;
    }
}

bool is_integer(Oid type) {
    return type == oid::int2 || type == oid::int4 || type == oid::int8 || type == oid::object_id;
}

std::int64_t integer_value(const PGresult* r, int row, int column) {
    const auto* p = bytes(r, row, column);
    switch (PQftype(r, column)) {
        case oid::int2:
            return signed_big_endian(p, 2);
        case oid::int4:
            return signed_big_endian(p, 4);
        case oid::object_id:
            return static_cast<std::int64_t>(big_endian(p, 4));
        default:
            return signed_big_endian(p, 8);
    }
}

// numeric's binary form: ndigits, weight, sign, dscale (int16 each), then ndigits base-10000
// digits, the first of them worth 10000^weight.
std::string numeric_text(const PGresult* r, int row, int column) {
    const auto* p = bytes(r, row, column);
    const int length = PQgetlength(r, row, column);
    if (length < 8)
        cannot_read(r, column, "a number (malformed numeric)");
    const auto ndigits = static_cast<int>(signed_big_endian(p, 2));
    const auto weight = static_cast<int>(signed_big_endian(p + 2, 2));
    const auto sign = static_cast<unsigned>(big_endian(p + 4, 2));
    const auto dscale = static_cast<int>(signed_big_endian(p + 6, 2));
    if (length < 8 + 2 * ndigits)
        cannot_read(r, column, "a number (malformed numeric)");
    switch (sign) {
        case 0xC000:
            return "NaN";
        case 0xD000:
            return "Infinity";
        case 0xF000:
            return "-Infinity";
        default:
            break;
    }
    auto digit = [&](int i) {
        return i >= 0 && i < ndigits ? static_cast<int>(big_endian(p + 8 + 2 * i, 2)) : 0;
    };
    std::string text = sign == 0x4000 ? "-" : "";
    if (weight < 0) {
        text += '0';
    } else {
        text += std::to_string(digit(0));
        for (int i = 1; i <= weight; ++i) {
            const auto group = std::to_string(digit(i));
            text.append(4 - group.size(), '0').append(group);
        }
    }
    if (dscale > 0) {
        text += '.';
        std::string fraction;
        for (int i = weight + 1; static_cast<int>(fraction.size()) < dscale; ++i) {
            const auto group = std::to_string(digit(i));
            fraction.append(4 - group.size(), '0').append(group);
        }
        text.append(fraction, 0, static_cast<std::size_t>(dscale));
    }
    return text;
}

std::string uuid_text(const unsigned char* p) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string text;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text += '-';
        text += hex[p[i] >> 4];
        text += hex[p[i] & 0xf];
    }
    return text;
}

}  // namespace

bool pg_field_is_null(const pg_result* r, int row, int column) noexcept {
    return PQgetisnull(r, row, column) != 0;
}

[[noreturn]] void pg_throw_null(const pg_result* r, int column) {
    throw conversion_error("pg::result: " + column_label(r, column) +
                           " is NULL: read it as a std::optional");
}

[[noreturn]] void pg_throw_out_of_range(const pg_result* r, int row, int column) {
    throw conversion_error("pg::result: the value of " + column_label(r, column) + ", " +
                           std::to_string(integer_value(r, row, column)) +
                           ", is out of the range of the type asked for");
}

int pg_column_index(const pg_result* r, std::string_view name) {
    const int columns = PQnfields(r);
    for (int i = 0; i < columns; ++i)
        if (name == PQfname(r, i))
            return i;
    throw std::out_of_range("pg::result: no column named \"" + std::string(name) + "\"");
}

void pg_read_field(const pg_result* r, int row, int column, bool& out) {
    if (PQftype(r, column) != oid::boolean)
        cannot_read(r, column, "bool");
    out = *bytes(r, row, column) != 0;
}

void pg_read_field(const pg_result* r, int row, int column, std::int64_t& out) {
    if (!is_integer(PQftype(r, column)))
        cannot_read(r, column, "an integer");
    out = integer_value(r, row, column);
}

void pg_read_field(const pg_result* r, int row, int column, std::uint64_t& out) {
    std::int64_t value = 0;
    pg_read_field(r, row, column, value);
    if (value < 0)
        pg_throw_out_of_range(r, row, column);
    out = static_cast<std::uint64_t>(value);
}

void pg_read_field(const pg_result* r, int row, int column, double& out) {
    const Oid type = PQftype(r, column);
    const auto* p = bytes(r, row, column);
    if (type == oid::float8) {
        out = std::bit_cast<double>(big_endian(p, 8));
    } else if (type == oid::float4) {
        out = std::bit_cast<float>(static_cast<std::uint32_t>(big_endian(p, 4)));
    } else if (is_integer(type)) {
        out = static_cast<double>(integer_value(r, row, column));
    } else if (type == oid::numeric) {
        const auto text = numeric_text(r, row, column);
        try {
            out = std::stod(text);
        } catch (const std::exception&) {
            cannot_read(r, column, "double");
        }
    } else {
        cannot_read(r, column, "double");
    }
}

void pg_read_field(const pg_result* r, int row, int column, float& out) {
    if (PQftype(r, column) == oid::float4) {
        out =
            std::bit_cast<float>(static_cast<std::uint32_t>(big_endian(bytes(r, row, column), 4)));
        return;
    }
    double value = 0;
    pg_read_field(r, row, column, value);
    out = static_cast<float>(value);
}

void pg_read_field(const pg_result* r, int row, int column, std::string_view& out) {
    const Oid type = PQftype(r, column);
    const char* p = PQgetvalue(r, row, column);
    const auto length = static_cast<std::size_t>(PQgetlength(r, row, column));
    if (is_text(type))
        out = {p, length};
    else if (type == oid::jsonb && length > 0)  // a version byte, then the text
        out = {p + 1, length - 1};
    else
        cannot_read(r, column, "a string view (text columns only; read it as std::string)");
}

void pg_read_field(const pg_result* r, int row, int column, std::string& out) {
    const Oid type = PQftype(r, column);
    if (is_text(type) || type == oid::jsonb) {
        std::string_view view;
        pg_read_field(r, row, column, view);
        out.assign(view);
    } else if (is_integer(type)) {
        out = std::to_string(integer_value(r, row, column));
    } else if (type == oid::numeric) {
        out = numeric_text(r, row, column);
    } else if (type == oid::uuid && PQgetlength(r, row, column) == 16) {
        out = uuid_text(bytes(r, row, column));
    } else if (type == oid::boolean) {
        out = *bytes(r, row, column) ? "true" : "false";
    } else if (type == oid::float4 || type == oid::float8) {
        double value = 0;
        pg_read_field(r, row, column, value);
        char buffer[32];
        const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
        out.assign(buffer, end);
    } else {
        cannot_read(r, column, "std::string (cast it to text in the SQL)");
    }
}

void pg_read_field(const pg_result* r, int row, int column, std::vector<std::byte>& out) {
    if (PQftype(r, column) != oid::bytea)
        cannot_read(r, column, "bytes (bytea columns only)");
    const auto* p = reinterpret_cast<const std::byte*>(PQgetvalue(r, row, column));
    out.assign(p, p + PQgetlength(r, row, column));
}

void pg_read_field(const pg_result* r, int row, int column,
                   std::chrono::system_clock::time_point& out) {
    using namespace std::chrono;
    constexpr sys_days postgres_epoch{year{2000} / January / 1};
    const Oid type = PQftype(r, column);
    const auto* p = bytes(r, row, column);
    if (type == oid::timestamptz || type == oid::timestamp) {
        const auto us = signed_big_endian(p, 8);
        if (us == std::numeric_limits<std::int64_t>::max() ||
            us == std::numeric_limits<std::int64_t>::min())
            cannot_read(r, column, "a time point (it is infinity)");
        out = time_point_cast<system_clock::duration>(postgres_epoch + microseconds{us});
    } else if (type == oid::date) {
        const auto days_since = signed_big_endian(p, 4);
        if (days_since == std::numeric_limits<std::int32_t>::max() ||
            days_since == std::numeric_limits<std::int32_t>::min())
            cannot_read(r, column, "a time point (it is infinity)");
        out = time_point_cast<system_clock::duration>(postgres_epoch + days{days_since});
    } else {
        cannot_read(r, column, "a time point (timestamp, timestamptz or date columns only)");
    }
}

}  // namespace asio_soci::detail

namespace asio_soci::pg {

int row::checked(std::size_t column) const {
    if (column >= static_cast<std::size_t>(columns_))
        throw std::out_of_range("pg::row: no column " + std::to_string(column) + " (the row has " +
                                std::to_string(columns_) + ")");
    return static_cast<int>(column);
}

result::result(pg_result* adopted) : handle_(adopted, [](pg_result* r) { PQclear(r); }) {}

std::size_t result::size() const noexcept {
    return handle_ ? static_cast<std::size_t>(PQntuples(handle_.get())) : 0;
}

std::size_t result::columns() const noexcept {
    return handle_ ? static_cast<std::size_t>(PQnfields(handle_.get())) : 0;
}

std::string_view result::column_name(std::size_t column) const {
    if (column >= columns())
        throw std::out_of_range("pg::result: no column " + std::to_string(column));
    return PQfname(handle_.get(), static_cast<int>(column));
}

std::size_t result::column_index(std::string_view name) const {
    if (!handle_)
        throw std::out_of_range("pg::result: no column named \"" + std::string(name) + "\"");
    return static_cast<std::size_t>(detail::pg_column_index(handle_.get(), name));
}

std::uint64_t result::affected_rows() const noexcept {
    if (!handle_)
        return 0;
    const char* count = PQcmdTuples(handle_.get());
    std::uint64_t value = 0;
    std::from_chars(count, count + std::strlen(count), value);
    return value;
}

row result::at(std::size_t index) const {
    if (index >= size())
        throw std::out_of_range("pg::result: no row " + std::to_string(index) + " (it has " +
                                std::to_string(size()) + ")");
    return (*this)[index];
}

}  // namespace asio_soci::pg
