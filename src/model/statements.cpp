// The typed statements' SQL (model/rows.hpp): columns by name, values as binds named as
// the columns (soci::use of a model row) or bound in order (keys, conditions).
#include "../drivers/sqlite_functions.hpp"
#include "dialect.hpp"

#include <asio_soci/model/rows.hpp>

#include <soci/soci.h>

#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

namespace asio_soci::detail {

model_dialect model_dialect_of(soci::session& sql) {
    const auto name = sql.get_backend_name();
    if (name == "postgresql")
        return model_dialect::postgresql;
    if (name == "sqlite3")
        return model_dialect::sqlite;
    throw model_error("declarative models support PostgreSQL and SQLite, not " + name);
}

std::string quote_identifier(std::string_view name) {
    std::string quoted = "\"";
    for (char c : name) {
        if (c == '"')
            quoted += '"';
        quoted += c;
    }
    return quoted + '"';
}

namespace {

std::string column_list(const table_definition& table) {
    std::string list;
    for (const auto& column : table.columns)
        list += (list.empty() ? "" : ", ") + quote_identifier(column.name);
    return list;
}

// "a" = :k1 and "b" = :k2: the key's values bound in order.
std::string key_condition(const table_definition& table) {
    std::string condition;
    for (std::size_t i = 0; i < table.primary_key.size(); ++i)
        condition += (i ? " and " : "") + quote_identifier(table.primary_key[i]) + " = :k" +
                     std::to_string(i + 1);
    return condition;
}

std::string where(std::string_view condition) {
    return condition.empty() ? std::string() : " where " + std::string(condition);
}

}  // namespace

std::string model_hex(const unsigned char* bytes, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text = "\\x";
    text.reserve(2 + 2 * size);
    for (std::size_t i = 0; i < size; ++i) {
        text += digits[bytes[i] >> 4];
        text += digits[bytes[i] & 0xf];
    }
    return text;
}

std::vector<unsigned char> model_unhex(const std::string& column, const std::string& text,
                                       bool raw) {
    if (raw || text.compare(0, 2, "\\x") != 0)
        return {text.begin(), text.end()};
    auto digit = [&](char c) -> unsigned {
        if (c >= '0' && c <= '9')
            return static_cast<unsigned>(c - '0');
        if (c >= 'a' && c <= 'f')
            return static_cast<unsigned>(c - 'a' + 10);
        if (c >= 'A' && c <= 'F')
            return static_cast<unsigned>(c - 'A' + 10);
        model_read_failure(column, "bytes in hex hold a character that is no hex digit");
    };
    if (text.size() % 2 != 0)
        model_read_failure(column, "bytes in hex with an odd number of digits");
    std::vector<unsigned char> bytes;
    bytes.reserve(text.size() / 2 - 1);
    for (std::size_t i = 2; i < text.size(); i += 2)
        bytes.push_back(static_cast<unsigned char>(digit(text[i]) << 4 | digit(text[i + 1])));
    return bytes;
}

namespace {

bool has_blob(const table_definition& table) {
    for (const auto& column : table.columns)
        if (column.type.kind == sql::type_kind::blob)
            return true;
    return false;
}

// The placeholder of `column`'s bind in an insert or update: on SQLite a blob's hex is
// turned into bytes, by a function registered on the connection first.
std::string bind_placeholder(soci::session& sql, const column_definition& column) {
    if (column.type.kind != sql::type_kind::blob || model_dialect_of(sql) != model_dialect::sqlite)
        return ":" + column.name;
    return "asio_soci_unhex(:" + column.name + ")";
}

// A session of the caller's own lacks the function the pool registers on its own.
void register_unhex(soci::session& sql, const table_definition& table) {
    if (has_blob(table) && model_dialect_of(sql) == model_dialect::sqlite)
        register_sqlite_functions(sql);
}

}  // namespace

void model_read_failure(const std::string& column, const std::string& why) {
    throw soci::soci_error("column " + column + ": " + why);
}

bool model_has_column(const soci::values& values, const std::string& name) {
    for (std::size_t i = 0; i < values.get_number_of_columns(); ++i)
        if (values.get_properties(i).get_name() == name)
            return true;
    return false;
}

std::tm model_parse_time(const std::string& column, const std::string& text) {
    std::tm t{};
    const int fields = std::sscanf(text.c_str(), "%4d-%2d-%2d %2d:%2d:%2d", &t.tm_year, &t.tm_mon,
                                   &t.tm_mday, &t.tm_hour, &t.tm_min, &t.tm_sec);
    // A date, or a date and a time (SQLite may add fractional seconds: ignored).
    if (fields != 3 && fields != 6)
        model_read_failure(column, "'" + text + "' is not a date");
    t.tm_year -= 1900;
    t.tm_mon -= 1;
    return t;
}

void model_check_key(const table_definition& table, std::size_t count) {
    if (table.primary_key.empty())
        throw model_error("table " + table.name + " has no primary key");
    if (count != table.primary_key.size())
        throw model_error("table " + table.name + ": its primary key has " +
                          std::to_string(table.primary_key.size()) + " column(s), not " +
                          std::to_string(count));
}

std::string model_select_sql(const table_definition& table, std::string_view condition) {
    return "select " + column_list(table) + " from " + quote_identifier(table.name) +
           where(condition);
}

std::string model_select_by_key_sql(const table_definition& table) {
    return model_select_sql(table, key_condition(table));
}

std::string model_count_sql(const table_definition& table, std::string_view condition) {
    return "select count(*) from " + quote_identifier(table.name) + where(condition);
}

std::string model_insert_sql(soci::session& sql, const table_definition& table,
                             bool ignore_conflicts, bool& returns_key) {
    register_unhex(sql, table);
    std::string columns, values;
    for (const auto& column : table.columns) {
        if (column.options.identity)
            continue;
        columns += (columns.empty() ? "" : ", ") + quote_identifier(column.name);
        values += (values.empty() ? "" : ", ") + bind_placeholder(sql, column);
    }
    std::string text =
        "insert into " + quote_identifier(table.name) +
        (columns.empty() ? " default values" : " (" + columns + ") values (" + values + ")");
    if (ignore_conflicts)
        text += " on conflict do nothing";
    returns_key = false;
    if (const auto* identity = table.identity();
        identity && model_dialect_of(sql) == model_dialect::postgresql) {
        text += " returning " + quote_identifier(identity->name);
        returns_key = true;
    }
    return text;
}

long long model_last_key(soci::session& sql) {
    long long key = 0;
    sql << "select last_insert_rowid()", soci::into(key);
    return key;
}

std::string model_update_sql(soci::session& sql, const table_definition& table) {
    register_unhex(sql, table);
    std::string assignments;
    for (const auto& column : table.columns) {
        bool in_key = false;
        for (const auto& key : table.primary_key)
            in_key = in_key || key == column.name;
        if (in_key)
            continue;
        assignments += (assignments.empty() ? "" : ", ") + quote_identifier(column.name) + " = " +
                       bind_placeholder(sql, column);
    }
    std::string condition;
    for (std::size_t i = 0; i < table.primary_key.size(); ++i)
        condition += (i ? " and " : "") + quote_identifier(table.primary_key[i]) +
                     " = :" + table.primary_key[i];
    if (assignments.empty())  // nothing but the key: an update that changes nothing
        assignments = quote_identifier(table.primary_key.front()) + " = " +
                      quote_identifier(table.primary_key.front());
    return "update " + quote_identifier(table.name) + " set " + assignments + " where " + condition;
}

std::string model_delete_sql(const table_definition& table) {
    return "delete from " + quote_identifier(table.name) + " where " + key_condition(table);
}

}  // namespace asio_soci::detail
