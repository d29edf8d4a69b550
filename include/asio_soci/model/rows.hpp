// Rows of a declared model: SOCI converts them (soci::into(row), soci::use(row), rowsets
// of the struct), and the everyday statements take and give them. For use inside
// as_future, on the call's soci::session. Values always travel as binds; identifiers are
// quoted for the dialect.
#pragma once

#include <asio_soci/connection_state.hpp>
#include <asio_soci/model/table.hpp>

#include <soci/soci.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
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
std::string model_update_sql(soci::session& sql, const table_definition& table);
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

// The same, bound to the elements of `binds`.
template <class Prepared, class... Binds>
soci::statement model_statement(Prepared prepared, const std::tuple<Binds...>& binds) {
    return std::apply([&](const auto&... b) { return model_statement(std::move(prepared), b...); },
                      binds);
}

/// A bind's type as a kept statement holds it: text of any kind as std::string.
template <class B>
using model_bind_t =
    std::conditional_t<std::is_convertible_v<const B&, std::string_view>, std::string, B>;

/// A statement with the variables it is bound to: kept with the pooled connection
/// (connection_state) inside as_future, so that it is prepared once per connection (on
/// PostgreSQL, parsed and planned once); made for the one call on a soci::session of the
/// caller's own.
template <class Statement>
class model_prepared {
public:
    explicit model_prepared(soci::session& sql)
        : statement_(keeps_connection_state(sql) ? &connection_state<Statement>(sql)
                                                 : &local_.emplace(sql)) {}
    model_prepared(const model_prepared&) = delete;
    model_prepared& operator=(const model_prepared&) = delete;

    Statement* operator->() const noexcept { return statement_; }

private:
    std::optional<Statement> local_;
    Statement* statement_;
};

/// Statements whose SQL varies with a condition (select_where, count_rows), kept per
/// connection by their SQL: at most `capacity` of one kind, the oldest text dropped first.
template <class Entry>
struct model_statement_cache {
    static constexpr std::size_t capacity = 16;
    explicit model_statement_cache(soci::session&) {}
    std::vector<std::pair<std::string, std::unique_ptr<Entry>>> entries;  // oldest first
};

/// The statement of `text`: kept with the pooled connection inside as_future, made for
/// the call in `local` on a soci::session of the caller's own.
template <class Entry>
Entry& model_cached(soci::session& sql, const std::string& text, std::optional<Entry>& local) {
    if (!keeps_connection_state(sql))
        return local.emplace(sql, text);
    auto& entries = connection_state<model_statement_cache<Entry>>(sql).entries;
    for (auto& [kept_text, entry] : entries)
        if (kept_text == text)
            return *entry;
    auto made = std::make_unique<Entry>(sql, text);
    if (entries.size() == model_statement_cache<Entry>::capacity)
        entries.erase(entries.begin());
    entries.emplace_back(text, std::move(made));
    return *entries.back().second;
}

template <class Result, class... Binds>
struct model_query_entry {
    model_query_entry(soci::session& sql, const std::string& text)
        : statement(model_statement((sql.prepare << text, soci::into(result)), binds)) {}
    Result result{};
    std::tuple<Binds...> binds{};
    soci::statement statement;
};

// The typed statements, each bound to its members once.
template <class T, class... Key>
struct model_get_statement {
    explicit model_get_statement(soci::session& sql)
        : statement(model_statement(
              (sql.prepare << model_select_by_key_sql(table_of<T>().definition()), soci::into(row)),
              key)) {}
    T row{};
    std::tuple<Key...> key{};
    soci::statement statement;
};

template <class T, bool IgnoreConflicts>
struct model_insert_statement {
    explicit model_insert_statement(soci::session& sql)
        : text(model_insert_sql(sql, table_of<T>().definition(), IgnoreConflicts, returns_key)),
          statement(returns_key ? soci::statement((sql.prepare << text, soci::use(values_view),
                                                   soci::into(key)))
                                : soci::statement((sql.prepare << text, soci::use(values_view)))) {}
    bool returns_key = false;  // set by text's initialiser
    std::string text;
    T values{};
    const T& values_view = values;  // a const use: SOCI does not convert it back
    long long key = 0;
    soci::statement statement;
};

template <class T>
struct model_update_statement {
    explicit model_update_statement(soci::session& sql)
        : statement((sql.prepare << model_update_sql(sql, table_of<T>().definition()),
                     soci::use(values_view))) {}
    T values{};
    const T& values_view = values;
    soci::statement statement;
};

