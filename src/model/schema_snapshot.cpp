// The normalised schema form (schema_snapshot.hpp): made from declarations, and the DDL
// made from it.
#include "schema_snapshot.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace asio_soci::detail {

const schema_column* schema_table::find(std::string_view column) const noexcept {
    for (const auto& c : columns)
        if (c.name == column)
            return &c;
    return nullptr;
}

std::string normalise_type(std::string_view type) {
    std::string lower;
    bool blank = false, in_parentheses = false;
    for (char c : type) {
        if (std::isspace(static_cast<unsigned char>(c))) {
            blank = !lower.empty();
            continue;
        }
        if (c == '(')
            in_parentheses = true;
        // One blank between words; none inside parentheses, nor before them.
        if (blank && !in_parentheses && c != '(')
            lower += ' ';
        blank = false;
        if (c == ')')
            in_parentheses = false;
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    const auto parenthesis = lower.find('(');
    std::string base = lower.substr(0, parenthesis);
    const std::string arguments = parenthesis == std::string::npos ? "" : lower.substr(parenthesis);
    static const std::pair<std::string_view, std::string_view> synonyms[] = {
        {"int", "integer"},
        {"int4", "integer"},
        {"int8", "bigint"},
        {"int2", "smallint"},
        {"bool", "boolean"},
        {"float4", "real"},
        {"float8", "double precision"},
        {"double", "double precision"},
        {"decimal", "numeric"},
        {"character varying", "varchar"},
        {"timestamp without time zone", "timestamp"},
    };
    for (const auto& [synonym, name] : synonyms)
        if (base == synonym)
            base = name;
    return base + arguments;
}

namespace {

std::string type_sql(const sql::column_type& type, model_dialect dialect) {
    switch (type.kind) {
        case sql::type_kind::smallint:
            return "smallint";
        case sql::type_kind::integer:
            return "integer";
        case sql::type_kind::bigint:
            return "bigint";
        case sql::type_kind::boolean:
            return "boolean";
        case sql::type_kind::real:
            return "real";
        case sql::type_kind::double_precision:
            return "double precision";
        case sql::type_kind::numeric:
            return type.precision ? "numeric(" + std::to_string(type.precision) + "," +
                                        std::to_string(type.scale) + ")"
                                  : "numeric";
        case sql::type_kind::text:
            return "text";
        case sql::type_kind::varchar:
            return "varchar(" + std::to_string(type.length) + ")";
        case sql::type_kind::date:
            return "date";
        case sql::type_kind::timestamp:
            return "timestamp";
        case sql::type_kind::blob:
            return dialect == model_dialect::postgresql ? "bytea" : "blob";
    }
    return "text";
}

std::string_view on_delete_name(on_delete action) {
    switch (action) {
        case on_delete::restrict:
            return "restrict";
        case on_delete::cascade:
            return "cascade";
        case on_delete::set_null:
            return "set null";
        case on_delete::no_action:
            break;
    }
    return "no action";
}

std::string joined_names(const std::vector<std::string>& names) {
    std::string joined;
    for (const auto& n : names)
        joined += "_" + n;
    return joined;
}

}  // namespace

schema_table expected_table(const table_definition& table, model_dialect dialect) {
    schema_table t;
    t.name = table.name;
    for (const auto& column : table.columns) {
        // SQLite assigns keys only to a column declared exactly "integer primary key" (an
        // alias of the rowid).
        const bool rowid = column.options.identity && dialect == model_dialect::sqlite;
        t.columns.push_back({column.name, rowid ? "integer" : type_sql(column.type, dialect),
                             column.nullable, column.options.identity,
                             column.options.default_value.sql()});
        if (column.options.unique)
            t.uniques.push_back({"uq_" + table.name + "_" + column.name, {column.name}});
        if (column.options.index)
            t.indexes.push_back({"ix_" + table.name + "_" + column.name, {column.name}, false, {}});
        if (const auto& fk = column.options.foreign_key)
            t.foreign_keys.push_back({"fk_" + table.name + "_" + column.name,
                                      {column.name},
                                      fk->table,
                                      {fk->column},
                                      std::string(on_delete_name(fk->action))});
    }
    if (!table.primary_key.empty())
        t.primary_key = {"pk_" + table.name, table.primary_key};
    for (const auto& unique : table.unique_constraints)
        t.uniques.push_back({"uq_" + table.name + joined_names(unique), unique});
    for (const auto& index : table.indexes)
        t.indexes.push_back({index.name, index.columns, index.unique, {}});
    return t;
}

std::string quoted_list(const std::vector<std::string>& names) {
    std::string list;
    for (const auto& n : names)
        list += (list.empty() ? "" : ", ") + quote_identifier(n);
    return list;
}

std::string column_sql(const schema_column& column, model_dialect dialect, bool inline_key) {
    std::string sql = quote_identifier(column.name) + " ";
    if (inline_key)
        return sql + "integer primary key";
    sql += column.type;
    if (column.identity && dialect == model_dialect::postgresql)
        sql += " generated by default as identity";
    if (!column.nullable)
        sql += " not null";
    if (!column.default_sql.empty())
        sql += " default " + column.default_sql;
    return sql;
}

std::string foreign_key_sql(const schema_foreign_key& key) {
    std::string sql = "foreign key (" + quoted_list(key.columns) + ") references " +
                      quote_identifier(key.table) + " (" + quoted_list(key.referred_columns) + ")";
    if (key.on_delete != "no action")
        sql += " on delete " + key.on_delete;
    return sql;
}

std::string create_index_sql(const schema_index& index, std::string_view table,
                             bool if_not_exists) {
    return std::string("create ") + (index.unique ? "unique " : "") + "index " +
           (if_not_exists ? "if not exists " : "") + quote_identifier(index.name) + " on " +
           quote_identifier(table) + " (" + quoted_list(index.columns) + ")";
}

namespace {

// SQLite's rowid alias: the identity column, alone in the primary key.
const schema_column* sqlite_rowid(const schema_table& table, model_dialect dialect) {
    if (dialect != model_dialect::sqlite || table.primary_key.columns.size() != 1)
        return nullptr;
    const auto* column = table.find(table.primary_key.columns.front());
    return column && column->identity ? column : nullptr;
}

std::string constraint_sql(const std::string& name) {
    return name.empty() ? std::string() : "constraint " + quote_identifier(name) + " ";
}

}  // namespace

std::vector<std::string> create_statements(const schema_table& table, model_dialect dialect,
                                           std::string_view create_as, bool if_not_exists) {
    const auto* rowid = sqlite_rowid(table, dialect);
    std::vector<std::string> parts;
    for (const auto& column : table.columns)
        parts.push_back(column_sql(column, dialect, &column == rowid));
    if (!table.primary_key.columns.empty() && !rowid)
        parts.push_back(constraint_sql(table.primary_key.name) + "primary key (" +
                        quoted_list(table.primary_key.columns) + ")");
    for (const auto& unique : table.uniques)
        parts.push_back(constraint_sql(unique.name) + "unique (" + quoted_list(unique.columns) +
                        ")");
    for (const auto& key : table.foreign_keys)
        parts.push_back(constraint_sql(key.name) + foreign_key_sql(key));

    // One line per column and constraint: generated migrations are read and reviewed.
    std::string create = std::string("create table ") + (if_not_exists ? "if not exists " : "") +
                         quote_identifier(create_as) + " (";
    for (std::size_t i = 0; i < parts.size(); ++i)
        create += (i ? ",\n    " : "\n    ") + parts[i];
    std::vector<std::string> statements{create + "\n)"};
    for (const auto& index : table.indexes)
        statements.push_back(create_index_sql(index, create_as, if_not_exists));
    return statements;
}

}  // namespace asio_soci::detail
