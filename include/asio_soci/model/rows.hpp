// Rows of a declared model: SOCI converts them (soci::into(row), soci::use(row), rowsets
// of the struct), and the everyday statements take and give them. For use inside
// as_future, on the call's soci::session. Values always travel as binds; identifiers are
// quoted for the dialect.
#pragma once

#include <asio_soci/model/table.hpp>

#include <soci/soci.h>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace asio_soci::detail {

// The statements' text, for the database of `sql` (src/model/statements.cpp).
std::string model_select_sql(const table_definition& table, std::string_view condition);
std::string model_select_by_key_sql(const table_definition& table);
std::string model_count_sql(const table_definition& table, std::string_view condition);
/// The insert, and whether it answers the new key itself (RETURNING); otherwise the key
/// is read with model_last_key(). `ignore_conflicts`: a row that would violate a unique
/// or primary key constraint is not inserted, without an error (ON CONFLICT DO NOTHING).
std::string model_insert_sql(soci::session& sql, const table_definition& table,
                             bool ignore_conflicts, bool& returns_key);
long long model_last_key(soci::session& sql);
std::string model_update_sql(const table_definition& table);
std::string model_delete_sql(const table_definition& table);
/// Throws model_error unless `count` values were given for the table's primary key.
void model_check_key(const table_definition& table, std::size_t count);

// (prepare << text, into..., use...) with any number of binds.
template <class Prepared, class... Binds>
soci::statement model_statement(Prepared prepared, const Binds&... binds) {
    if constexpr (sizeof...(Binds) == 0)
        return prepared;
    else
        return (std::move(prepared), ..., soci::use(binds));
}

}  // namespace asio_soci::detail

namespace soci {

/// SOCI's conversion of a declared model: soci::into(row), soci::use(row), rowset<T>.
/// Columns are matched by name.
template <class T>
struct type_conversion<T, std::enable_if_t<asio_soci::declared_model<T>>> {
    using base_type = values;
    static void from_base(const values& v, indicator, T& row) {
        asio_soci::table_of<T>().read(v, row);
    }
    static void to_base(const T& row, values& v, indicator& ind) {
        asio_soci::table_of<T>().write(row, v);
        ind = i_ok;
    }
};

}  // namespace soci

namespace asio_soci {

/// The row whose primary key is `key...` (one value per key column, in order), or none.
template <declared_model T, class... Key>
std::optional<T> get_by_key(soci::session& sql, const Key&... key) {
    const auto& table = table_of<T>().definition();
    detail::model_check_key(table, sizeof...(Key));
    T row{};
    auto st = detail::model_statement(
        (sql.prepare << detail::model_select_by_key_sql(table), soci::into(row)), key...);
    if (!st.execute(true))
        return std::nullopt;
    return row;
}

/// The rows matching `condition` (SQL after WHERE, with `:name` placeholders bound in
/// order to `binds...`; it may end with ORDER BY...); every row when empty.
template <declared_model T, class... Binds>
std::vector<T> select_where(soci::session& sql, std::string_view condition = {},
                            const Binds&... binds) {
    std::vector<T> rows;
    T row{};
    auto st = detail::model_statement(
        (sql.prepare << detail::model_select_sql(table_of<T>().definition(), condition),
         soci::into(row)),
        binds...);
    st.execute();
    while (st.fetch())
        rows.push_back(row);
    return rows;
}

/// How many rows match `condition` (as select_where); all rows when empty.
template <declared_model T, class... Binds>
long long count_rows(soci::session& sql, std::string_view condition = {}, const Binds&... binds) {
    long long count = 0;
    auto st = detail::model_statement(
        (sql.prepare << detail::model_count_sql(table_of<T>().definition(), condition),
         soci::into(count)),
        binds...);
    st.execute(true);
    return count;
}

namespace detail {

// insert_row and try_insert_row: false when a conflict left the table as it was.
template <class T>
bool model_insert(soci::session& sql, T& row, bool ignore_conflicts) {
    const auto& model = table_of<T>();
    const bool has_identity = model.definition().identity() != nullptr;
    bool returns_key = false;
    const auto text = model_insert_sql(sql, model.definition(), ignore_conflicts, returns_key);
    const T& values = row;  // a const use: SOCI does not convert it back
    long long key = 0;
    if (returns_key) {
        soci::statement insert = (sql.prepare << text, soci::use(values), soci::into(key));
        if (!insert.execute(true))  // no key returned: nothing inserted
            return false;
    } else {
        soci::statement insert = (sql.prepare << text, soci::use(values));
        insert.execute(true);
        if (insert.get_affected_rows() == 0)
            return false;
        if (has_identity)
            key = model_last_key(sql);
    }
    if (has_identity)
        model.set_identity(row, key);
    return true;
}

}  // namespace detail

/// Inserts `row`; a database-assigned key (the identity column) is written into it.
template <declared_model T>
void insert_row(soci::session& sql, T& row) {
    detail::model_insert(sql, row, false);
}

/// Inserts `row` unless that would violate a unique or primary key constraint (ON
/// CONFLICT DO NOTHING, which leaves a PostgreSQL transaction usable); true when it was
/// inserted, its database-assigned key then written into it.
template <declared_model T>
bool try_insert_row(soci::session& sql, T& row) {
    return detail::model_insert(sql, row, true);
}

/// Updates the row with `row`'s primary key to `row`'s values; returns the rows changed
/// (0: no such row).
template <declared_model T>
long long update_row(soci::session& sql, const T& row) {
    const auto& table = table_of<T>().definition();
    detail::model_check_key(table, table.primary_key.size());
    soci::statement st = (sql.prepare << detail::model_update_sql(table), soci::use(row));
    st.execute(true);
    return st.get_affected_rows();
}

/// Deletes the row whose primary key is `key...`; returns the rows deleted (0 or 1).
template <declared_model T, class... Key>
long long delete_by_key(soci::session& sql, const Key&... key) {
    const auto& table = table_of<T>().definition();
    detail::model_check_key(table, sizeof...(Key));
    auto st = detail::model_statement(sql.prepare << detail::model_delete_sql(table), key...);
    st.execute(true);
    return st.get_affected_rows();
}

}  // namespace asio_soci
