// A schema in one normalised form, whether the metadata declares it (for a dialect) or a
// live database has it: what the DDL is made from and what autogenerate compares.
#pragma once

#include "dialect.hpp"

#include <asio_soci/model/table.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace asio_soci::detail {

struct schema_column {
    std::string name;
    std::string type;  // the dialect's, normalised (normalise_type)
    bool nullable = false;
    bool identity = false;    // assigned by the database
    std::string default_sql;  // empty: none
};

/// A primary key or unique constraint.
struct schema_key {
    std::string name;  // SQLite keeps no names: empty when read from it
    std::vector<std::string> columns;
};

struct schema_index {
    std::string name;
    std::vector<std::string> columns;
    bool unique = false;
    std::string definition;  // read from a database: its own CREATE INDEX; else empty
};

struct schema_foreign_key {
    std::string name;  // empty when read from SQLite
    std::vector<std::string> columns;
    std::string table;
    std::vector<std::string> referred_columns;
    std::string on_delete;  // "no action", "restrict", "cascade", "set null", "set default"
};

struct schema_table {
    std::string name;
    std::vector<schema_column> columns;
    schema_key primary_key;
    std::vector<schema_key> uniques;
    std::vector<schema_index> indexes;
    std::vector<schema_foreign_key> foreign_keys;

    const schema_column* find(std::string_view column) const noexcept;
};

/// `type` as written in DDL or reported by the database, in one spelling: lower case,
/// synonyms resolved (int4 and int: integer; character varying: varchar; timestamp
/// without time zone: timestamp), no blanks inside parentheses.
std::string normalise_type(std::string_view type);

/// `table` as `dialect` stores it (constraint names as create_all gives them).
schema_table expected_table(const table_definition& table, model_dialect dialect);

/// The tables of the database of `sql` (PostgreSQL: those of the current schema), except
/// `ignored` (the version table; schema-qualified names compare by their last part).
std::vector<schema_table> inspect_schema(soci::session& sql, model_dialect dialect,
                                         std::string_view ignored);

/// A column's definition in CREATE TABLE or ADD COLUMN. `inline_key`: SQLite's identity,
/// the rowid alias, which must be declared `integer primary key` in place.
std::string column_sql(const schema_column& column, model_dialect dialect, bool inline_key);
std::string foreign_key_sql(const schema_foreign_key& key);
std::string create_index_sql(const schema_index& index, std::string_view table, bool if_not_exists);
/// CREATE TABLE for `table`, named `create_as` (a table rebuild creates it under another
/// name first), then its indexes.
std::vector<std::string> create_statements(const schema_table& table, model_dialect dialect,
                                           std::string_view create_as, bool if_not_exists);

/// "a", "b": names quoted for SQL.
std::string quoted_list(const std::vector<std::string>& names);

}  // namespace asio_soci::detail
