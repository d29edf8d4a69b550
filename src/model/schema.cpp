// Declarations checked, and the DDL made from them (model/table.hpp, model/metadata.hpp).
#include "schema_snapshot.hpp"

#include <asio_soci/model/metadata.hpp>

#include <soci/soci.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <set>
#include <string>

namespace asio_soci {

column_default::column_default(double value) {
    char buffer[64];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
    sql_.assign(buffer, end);
}

column_default::column_default(std::string value) : sql_("'") {
    for (char c : value) {
        if (c == '\'')
            sql_ += '\'';
        sql_ += c;
    }
    sql_ += '\'';
}

const column_definition* table_definition::find(std::string_view column) const noexcept {
    for (const auto& c : columns)
        if (c.name == column)
            return &c;
    return nullptr;
}

const column_definition* table_definition::identity() const noexcept {
    for (const auto& c : columns)
        if (c.options.identity)
            return &c;
    return nullptr;
}

namespace {

// Column names are also the names of their binds (:name): letters, digits, underscores.
bool is_simple_identifier(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front())))
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
}

bool is_integer(sql::type_kind kind) {
    return kind == sql::type_kind::smallint || kind == sql::type_kind::integer ||
           kind == sql::type_kind::bigint;
}

}  // namespace

void table_definition::check() const {
    const std::string where = "table " + name;
    if (name.empty())
        throw model_error("a table without a name");
    if (columns.empty())
        throw model_error(where + ": no columns");
    auto require_columns = [&](const std::vector<std::string>& names, const std::string& what) {
        if (names.empty())
            throw model_error(where + ": " + what + " without columns");
        for (const auto& n : names)
            if (!find(n))
                throw model_error(where + ": " + what + " names column " + n +
                                  ", which it does not have");
    };
    for (const auto& column : columns) {
        const std::string at = where + ", column " + column.name;
        if (!is_simple_identifier(column.name))
            throw model_error(at + ": a column name must be letters, digits and underscores");
        if (column.options.identity) {
            if (!is_integer(column.type.kind))
                throw model_error(at + ": an identity column must be of an integer type");
            if (primary_key != std::vector<std::string>{column.name})
                throw model_error(at + ": an identity column must be the primary key, alone");
            if (!column.options.default_value.sql().empty())
                throw model_error(at + ": an identity column cannot have a default");
            if (identity() != &column)
                throw model_error(at + ": a second identity column");
        }
        if (column.type.kind == sql::type_kind::varchar && column.type.length == 0)
            throw model_error(at + ": varchar needs a length");
        if (column.options.foreign_key &&
            column.options.foreign_key->action == on_delete::set_null && !column.nullable)
            throw model_error(at + ": on_delete::set_null needs a nullable column (std::optional)");
    }
    if (!primary_key.empty())
        require_columns(primary_key, "the primary key");
    for (const auto& unique : unique_constraints)
        require_columns(unique, "a unique constraint");
    for (const auto& index : indexes) {
        if (!is_simple_identifier(index.name))
            throw model_error(where + ": index name '" + index.name +
                              "' must be letters, digits and underscores");
        require_columns(index.columns, "index " + index.name);
    }
}

const table_definition* metadata::find(std::string_view table) const noexcept {
    for (const auto* t : tables_)
        if (t->name == table)
            return t;
    return nullptr;
}

void metadata::check() const {
    std::set<std::string> names;
    for (const auto* table : tables_) {
        if (!names.insert(table->name).second)
            throw model_error("table " + table->name + " is declared twice");
        table->check();
    }
    for (const auto* table : tables_)
        for (const auto& column : table->columns) {
            if (!column.options.foreign_key)
                continue;
            const auto& fk = *column.options.foreign_key;
            const std::string at = "table " + table->name + ", column " + column.name;
            const auto* target = find(fk.table);
            if (!target)
                throw model_error(at + ": its foreign key refers to table " + fk.table +
                                  ", which the metadata does not have");
            if (!target->find(fk.column))
                throw model_error(at + ": its foreign key refers to " + fk.table + "." + fk.column +
                                  ", which does not exist");
        }
    creation_order();  // throws for a cycle
}

std::vector<const table_definition*> metadata::creation_order() const {
    std::vector<const table_definition*> order;
    std::set<const table_definition*> done, visiting;
    std::function<void(const table_definition*)> visit = [&](const table_definition* table) {
        if (done.count(table))
            return;
        if (!visiting.insert(table).second)
            throw model_error("table " + table->name +
                              ": foreign keys form a cycle through it (not supported)");
        for (const auto& column : table->columns)
            if (column.options.foreign_key)
                if (const auto* target = find(column.options.foreign_key->table);
                    target && target != table)
                    visit(target);
        visiting.erase(table);
        done.insert(table);
        order.push_back(table);
    };
    for (const auto* table : tables_)
        visit(table);
    return order;
}

std::vector<std::string> create_table_statements(soci::session& sql,
                                                 const table_definition& table) {
    const auto dialect = detail::model_dialect_of(sql);
    return detail::create_statements(detail::expected_table(table, dialect), dialect, table.name,
                                     true);
}

void create_all(soci::session& sql, const metadata& tables) {
    for (const auto* table : tables.creation_order())
        for (const auto& statement : create_table_statements(sql, *table))
            sql << statement;
}

void drop_all(soci::session& sql, const metadata& tables) {
    detail::model_dialect_of(sql);  // refuses another database
    auto order = tables.creation_order();
    std::reverse(order.begin(), order.end());
    for (const auto* table : order)
        sql << "drop table if exists " + detail::quote_identifier(table->name);
}

}  // namespace asio_soci
