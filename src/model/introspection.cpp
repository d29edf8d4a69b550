// What a live database has, in the normalised schema form: PostgreSQL from pg_catalog
// (the current schema), SQLite from its pragmas.
#include "schema_snapshot.hpp"

#include <soci/soci.h>

#include <array>
#include <cstddef>
#include <map>
#include <string>

namespace asio_soci::detail {

namespace {

// The rows of `query` as text (every column is cast to text in the SQL, so that both
// backends hand them over alike; NULL reads as ""), with `argument` bound to :a if given.
template <std::size_t N>
std::vector<std::array<std::string, N>> text_rows(soci::session& sql, const std::string& query,
                                                  const std::string* argument = nullptr) {
    std::array<std::string, N> row;
    std::array<soci::indicator, N> nulls{};
    soci::statement statement(sql);
    for (std::size_t i = 0; i < N; ++i)
        statement.exchange(soci::into(row[i], nulls[i]));
    if (argument)
        statement.exchange(soci::use(*argument));
    statement.alloc();
    statement.prepare(query);
    statement.define_and_bind();
    std::vector<std::array<std::string, N>> rows;
    if (statement.execute(true)) {
        do {
            for (std::size_t i = 0; i < N; ++i)
                if (nulls[i] == soci::i_null)
                    row[i].clear();
            rows.push_back(row);
        } while (statement.fetch());
    }
    return rows;
}

// Names joined by the unit separator, which no sane identifier holds.
constexpr char separator = '\x1f';

std::vector<std::string> split_names(const std::string& joined) {
    std::vector<std::string> names;
    if (joined.empty())
        return names;
    std::size_t start = 0;
    for (auto end = joined.find(separator); end != std::string::npos;
         end = joined.find(separator, start)) {
        names.push_back(joined.substr(start, end - start));
        start = end + 1;
    }
    names.push_back(joined.substr(start));
    return names;
}

std::string_view last_part(std::string_view name) {
    const auto dot = name.rfind('.');
    return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

std::string lower(std::string text) {
    for (auto& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

// --- PostgreSQL ------------------------------------------------------------------------

// The names of a constraint's or an index's columns, in order (attribute numbers in
// `keys` of relation `relation`).
std::string pg_names(std::string_view keys, std::string_view relation) {
    return "coalesce((select string_agg(a.attname, chr(31) order by k.o) from unnest(" +
           std::string(keys) + ") with ordinality k(n, o) join pg_attribute a on a.attrelid = " +
           std::string(relation) + " and a.attnum = k.n), '')";
}

constexpr const char* pg_in_current_schema =
    " join pg_class c on c.oid = {rel} join pg_namespace n on n.oid = c.relnamespace"
    " where n.nspname = current_schema() and c.relname = :a";

std::string pg_table_filter(std::string_view relation) {
    std::string filter = pg_in_current_schema;
    filter.replace(filter.find("{rel}"), 5, relation);
    return filter;
}

std::string pg_on_delete(const std::string& code) {
    if (code == "r")
        return "restrict";
    if (code == "c")
        return "cascade";
    if (code == "n")
        return "set null";
    if (code == "d")
        return "set default";
    return "no action";
}

schema_table inspect_pg_table(soci::session& sql, const std::string& name) {
    schema_table table;
    table.name = name;
    for (const auto& [column, type, not_null, identity, default_sql] :
         text_rows<5>(sql,
                      "select a.attname::text, format_type(a.atttypid, a.atttypmod), "
                      "case when a.attnotnull then '1' else '0' end, "
                      "case when a.attidentity <> '' then '1' else '0' end, "
                      "coalesce(pg_get_expr(d.adbin, d.adrelid), '') from pg_attribute a "
                      "left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum" +
                          pg_table_filter("a.attrelid") +
                          " and a.attnum > 0 and not a.attisdropped order by a.attnum",
                      &name))
        table.columns.push_back(
            {column, normalise_type(type), not_null == "0", identity == "1", default_sql});
    for (const auto& [constraint, kind, columns, referred_table, referred_columns, on_delete] :
         text_rows<6>(sql,
                      "select con.conname::text, con.contype::text, " +
                          pg_names("con.conkey", "con.conrelid") +
                          ", coalesce(rc.relname::text, ''), " +
                          pg_names("con.confkey", "con.confrelid") +
                          ", con.confdeltype::text from pg_constraint con "
                          "left join pg_class rc on rc.oid = con.confrelid" +
                          pg_table_filter("con.conrelid") +
                          " and con.contype in ('p', 'u', 'f') order by con.conname",
                      &name)) {
        if (kind == "p")
            table.primary_key = {constraint, split_names(columns)};
        else if (kind == "u")
            table.uniques.push_back({constraint, split_names(columns)});
        else
            table.foreign_keys.push_back({constraint, split_names(columns), referred_table,
                                          split_names(referred_columns), pg_on_delete(on_delete)});
    }
    // Indexes of their own, not those behind a key or unique constraint.
    for (const auto& [index, unique, columns, definition] :
         text_rows<4>(sql,
                      "select ic.relname::text, case when i.indisunique then '1' else '0' end, " +
                          pg_names("i.indkey::int2[]", "i.indrelid") +
                          ", pg_get_indexdef(i.indexrelid) from pg_index i "
                          "join pg_class ic on ic.oid = i.indexrelid" +
                          pg_table_filter("i.indrelid") +
                          " and not exists (select 1 from pg_constraint k where k.conindid = "
                          "i.indexrelid) order by ic.relname",
                      &name))
        table.indexes.push_back({index, split_names(columns), unique == "1", definition});
    return table;
}

std::vector<std::string> pg_table_names(soci::session& sql) {
    std::vector<std::string> names;
    for (const auto& [name] :
         text_rows<1>(sql,
                      "select c.relname::text from pg_class c join pg_namespace n on n.oid = "
                      "c.relnamespace where n.nspname = current_schema() and c.relkind in ('r', "
                      "'p') order by c.relname"))
        names.push_back(name);
    return names;
}

// --- SQLite ----------------------------------------------------------------------------

schema_table inspect_sqlite_table(soci::session& sql, const std::string& name) {
    schema_table table;
    table.name = name;
    std::map<int, std::string> key_columns;  // by position in the primary key
    for (const auto& [column, type, not_null, key_position, default_sql] :
         text_rows<5>(sql,
                      "select name, type, cast(\"notnull\" as text), cast(pk as text), "
                      "coalesce(dflt_value, '') from pragma_table_info(:a) order by cid",
                      &name)) {
        table.columns.push_back(
            {column, normalise_type(type), not_null == "0", false, default_sql});
        if (key_position != "0")
            key_columns[std::stoi(key_position)] = column;
    }
    for (const auto& [position, column] : key_columns)
        table.primary_key.columns.push_back(column);
    // A single-column integer key is the rowid: assigned by the database, never NULL.
    if (table.primary_key.columns.size() == 1) {
        for (auto& column : table.columns)
            if (column.name == table.primary_key.columns.front() && column.type == "integer") {
                column.identity = true;
                column.nullable = false;
            }
    }
    for (const auto& [index, unique, origin] :
         text_rows<3>(sql,
                      "select name, cast(\"unique\" as text), origin from pragma_index_list(:a) "
                      "order by name",
                      &name)) {
        std::vector<std::string> columns;
        for (const auto& [column] : text_rows<1>(
                 sql, "select coalesce(name, '') from pragma_index_info(:a) order by seqno",
                 &index))
            columns.push_back(column);
        if (origin == "u") {
            table.uniques.push_back({{}, columns});
        } else if (origin == "c") {
            const auto definition = text_rows<1>(
                sql,
                "select coalesce(sql, '') from sqlite_master where type = 'index' and name = :a",
                &index);
            table.indexes.push_back(
                {index, columns, unique == "1", definition.empty() ? "" : definition[0][0]});
        }
    }
    std::map<int, schema_foreign_key> keys;  // by id: one per constraint, columns by seq
    for (const auto& [id, referred_table, column, referred_column, on_delete] : text_rows<5>(
             sql,
             "select cast(id as text), \"table\", \"from\", coalesce(\"to\", ''), on_delete "
             "from pragma_foreign_key_list(:a) order by id, seq",
             &name)) {
        auto& key = keys[std::stoi(id)];
        key.table = referred_table;
        key.columns.push_back(column);
        key.referred_columns.push_back(referred_column);
        key.on_delete = lower(on_delete);
    }
    for (auto& [id, key] : keys)
        table.foreign_keys.push_back(std::move(key));
    return table;
}

std::vector<std::string> sqlite_table_names(soci::session& sql) {
    std::vector<std::string> names;
    for (const auto& [name] :
         text_rows<1>(sql,
                      "select name from sqlite_master where type = 'table' and name not like "
                      "'sqlite\\_%' escape '\\' order by name"))
        names.push_back(name);
    return names;
}

}  // namespace

std::vector<schema_table> inspect_schema(soci::session& sql, model_dialect dialect,
                                         std::string_view ignored) {
    const bool pg = dialect == model_dialect::postgresql;
    std::vector<schema_table> tables;
    for (const auto& name : pg ? pg_table_names(sql) : sqlite_table_names(sql)) {
        if (name == last_part(ignored))
            continue;
        tables.push_back(pg ? inspect_pg_table(sql, name) : inspect_sqlite_table(sql, name));
    }
    return tables;
}

}  // namespace asio_soci::detail