template <class T, class... Key>
struct model_delete_statement {
    explicit model_delete_statement(soci::session& sql)
        : statement(
              model_statement(sql.prepare << model_delete_sql(table_of<T>().definition()), key)) {}
    std::tuple<Key...> key{};
    soci::statement statement;
};

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
    detail::model_check_key(table_of<T>().definition(), sizeof...(Key));
    detail::model_prepared<detail::model_get_statement<T, detail::model_bind_t<Key>...>> get{sql};
    get->key = std::tuple<detail::model_bind_t<Key>...>(key...);
    get->row = T{};
    if (!get->statement.execute(true))
        return std::nullopt;
    std::optional<T> found{std::move(get->row)};
    // To the end: on SQLite, a kept select with a row left unread holds its snapshot.
    while (get->statement.fetch()) {
    }
    return found;
}

/// The rows matching `condition` (SQL after WHERE, with `:name` placeholders bound in
/// order to `binds...`; it may end with ORDER BY...); every row when empty.
template <declared_model T, class... Binds>
std::vector<T> select_where(soci::session& sql, std::string_view condition = {},
                            const Binds&... binds) {
    using entry = detail::model_query_entry<T, detail::model_bind_t<Binds>...>;
    std::optional<entry> local;
    auto& select = detail::model_cached(
        sql, detail::model_select_sql(table_of<T>().definition(), condition), local);
    select.binds = std::tuple<detail::model_bind_t<Binds>...>(binds...);
    std::vector<T> rows;
    select.result = T{};
    select.statement.execute();
    while (select.statement.fetch())  // to the end: SQLite then resets the statement
        rows.push_back(select.result);
    return rows;
}

/// How many rows match `condition` (as select_where); all rows when empty.
template <declared_model T, class... Binds>
long long count_rows(soci::session& sql, std::string_view condition = {}, const Binds&... binds) {
    using entry = detail::model_query_entry<long long, detail::model_bind_t<Binds>...>;
    std::optional<entry> local;
    auto& count = detail::model_cached(
        sql, detail::model_count_sql(table_of<T>().definition(), condition), local);
    count.binds = std::tuple<detail::model_bind_t<Binds>...>(binds...);
    count.statement.execute(true);
    while (count.statement.fetch()) {
    }
    return count.result;
}

namespace detail {

// insert_row and try_insert_row: false when a conflict left the table as it was.
template <bool IgnoreConflicts, class T>
bool model_insert(soci::session& sql, T& row) {
    const auto& model = table_of<T>();
    const bool has_identity = model.definition().identity() != nullptr;
    model_prepared<model_insert_statement<T, IgnoreConflicts>> insert{sql};
    insert->values = row;
    long long key = 0;
    if (insert->returns_key) {
        if (!insert->statement.execute(true))  // no key returned: nothing inserted
            return false;
        key = insert->key;
    } else {
        insert->statement.execute(true);
        if (insert->statement.get_affected_rows() == 0)
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
    detail::model_insert<false>(sql, row);
}

/// Inserts `row` unless that would violate a unique or primary key constraint (ON
/// CONFLICT DO NOTHING, which leaves a PostgreSQL transaction usable); true when it was
/// inserted, its database-assigned key then written into it.
template <declared_model T>
bool try_insert_row(soci::session& sql, T& row) {
    return detail::model_insert<true>(sql, row);
}

/// Updates the row with `row`'s primary key to `row`'s values; returns the rows changed
/// (0: no such row).
template <declared_model T>
long long update_row(soci::session& sql, const T& row) {
    detail::model_check_key(table_of<T>().definition(),
                            table_of<T>().definition().primary_key.size());
    detail::model_prepared<detail::model_update_statement<T>> update{sql};
    update->values = row;
    update->statement.execute(true);
    return update->statement.get_affected_rows();
}

/// Deletes the row whose primary key is `key...`; returns the rows deleted (0 or 1).
template <declared_model T, class... Key>
long long delete_by_key(soci::session& sql, const Key&... key) {
    detail::model_check_key(table_of<T>().definition(), sizeof...(Key));
    detail::model_prepared<detail::model_delete_statement<T, detail::model_bind_t<Key>...>> remove{
        sql};
    remove->key = std::tuple<detail::model_bind_t<Key>...>(key...);
    remove->statement.execute(true);
    return remove->statement.get_affected_rows();
}

}  // namespace asio_soci
